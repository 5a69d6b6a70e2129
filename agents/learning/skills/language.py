"""Language skill: a tiny character-level transformer (nanoGPT-like) on Milton's *Paradise Lost*.

The text (public domain, see agents/data/README.md) is cut into non-overlapping windows of
``WINDOW + 1`` characters; each window is labelled with the book it starts in, which is the label
non-IID shards are drawn over.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from agents.learning.dataset import Dataset, Splits, fixed_split

TEXT_PATH = Path(__file__).resolve().parents[2] / "data" / "paradise_lost.txt"
VOCAB = "\n !&'(),-.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
WINDOW = 64
SPLIT_SEED = 16_670_820
DEFAULT_CONFIG: dict[str, Any] = {
    "vocab_size": len(VOCAB),
    "block_size": WINDOW,
    "n_layer": 2,
    "n_head": 4,
    "n_embd": 64,
}


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(c // self.n_head)
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head)
        self.ln2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class CharTransformer(nn.Module):
    """Token + position embeddings, pre-LayerNorm blocks, a final LayerNorm and a linear head."""

    def __init__(self, vocab_size: int, block_size: int, n_layer: int, n_head: int, n_embd: int) -> None:
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd {n_embd} is not a multiple of n_head {n_head}")
        self.tok = nn.Embedding(vocab_size, n_embd)
        self.pos = nn.Embedding(block_size, n_embd)
        self.blocks = nn.Sequential(*(Block(n_embd, n_head) for _ in range(n_layer)))
        self.ln = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        return self.head(self.ln(self.blocks(self.tok(tokens) + self.pos(positions))))


def build_model(config: Mapping[str, Any]) -> nn.Module:
    return CharTransformer(**{key: int(config[key]) for key in DEFAULT_CONFIG})


def encode_text(text: str) -> torch.Tensor:
    """Token ids of ``text``; refuses characters outside :data:`VOCAB`."""
    unknown = set(text) - set(VOCAB)
    if unknown:
        raise ValueError(f"characters outside the vocabulary: {sorted(unknown)}")
    lookup = {ch: i for i, ch in enumerate(VOCAB)}
    return torch.tensor([lookup[ch] for ch in text], dtype=torch.long)


@cache
def load_data() -> Splits:
    """Windows of the text, fixed 80/10/10 train/validation/test split."""
    text = TEXT_PATH.read_text(encoding="ascii")
    tokens = encode_text(text)
    starts = torch.arange(0, len(tokens) - WINDOW - 1, WINDOW + 1)
    windows = tokens[starts[:, None] + torch.arange(WINDOW + 1)]
    book_starts = torch.tensor([m.start() for m in re.finditer(r"^BOOK [IVX]+", text, flags=re.MULTILINE)])
    books = torch.searchsorted(book_starts, starts, right=True)
    return fixed_split(
        Dataset(windows[:, :-1], windows[:, 1:], books), validation=0.1, test=0.1, seed=SPLIT_SEED
    )


def loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = model(inputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset) -> dict[str, float]:
    """Mean per-character cross-entropy ``loss`` (nats) and ``perplexity``."""
    value = float(loss(model, data.inputs, data.targets))
    return {"loss": value, "perplexity": math.exp(value)}
