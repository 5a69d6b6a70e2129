"""The gateway's HTTP API (FastAPI): inference routes paid per request, catalogue, health and metrics.

Every inference request is authenticated by the X-AOAI-* headers of `agents.billing.request_auth` (an
EIP-712 signature over the raw body, a nonce, an expiry, the job, and the cumulative voucher). Refusals
are JSON `{"detail": reason}` with 400 (undecodable body), 401 (authentication), 402 (price or credit),
404, 409 (weights fail the hash check), 413 (body size), 422 (input), 429 (rate), 502/503 (weights
unavailable).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Path, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agents.gateway import inference, schemas
from agents.gateway.catalog import HIGHER_IS_BETTER, Job, UnknownJob
from agents.gateway.limits import BodySizeLimit
from agents.gateway.service import Gateway, RequestRefused, Served
from agents.gateway.telemetry import Telemetry

ROUTES = {"vision": "classify", "language": "complete"}
JOB_PATH = Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="job id, or the skill name if one job runs it")
REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"model": schemas.Problem, "description": description}
    for status, description in {
        400: "the body is not decodable JSON",
        401: "not authenticated: bad or expired signature, replayed nonce, wrong job",
        402: "the voucher does not cover the price, or the credit does not cover the voucher",
        404: "unknown job or generation, or a route the job's skill does not offer",
        409: "the generation's weights fail the hash check and are never served",
        413: "body too large",
        429: "rate limit of the address exceeded",
        502: "weights not retrievable from IPFS right now",
        503: "no generation of the job can be served",
    }.items()
}


SIGNED_HEADERS: list[dict[str, Any]] = [
    {"name": name, "in": "header", "required": False, "schema": {"type": "string"}, "description": what}
    for name, what in (
        ("X-AOAI-User", "the caller's address"),
        ("X-AOAI-Nonce", "decimal uint256, never reused"),
        ("X-AOAI-Expiry", "unix seconds"),
        ("X-AOAI-Body-Hash", "0x keccak-256 of the body"),
        ("X-AOAI-Job", "0x 32-byte job id (uint256)"),
        ("X-AOAI-Amount", "cumulative wei authorized"),
        ("X-AOAI-Signature", "EIP-712 Request signature"),
        ("X-AOAI-Voucher-Signature", "EIP-712 Voucher signature for the amount"),
    )
]
"""The authentication headers, documented in the OpenAPI document only: `RequestVerifier` reads and checks
them (401 when wrong or missing); as FastAPI header parameters they would cost ~0.2 ms per request."""


def create_app(gateway: Gateway, *, manage_lifecycle: bool = True) -> FastAPI:
    """The API of `gateway`. With `manage_lifecycle` the app starts the gateway (chain polling, settlement)
    at startup and closes it (settling what is left) at shutdown."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            await anyio.to_thread.run_sync(gateway.start)
        try:
            yield
        finally:
            if manage_lifecycle:
                await anyio.to_thread.run_sync(gateway.close)

    app = FastAPI(
        title="ActuallyOpenAI gateway",
        version="1",
        description=__doc__,
        lifespan=lifespan,
        responses={413: REFUSALS[413]},
    )
    app.add_middleware(BodySizeLimit, max_bytes=gateway.settings.max_body_bytes)
    app.add_middleware(Metrics, telemetry=gateway.telemetry)

    @app.exception_handler(RequestRefused)
    async def refused(_: Request, error: RequestRefused) -> JSONResponse:
        return JSONResponse({"detail": error.reason}, error.status, headers=error.headers)

    @app.exception_handler(UnknownJob)
    async def unknown_job(_: Request, error: UnknownJob) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, 404)

    def job_for(key: str, skill: str) -> Job:
        job = gateway.catalog.job(key)
        if job.skill.name != skill:
            route = ROUTES.get(job.skill.name, "")
            raise RequestRefused(
                404, f"job {job.job_id} runs {job.skill.name}: POST /v1/jobs/{job.job_id}/{route}"
            )
        return job

    async def serve(request: Request, job: Job, selector: Any, infer: Callable[[Any], Any]) -> Served:
        body = await request.body()
        call = partial(gateway.serve, job, selector, request.headers, body, infer)
        return await anyio.to_thread.run_sync(call)

    def served_fields(served: Served) -> dict[str, Any]:
        return {
            "job": served.job.job_id,
            "generation": served.generation.number,
            "cid": served.generation.cid,
            "weights_hash": "0x" + served.generation.weights_hash.hex(),
            "price": str(served.price),
            "cumulative_amount": str(served.cumulative_amount),
        }

    @app.post(
        "/v1/jobs/{job}/classify",
        response_model=schemas.ClassifyResponse,
        responses=REFUSALS,
        openapi_extra={"parameters": SIGNED_HEADERS},
        summary="Classify an 8x8 digit with a vision job's model",
    )
    async def classify(request: Request, body: schemas.ClassifyRequest, job: str = JOB_PATH) -> Any:
        served = await serve(
            request, job_for(job, "vision"), body.generation, partial(inference.classify, pixels=body.pixels)
        )
        result: inference.Classification = served.result
        return {**served_fields(served), "label": result.label, "probabilities": result.probabilities}

    @app.post(
        "/v1/jobs/{job}/complete",
        response_model=schemas.CompleteResponse,
        responses=REFUSALS,
        openapi_extra={"parameters": SIGNED_HEADERS},
        summary="Continue a text with a language job's model",
    )
    async def complete(request: Request, body: schemas.CompleteRequest, job: str = JOB_PATH) -> Any:
        infer = partial(
            inference.complete,
            prompt=body.prompt,
            max_new_tokens=body.max_new_tokens,
            temperature=body.temperature,
            seed=body.seed,
        )
        served = await serve(request, job_for(job, "language"), body.generation, infer)
        return {**served_fields(served), "completion": served.result}

    @app.get("/v1/jobs", response_model=list[schemas.JobInfo], summary="Jobs served, with their generations")
    async def jobs() -> Any:
        return [job_info(gateway, job) for job in gateway.catalog.jobs()]

    @app.get(
        "/v1/jobs/{job}", response_model=schemas.JobInfo, responses={404: REFUSALS[404]}, summary="One job"
    )
    async def job(job: str = JOB_PATH) -> Any:
        return job_info(gateway, gateway.catalog.job(job))

    @app.get("/v1/gateway", response_model=schemas.GatewayInfo, summary="What vouchers must name")
    async def gateway_info() -> Any:
        return {
            "gateway": gateway.address,
            "chain_id": gateway.domain.chain_id,
            "billing": gateway.domain.verifying_contract,
            "domain_name": gateway.domain.name,
            "domain_version": gateway.domain.version,
            "max_body_bytes": gateway.settings.max_body_bytes,
            "max_ttl": gateway.settings.max_ttl,
        }

    @app.get(
        "/v1/accounts/{address}",
        response_model=schemas.AccountInfo,
        summary="The voucher total this gateway holds for an address",
    )
    async def account(address: str = Path(pattern=r"^0x[0-9a-fA-F]{40}$")) -> Any:
        from eth_utils import to_checksum_address

        user = to_checksum_address(address)
        held = await anyio.to_thread.run_sync(gateway.accounts.held, user)
        return {"user": user, "held": str(held)}

    @app.get("/health", response_model=schemas.Health, summary="Liveness and chain cursor")
    async def health() -> Any:
        try:
            block: int | None = await anyio.to_thread.run_sync(gateway.reader.head)
            error = gateway.last_poll_error
        except Exception as exc:
            block, error = None, f"chain unreachable: {exc}"
        return {
            "status": "ok" if error is None else "degraded",
            "block": block,
            "cursor": gateway.catalog.next_block,
            "jobs": len(gateway.catalog.jobs()),
            "unsettled_vouchers": len(gateway.queue.journal.unsettled()),
            "error": error,
        }

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
        summary="Prometheus metrics",
    )
    async def metrics() -> Response:
        return Response(generate_latest(gateway.telemetry.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def job_info(gateway: Gateway, job: Job) -> dict[str, Any]:
    best = job.ranked("best")
    latest = job.ranked("latest")
    return {
        "job": job.job_id,
        "skill": job.skill.name,
        "route": f"/v1/jobs/{job.job_id}/{ROUTES.get(job.skill.name, '')}",
        "metric": job.skill.metric,
        "higher_is_better": HIGHER_IS_BETTER.get(job.skill.metric, False),
        "price": str(gateway.settings.price(job.job_id)),
        "best": best[0].number if best else None,
        "latest": latest[0].number if latest else None,
        "generations": [
            {
                "number": g.number,
                "round": g.round_id,
                "cid": g.cid,
                "weights_hash": "0x" + g.weights_hash.hex(),
                "metrics": g.metrics,
                "refused": g.refused,
            }
            for g in sorted(job.generations.values(), key=lambda g: g.number)
        ],
    }


class Metrics:
    """Counts requests by route template and status, and times them (pure ASGI: no per-request task)."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", "unmatched")
            self.telemetry.requests.labels(route=name, status=str(status)).inc()
            self.telemetry.latency.labels(route=name).observe(time.perf_counter() - started)
