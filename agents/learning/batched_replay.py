"""Many trace segments replayed at once: each step vectorised over the segments.

A verifier spot-checks dozens of segments of a round's updates (same global weights and hyper-parameters;
each update its trainer's shard and seed). For the small models of these jobs a step costs mostly
per-call overhead, so stepping every drawn segment together costs a fraction of replaying them one by
one: with the skill's batched loss where it has one (vision, per segment and step: 0.08 ms eight at a
time, 0.17 ms two at a time), else with ``torch.func.vmap`` over its model (0.15 and 0.42 ms; 0.4 ms
alone). A batched replay only ever *accepts*: the verifier compares its result with the
published checkpoint and re-judges anything else with a sequential replay, so batching cannot change a
verdict, only make the common honest case cheaper.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.func import functional_call, vmap

from agents.learning.codec import State
from agents.learning.dataset import Dataset
from agents.learning.hyperparams import HyperParams
from agents.learning.skills.registry import Skill, load_model
from agents.learning.training import (
    MODEL_PREFIX,
    OPT_PREFIX,
    apply_step,
    batch_indices,
    checkpoint_steps,
    deterministic_torch,
    model_part,
)

MAX_BATCH = 64
"""Most segments stepped together (bounds the memory of the stacked weights)."""


class _Functional(torch.nn.Module):
    """``model`` run with the weights ``params`` instead of its own, for :func:`Skill.loss`."""

    def __init__(self, model: torch.nn.Module, params: Mapping[str, torch.Tensor]) -> None:
        super().__init__()
        self.model, self.params = model, params

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return functional_call(self.model, dict(self.params), (inputs,))


@dataclass(frozen=True)
class SegmentStart:
    """One segment to replay: its trainer's shard and seed, its index and its decoded start checkpoint."""

    shard: Dataset
    seed: int
    segment: int
    start: State


def replay_segments(
    skill: Skill,
    config: Mapping[str, Any],
    global_state: Mapping[str, torch.Tensor],
    hp: HyperParams,
    segments: Sequence[SegmentStart],
) -> list[State]:
    """The checkpoint ending each of ``segments`` (of one round's updates: the same global weights),
    recomputed. Raises ``RuntimeError`` when the skill's model cannot be vectorised."""
    if not segments:
        return []
    steps = checkpoint_steps(hp)
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, row in enumerate(segments):
        by_length[steps[row.segment + 1] - steps[row.segment]].append(i)
    replayed: dict[int, State] = {}
    with deterministic_torch():
        model = load_model(skill, config, model_part(segments[0].start))
        names = [name for name, _ in model.named_parameters()]

        def loss(params: State, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            value = skill.loss(_Functional(model, params), inputs, targets)
            if hp.mu > 0:
                value = value + hp.mu / 2 * sum(((params[n] - global_state[n]) ** 2).sum() for n in names)
            return value

        def skill_losses(params: State, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            assert skill.batched_loss is not None
            value = skill.batched_loss(params, inputs, targets)
            if hp.mu > 0:
                value = value + hp.mu / 2 * sum(
                    ((params[n] - global_state[n]) ** 2).flatten(1).sum(1) for n in names
                )
            return value

        losses = vmap(loss) if skill.batched_loss is None else skill_losses
        for length, rows in by_length.items():
            for i in range(0, len(rows), MAX_BATCH):
                chunk = rows[i : i + MAX_BATCH]
                ends = _run(losses, names, hp, [segments[r] for r in chunk], steps, length)
                replayed.update(zip(chunk, ends, strict=True))
    return [replayed[i] for i in range(len(segments))]


def _run(
    losses: Any,
    names: list[str],
    hp: HyperParams,
    rows: Sequence[SegmentStart],
    steps: Sequence[int],
    length: int,
) -> list[State]:
    """``length`` steps of every segment in ``rows`` (whose checkpoints are at ``steps``); their ends."""
    firsts = [steps[row.segment] for row in rows]
    stacked = {key: torch.stack([row.start[key] for row in rows]) for key in rows[0].start}
    params = {n: stacked[MODEL_PREFIX + n] for n in names}
    opt = {key: t for key, t in stacked.items() if key.startswith(OPT_PREFIX)}
    for k in range(length):
        picks = [
            (row.shard, batch_indices(row.seed, first + k, len(row.shard), hp.batch_size))
            for row, first in zip(rows, firsts, strict=True)
        ]
        inputs = torch.stack([shard.inputs[index] for shard, index in picks])
        targets = torch.stack([shard.targets[index] for shard, index in picks])
        leaves = [params[n].requires_grad_() for n in names]
        # Segments are independent: the gradient of their summed losses is each one's own gradient.
        grads = torch.autograd.grad(losses(params, inputs, targets).sum(), leaves)
        apply_step(params, list(grads), opt, hp, [first + k for first in firsts])
    return [{key: t[i].detach().clone() for key, t in stacked.items()} for i in range(len(rows))]
