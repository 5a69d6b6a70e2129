"""Request and response bodies of the gateway's HTTP API (they make its OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agents.gateway.inference import MAX_PIXEL, PIXELS
from agents.learning.skills.language import VOCAB

MAX_NEW_TOKENS = 256
MAX_PROMPT_CHARS = 2_000

GenerationSelector = Annotated[
    Literal["best", "latest"] | Annotated[int, Field(ge=0, le=2**32 - 1)],
    Field(
        description='"best" (by the skill\'s metric), "latest", or a generation number',
        examples=["best", "latest", 1],
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassifyRequest(Strict):
    pixels: list[Annotated[float, Field(ge=0, le=MAX_PIXEL, allow_inf_nan=False)]] = Field(
        min_length=PIXELS,
        max_length=PIXELS,
        description="64 pixel intensities 0..16 of an 8x8 digit, row by row",
    )
    generation: GenerationSelector = "best"


class CompleteRequest(Strict):
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="text to continue")
    max_new_tokens: int = Field(default=64, ge=1, le=MAX_NEW_TOKENS)
    temperature: float = Field(default=0.0, ge=0.0, le=5.0, description="0: greedy", allow_inf_nan=False)
    seed: int = Field(default=0, ge=0, le=2**63 - 1, description="sampling seed (same seed, same text)")
    generation: GenerationSelector = "best"

    @field_validator("prompt")
    @classmethod
    def in_vocabulary(cls, prompt: str) -> str:
        unknown = sorted(set(prompt) - set(VOCAB))
        if unknown:
            raise ValueError(f"characters outside the model's vocabulary: {unknown}")
        return prompt


class Served(BaseModel):
    job: int
    generation: int
    cid: str
    weights_hash: str
    price: str = Field(description="wei charged for this request (decimal)")
    cumulative_amount: str = Field(description="total wei authorized to this gateway so far (decimal)")


class ClassifyResponse(Served):
    label: int
    probabilities: list[float]


class CompleteResponse(Served):
    completion: str


class GenerationInfo(BaseModel):
    number: int
    round: int
    cid: str
    weights_hash: str
    metrics: dict[str, float]
    refused: str | None = None


class JobInfo(BaseModel):
    job: int
    skill: str
    route: str
    metric: str
    higher_is_better: bool
    price: str
    best: int | None
    latest: int | None
    generations: list[GenerationInfo]


class GatewayInfo(BaseModel):
    gateway: str = Field(description="the gateway's address: vouchers name it")
    chain_id: int
    billing: str = Field(description="the Billing contract: the EIP-712 verifying contract")
    domain_name: str
    domain_version: str
    max_body_bytes: int
    max_ttl: int


class AccountInfo(BaseModel):
    user: str
    held: str = Field(description="largest voucher total this gateway holds for the user (decimal wei)")


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    block: int | None
    cursor: int
    jobs: int
    unsettled_vouchers: int
    error: str | None = None


class Problem(BaseModel):
    detail: str
