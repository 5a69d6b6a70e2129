"""Local-training hyper-parameters, hashed canonically for the chain."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from agents.learning.errors import LearningError
from agents.learning.hashing import config_hash


@dataclass(frozen=True)
class HyperParams:
    """What a trainer runs: ``local_steps`` optimizer steps on batches of ``batch_size`` drawn from its shard.

    ``optimizer`` is ``"sgd"`` (with ``momentum``) or ``"adam"``; ``mu`` > 0 adds the FedProx proximal
    term ``mu/2 ||w - w_global||^2`` (Li et al. 2020, "Federated Optimization in Heterogeneous
    Networks"); a checkpoint is traced every ``checkpoint_every`` steps.
    """

    local_steps: int
    batch_size: int
    lr: float
    optimizer: Literal["sgd", "adam"] = "sgd"
    momentum: float = 0.0
    mu: float = 0.0
    checkpoint_every: int = 10

    def __post_init__(self) -> None:
        if self.local_steps < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise LearningError(f"steps, batch size and checkpoint interval must be positive: {self}")
        if not self.lr > 0 or self.mu < 0 or not 0 <= self.momentum < 1:
            raise LearningError(f"need lr > 0, mu >= 0, 0 <= momentum < 1: {self}")
        if self.optimizer not in ("sgd", "adam"):
            raise LearningError(f"unknown optimizer {self.optimizer!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> HyperParams:
        return cls(**values)

    def with_(self, **changes: Any) -> HyperParams:
        return replace(self, **changes)

    @property
    def hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`to_dict`."""
        return config_hash(self.to_dict())
