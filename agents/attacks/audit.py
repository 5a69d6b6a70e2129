"""The verifiers' check of one published training result, built from the learning core only, to
measure how often cheats are caught and honest trainers wrongly flagged.

It mirrors the agents' verifier: the trace must start from the round's generation, the update must be
the last checkpoint minus the generation (as the network derives it from a published trace), then
``k`` = :func:`segments_to_check` segments drawn by :func:`draw_segments` from 32 bytes of randomness
are replayed by :func:`check_segment`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from agents.learning.codec import encode_state
from agents.learning.dataset import Dataset
from agents.learning.errors import LearningError
from agents.learning.hyperparams import HyperParams
from agents.learning.skills.registry import Skill
from agents.learning.spotcheck import draw_segments, segments_to_check
from agents.learning.trace import Trace, check_segment
from agents.learning.training import (
    LocalTraining,
    checkpoint_steps,
    decode_checkpoint,
    initial_checkpoint,
    model_part,
)


@dataclass(frozen=True)
class Audit:
    """Verdict on one result: ``caught`` with the ``reason``; the segments replayed and their steps."""

    caught: bool
    reason: str
    segments: tuple[int, ...] = ()
    replayed_steps: int = 0


def audit(
    skill: Skill,
    config: Mapping[str, Any],
    global_state: Mapping[str, torch.Tensor],
    shard: Dataset,
    seed: int,
    hp: HyperParams,
    published: LocalTraining,
    randomness: bytes,
    q: float = 0.1,
    p: float = 0.99,
    stop_at_first: bool = True,
) -> Audit:
    """Check ``published`` as a trainer of (``shard``, ``seed``) on ``global_state`` should have made it.

    ``q``, ``p``: catch a trainer faking a fraction ``q`` of its steps with probability ``p``. With
    ``stop_at_first`` the replays stop at the first faulty segment, as a verifier would.
    """
    steps = checkpoint_steps(hp)
    blobs = published.checkpoints
    if len(blobs) != len(steps):
        return Audit(True, "wrong number of checkpoints")
    if blobs[0] != encode_state(initial_checkpoint(global_state, hp)):
        return Audit(True, "trace does not start from the round's generation")
    try:
        final = model_part(decode_checkpoint(blobs[-1], skill, config, hp))
    except LearningError as error:
        return Audit(True, f"malformed checkpoint: {error}")
    if set(published.update) != set(final) or any(
        not torch.equal(published.update[n], final[n] - global_state[n]) for n in final
    ):
        return Audit(True, "update is not the last checkpoint minus the generation")
    trace = Trace.of(blobs)
    k = segments_to_check(q, p, trace.num_segments)
    done: list[int] = []
    replayed, faulty = 0, None
    for segment in draw_segments(randomness, trace.num_segments, k):
        done.append(segment)
        replayed += steps[segment + 1] - steps[segment]
        try:
            verdict = check_segment(
                skill, config, global_state, shard, seed, hp, trace.root, segment,
                blobs[segment], blobs[segment + 1], trace.segment_proofs(segment),
            )  # fmt: skip
            accepted = verdict.accepted
        except LearningError:
            accepted = False
        if not accepted and faulty is None:
            faulty = segment
            if stop_at_first:
                break
    reason = "ok" if faulty is None else f"segment {faulty} does not replay"
    return Audit(faulty is not None, reason, tuple(done), replayed)
