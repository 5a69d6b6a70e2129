"""Aggregation of federated updates: robust rules, server optimizers and the rule-id registry."""

from agents.learning.aggregation.registry import RULES, RuleSpec, aggregate, rule_id
from agents.learning.aggregation.rules import (
    centered_clipping,
    coordinate_median,
    fedavg,
    geometric_median,
    krum,
    krum_scores,
    multi_krum,
    trimmed_mean,
)
from agents.learning.aggregation.server import SERVER_KINDS, ServerOptimizer, ServerState
from agents.learning.aggregation.validation import stack_updates

__all__ = [
    "RULES",
    "SERVER_KINDS",
    "RuleSpec",
    "ServerOptimizer",
    "ServerState",
    "aggregate",
    "centered_clipping",
    "coordinate_median",
    "fedavg",
    "geometric_median",
    "krum",
    "krum_scores",
    "multi_krum",
    "rule_id",
    "stack_updates",
    "trimmed_mean",
]
