"""Data poisoning: transforms of the attacker's own shard, after which it trains as usual."""

from __future__ import annotations

from agents.attacks.errors import AttackError
from agents.learning.dataset import Dataset


def flip_labels(shard: Dataset, num_classes: int = 10) -> Dataset:
    """Label flipping ``y -> num_classes - 1 - y`` on the targets (the grouping labels are kept).

    The label-flipping attack of Karimireddy, He, Jaggi 2021 (after Biggio, Nelson, Laskov 2012,
    "Poisoning Attacks against Support Vector Machines"). Note that a trace of training on flipped
    labels does not replay on the true shard, so in this protocol spot checks catch it as well.
    """
    targets = shard.targets
    if targets.is_floating_point() or targets.dim() != 1:
        raise AttackError("label flipping needs one integer class label per example")
    if len(targets) and not (int(targets.min()) >= 0 and int(targets.max()) < num_classes):
        raise AttackError(f"labels outside 0..{num_classes - 1}")
    return Dataset(shard.inputs, num_classes - 1 - targets, shard.labels)
