"""Vision skill: an MLP on scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from functools import cache
from typing import Any

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

from agents.learning.dataset import Dataset, Splits, fixed_split

SPLIT_SEED = 20_170_101
DEFAULT_CONFIG: dict[str, Any] = {"hidden": [128, 64]}


def build_model(config: Mapping[str, Any]) -> nn.Module:
    """MLP 64 -> hidden... -> 10 with ReLU."""
    widths = [64, *config["hidden"]]
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(widths[-1], 10))
    return nn.Sequential(*layers)


@cache
def load_data() -> Splits:
    """Pixels scaled to [0, 1]; fixed 70/10/20 train/validation/test split."""
    digits = load_digits()
    inputs = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.long)
    return fixed_split(Dataset(inputs, labels, labels), validation=0.1, test=0.2, seed=SPLIT_SEED)


def loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(inputs), targets)


@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset) -> dict[str, float]:
    """Mean cross-entropy ``loss`` and ``accuracy``."""
    logits = model(data.inputs)
    return {
        "loss": float(F.cross_entropy(logits, data.targets)),
        "accuracy": float((logits.argmax(dim=1) == data.targets).float().mean()),
    }
