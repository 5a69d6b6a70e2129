"""How good an update is: the change of validation loss it causes, for verifiers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from agents.learning.dataset import Dataset
from agents.learning.skills.registry import Skill, load_model
from agents.learning.training import deterministic_torch


@dataclass(frozen=True)
class UpdateQuality:
    """Validation loss before and after applying an update; ``improvement`` > 0 means it helped."""

    loss_before: float
    loss_after: float

    @property
    def improvement(self) -> float:
        return self.loss_before - self.loss_after


def evaluate_state(
    skill: Skill, config: Mapping[str, Any], state: Mapping[str, torch.Tensor], data: Dataset
) -> dict[str, float]:
    """The skill's metrics (always including ``loss``) of the weights ``state`` on ``data``."""
    with deterministic_torch():
        return skill.evaluate(load_model(skill, config, state), data)


def update_quality(
    skill: Skill,
    config: Mapping[str, Any],
    global_state: Mapping[str, torch.Tensor],
    update: Mapping[str, torch.Tensor],
    data: Dataset,
    loss_before: float | None = None,
) -> UpdateQuality:
    """Loss of the global weights (``loss_before`` when known) and of ``global + update`` on ``data`` (the
    validation split)."""
    updated = {name: t + update[name] for name, t in global_state.items()}
    if loss_before is None:
        loss_before = evaluate_state(skill, config, global_state, data)["loss"]
    return UpdateQuality(loss_before, evaluate_state(skill, config, updated, data)["loss"])
