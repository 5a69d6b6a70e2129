"""Inference for each skill, as plain functions over a loaded torch module.

Vision classifies one 8x8 digit given as 64 pixel intensities 0..16 (the scale of scikit-learn's digits;
the model was trained on pixels / 16). Language completes a prompt character by character: greedy when
`temperature` is 0, else sampled from a `torch.Generator` seeded by the caller, so the same request gives
the same completion.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from agents.learning.skills import language

PIXELS = 64
MAX_PIXEL = 16


@dataclass(frozen=True)
class Classification:
    label: int
    probabilities: list[float]


@torch.inference_mode()
def classify(model: nn.Module, pixels: list[float]) -> Classification:
    inputs = torch.tensor(pixels, dtype=torch.float32).reshape(1, PIXELS) / MAX_PIXEL
    probabilities = model(inputs).softmax(dim=1)[0]
    return Classification(int(probabilities.argmax()), [round(p, 6) for p in probabilities.tolist()])


@torch.inference_mode()
def complete(
    model: nn.Module, prompt: str, max_new_tokens: int, temperature: float = 0.0, seed: int = 0
) -> str:
    """`max_new_tokens` characters following `prompt` (which must use `language.VOCAB` only)."""
    block_size = int(model.pos.num_embeddings)  # type: ignore[union-attr, arg-type]
    tokens = language.encode_text(prompt).reshape(1, -1)
    generator = torch.Generator().manual_seed(seed)
    out: list[int] = []
    for _ in range(max_new_tokens):
        logits = model(tokens[:, -block_size:])[0, -1]
        if temperature == 0:
            token = int(logits.argmax())
        else:
            token = int(torch.multinomial((logits / temperature).softmax(-1), 1, generator=generator))
        out.append(token)
        tokens = torch.cat([tokens, torch.tensor([[token]])], dim=1)
    return "".join(language.VOCAB[t] for t in out)
