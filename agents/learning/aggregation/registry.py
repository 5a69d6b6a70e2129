"""Aggregation rules by the small integer id the chain stores, with their default parameters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from agents.learning.aggregation import rules
from agents.learning.errors import AggregationInputError


@dataclass(frozen=True)
class RuleSpec:
    """A rule, its default parameters, and whether it takes per-update sample weights."""

    name: str
    fn: Callable[..., torch.Tensor]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    weighted: bool = False


RULES: dict[int, RuleSpec] = {
    0: RuleSpec("fedavg", rules.fedavg, weighted=True),
    1: RuleSpec("median", rules.coordinate_median),
    2: RuleSpec("trimmed_mean", rules.trimmed_mean, {"f": 1}),
    3: RuleSpec("krum", rules.krum, {"f": 1}),
    4: RuleSpec("multi_krum", rules.multi_krum, {"f": 1, "m": 2}, weighted=True),
    5: RuleSpec(
        "geometric_median", rules.geometric_median, {"max_iter": 100, "eps": 1e-8, "tol": 1e-7}, weighted=True
    ),
    6: RuleSpec("centered_clipping", rules.centered_clipping, {"tau": 1.0, "iterations": 1}),
}


def rule_id(name: str) -> int:
    """The id of a rule by name."""
    for rid, spec in RULES.items():
        if spec.name == name:
            return rid
    raise AggregationInputError(f"unknown aggregation rule {name!r}")


def aggregate(
    rid: int, updates: torch.Tensor, weights: torch.Tensor | None = None, **params: Any
) -> torch.Tensor:
    """Run rule ``rid`` with its defaults overridden by ``params``; unweighted rules ignore ``weights``."""
    if rid not in RULES:
        raise AggregationInputError(f"unknown aggregation rule id {rid}; known: {sorted(RULES)}")
    spec = RULES[rid]
    unknown = set(params) - set(spec.defaults) - ({"center"} if spec.name == "centered_clipping" else set())
    if unknown:
        raise AggregationInputError(f"rule {spec.name} takes no parameters {sorted(unknown)}")
    kwargs = {**spec.defaults, **params}
    return spec.fn(updates, weights=weights, **kwargs) if spec.weighted else spec.fn(updates, **kwargs)
