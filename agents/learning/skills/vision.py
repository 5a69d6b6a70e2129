"""Vision skill: an MLP on scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes)."""

from __future__ import annotations

import gzip
import importlib.util
import itertools
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
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


def digits_file() -> Path:
    """scikit-learn's bundled ``digits.csv.gz`` (64 pixel columns, then the label), found without importing
    scikit-learn: its import costs every agent process about a second."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("scikit-learn, which ships the digits data, is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"


@cache
def load_data() -> Splits:
    """Pixels scaled to [0, 1]; fixed 70/10/20 train/validation/test split."""
    with gzip.open(digits_file(), "rt") as file:
        table = np.loadtxt(file, delimiter=",", dtype=np.float64)
    inputs = torch.tensor(table[:, :-1], dtype=torch.float32) / 16.0
    labels = torch.tensor(table[:, -1].astype(np.int64), dtype=torch.long)
    return fixed_split(Dataset(inputs, labels, labels), validation=0.1, test=0.2, seed=SPLIT_SEED)


def loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(inputs), targets)


def batched_loss(
    params: Mapping[str, torch.Tensor], inputs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """:func:`loss` of R models at once: ``params`` are :func:`build_model`'s weights stacked on a first
    axis of R, ``inputs`` (R, batch, 64) and ``targets`` (R, batch) their batches; returns the R losses.
    Batched matrix products, about twice as fast as ``torch.func.vmap`` over the model."""
    layers = sorted({int(name.split(".")[0]) for name in params})
    hidden = inputs
    for i, layer in enumerate(layers):
        weight, bias = params[f"{layer}.weight"], params[f"{layer}.bias"]
        hidden = torch.baddbmm(bias.unsqueeze(1), hidden, weight.transpose(1, 2))
        if i < len(layers) - 1:
            hidden = torch.relu(hidden)
    per_example = F.cross_entropy(hidden.flatten(0, 1), targets.flatten(), reduction="none")
    return per_example.view(targets.shape).mean(1)


@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset) -> dict[str, float]:
    """Mean cross-entropy ``loss`` and ``accuracy``."""
    logits = model(data.inputs)
    return {
        "loss": float(F.cross_entropy(logits, data.targets)),
        "accuracy": float((logits.argmax(dim=1) == data.targets).float().mean()),
    }
