"""Input checks shared by the aggregation rules; every failure is an :class:`AggregationInputError`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from agents.learning.errors import AggregationInputError


def stack_updates(updates: Sequence[torch.Tensor]) -> torch.Tensor:
    """Stack flat float32 update vectors into one ``n x d`` tensor, refusing empty or mismatched input."""
    if not updates:
        raise AggregationInputError("no updates to aggregate")
    shapes = {tuple(u.shape) for u in updates}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise AggregationInputError(
            f"updates must be flat vectors of one length, got shapes {sorted(shapes)}"
        )
    return torch.stack([u.to(torch.float32) for u in updates])


def check_updates(updates: torch.Tensor, min_n: int = 1, why: str = "") -> tuple[int, int]:
    """``(n, d)`` of a stacked update tensor: 2-D, float32, at least ``min_n`` rows, at least one column."""
    if not isinstance(updates, torch.Tensor) or updates.dim() != 2:
        raise AggregationInputError("updates must be one n x d tensor")
    if updates.dtype != torch.float32:
        raise AggregationInputError(f"updates must be float32, got {updates.dtype}")
    n, d = updates.shape
    if n == 0 or d == 0:
        raise AggregationInputError(f"empty updates: shape {(n, d)}")
    if n < min_n:
        raise AggregationInputError(f"{n} updates are too few: {why or f'need at least {min_n}'}")
    return n, d


def check_weights(weights: torch.Tensor | None, n: int) -> torch.Tensor:
    """Normalised float64 weights (uniform when None); refuses wrong length, negative, NaN or all zero."""
    if weights is None:
        return torch.full((n,), 1.0 / n, dtype=torch.float64)
    w = torch.as_tensor(weights, dtype=torch.float64)
    if w.shape != (n,):
        raise AggregationInputError(f"{tuple(w.shape)} weights for {n} updates")
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or not float(w.sum()) > 0:
        raise AggregationInputError("weights must be finite, non-negative and not all zero")
    return w / w.sum()


def check_finite(
    value: torch.Tensor, what: str = "updates contain NaN or infinity (or overflow)"
) -> torch.Tensor:
    """``value`` if it holds no NaN or infinity.

    Either survives a plain sum (one fast pass); only a non-finite sum, which may also be an overflow of
    finite values, pays for the element-wise check.
    """
    if math.isfinite(float(value.sum())) or bool(torch.isfinite(value).all()):
        return value
    raise AggregationInputError(what)
