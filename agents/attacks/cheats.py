"""Work cheats: trainers that publish a training result (update and traced checkpoints) without doing
all the work. Each returns a :class:`~agents.learning.training.LocalTraining`, the same type an honest
:func:`~agents.learning.training.train_locally` returns, so it can be published as is.

What catches them (see :mod:`agents.attacks.audit`): a skipped segment does not replay; an update
that is not the last checkpoint minus the generation is refused (the network only publishes the trace
and derives the update from it); a copied trace was trained with
another trainer's seed (derived from its address) and so does not replay for the copier; a replayed
old trace does not start from the round's generation.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

import torch

from agents.attacks.errors import AttackError
from agents.learning.codec import State, encode_state
from agents.learning.dataset import Dataset
from agents.learning.hyperparams import HyperParams
from agents.learning.skills.registry import Skill
from agents.learning.training import (
    LocalTraining,
    checkpoint_steps,
    initial_checkpoint,
    model_part,
    run_steps,
)


def checkpoints_result(
    global_state: Mapping[str, torch.Tensor], checkpoints: list[State], hp: HyperParams
) -> LocalTraining:
    """The published result of a trace of ``checkpoints``: the update is the last one's weights minus
    ``global_state``."""
    final = model_part(checkpoints[-1])
    return LocalTraining(
        state=final,
        update={name: final[name] - global_state[name] for name in final},
        checkpoints=tuple(encode_state(c) for c in checkpoints),
        steps=tuple(checkpoint_steps(hp)),
    )


def lazy(
    global_state: Mapping[str, torch.Tensor],
    hp: HyperParams,
    mode: Literal["zero", "noise"] = "zero",
    sigma: float = 0.01,
    seed: int = 0,
) -> LocalTraining:
    """No training at all. ``zero``: every checkpoint is the start and the update is zero. ``noise``:
    the weights drift linearly to ``global + N(0, sigma^2)`` across the checkpoints (optimizer state
    left at zero), so the update looks like work but no segment replays."""
    start = initial_checkpoint(global_state, hp)
    num = len(checkpoint_steps(hp))
    if mode == "zero":
        return checkpoints_result(global_state, [start] * num, hp)
    if mode != "noise":
        raise AttackError(f"unknown lazy mode {mode!r}")
    generator = torch.Generator().manual_seed(seed)
    noise = {n: sigma * torch.randn(t.shape, generator=generator, dtype=t.dtype) for n, t in start.items()}
    checkpoints = [
        {n: t + noise[n] * (i / (num - 1)) if n.startswith("model.") else t for n, t in start.items()}
        for i in range(num)
    ]
    return checkpoints_result(global_state, checkpoints, hp)


def faked_segments(num_segments: int, q: float, choice_seed: int = 0) -> tuple[int, ...]:
    """The ``ceil(q * num_segments)`` segments a partial cheat skips, chosen at random, sorted."""
    if not 0 <= q <= 1:
        raise AttackError(f"q must be in [0, 1], got {q}")
    order = torch.randperm(num_segments, generator=torch.Generator().manual_seed(choice_seed))
    return tuple(sorted(int(i) for i in order[: math.ceil(q * num_segments)]))


def partial(
    skill: Skill,
    config: Mapping[str, Any],
    global_state: Mapping[str, torch.Tensor],
    shard: Dataset,
    seed: int,
    hp: HyperParams,
    q: float = 0.1,
    choice_seed: int = 0,
) -> LocalTraining:
    """Trains honestly except on the :func:`faked_segments`, whose end checkpoint just repeats their
    start (the work is skipped); the segments after a skipped one are trained from it, so they replay."""
    steps = checkpoint_steps(hp)
    skip = set(faked_segments(len(steps) - 1, q, choice_seed))
    checkpoints = [initial_checkpoint(global_state, hp)]
    for i, (start, stop) in enumerate(itertools.pairwise(steps)):
        last = checkpoints[-1]
        if i in skip:
            checkpoints.append({n: t.clone() for n, t in last.items()})
        else:
            checkpoints.append(run_steps(skill, config, last, global_state, shard, seed, hp, start, stop))
    return checkpoints_result(global_state, checkpoints, hp)


def copy(victim: LocalTraining) -> LocalTraining:
    """Republishes another trainer's result of this round unchanged (update and trace)."""
    return victim


def replay(old: LocalTraining) -> LocalTraining:
    """Republishes a result of an earlier round (one's own or another's) unchanged."""
    return old


CHEATS: dict[str, Callable[..., LocalTraining]] = {
    "lazy": lazy,
    "partial": partial,
    "copy": copy,
    "replay": replay,
}


def cheat_trace(name: str, **params: Any) -> LocalTraining:
    """The published result of cheat ``name`` (see :data:`CHEATS`), called with ``params``."""
    if name not in CHEATS:
        raise AttackError(f"unknown cheat {name!r}; known: {sorted(CHEATS)}")
    return CHEATS[name](**params)
