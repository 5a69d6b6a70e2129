"""Many trace segments of one update replayed at once: each step vectorised over the segments.

A verifier spot-checks dozens of segments of the same update (same shard, seed and hyper-parameters).
For the small models of these jobs a step costs mostly per-call overhead, so stepping every drawn
segment together with ``torch.func.vmap`` costs a fraction of replaying them one by one. A batched
replay only ever *accepts*: the verifier compares its bytes with the published checkpoint and re-judges
anything else with the sequential replay of :func:`agents.learning.trace.check_segment`, so batching
cannot change a verdict, only make the common honest case cheaper.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.func import functional_call, vmap

from agents.learning.codec import State, encode_state
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


def replay_segments(
    skill: Skill,
    config: Mapping[str, Any],
    global_state: Mapping[str, torch.Tensor],
    shard: Dataset,
    seed: int,
    hp: HyperParams,
    starts: Mapping[int, State],
) -> dict[int, bytes]:
    """Canonical bytes of checkpoint ``s + 1`` for every segment ``s`` in ``starts`` (its decoded start
    checkpoint). Raises ``RuntimeError`` when the skill's model cannot be vectorised."""
    steps = checkpoint_steps(hp)
    by_length: dict[int, list[int]] = defaultdict(list)
    for segment in sorted(starts):
        by_length[steps[segment + 1] - steps[segment]].append(segment)
    replayed: dict[int, bytes] = {}
    with deterministic_torch():
        model = load_model(skill, config, model_part(next(iter(starts.values()))))
        names = [name for name, _ in model.named_parameters()]

        def loss(params: State, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            value = skill.loss(_Functional(model, params), inputs, targets)
            if hp.mu > 0:
                value = value + hp.mu / 2 * sum(((params[n] - global_state[n]) ** 2).sum() for n in names)
            return value

        losses = vmap(loss)
        for length, segments in by_length.items():
            for i in range(0, len(segments), MAX_BATCH):
                chunk = segments[i : i + MAX_BATCH]
                ends = _run(losses, names, shard, seed, hp, [steps[s] for s in chunk], length,
                            [starts[s] for s in chunk])  # fmt: skip
                replayed.update(zip(chunk, ends, strict=True))
    return replayed


def _run(
    losses: Any,
    names: list[str],
    shard: Dataset,
    seed: int,
    hp: HyperParams,
    firsts: list[int],
    length: int,
    checkpoints: Sequence[State],
) -> list[bytes]:
    """``length`` steps of every segment starting at steps ``firsts`` from ``checkpoints``; the end
    checkpoints' canonical bytes."""
    stacked = {key: torch.stack([c[key] for c in checkpoints]) for key in checkpoints[0]}
    params = {n: stacked[MODEL_PREFIX + n] for n in names}
    opt = {key: t for key, t in stacked.items() if key.startswith(OPT_PREFIX)}
    for k in range(length):
        index = torch.stack([batch_indices(seed, first + k, len(shard), hp.batch_size) for first in firsts])
        leaves = [params[n].requires_grad_() for n in names]
        # Segments are independent: the gradient of their summed losses is each one's own gradient.
        grads = torch.autograd.grad(losses(params, shard.inputs[index], shard.targets[index]).sum(), leaves)
        apply_step(params, list(grads), opt, hp, [first + k for first in firsts])
    return [encode_state({key: t[i] for key, t in stacked.items()}) for i in range(len(firsts))]
