"""Training traces: checkpoint hashes under a keccak Merkle root, segment replay and its verdict.

``traceRoot`` is :func:`agents.learning.merkle.merkle_root` of the sha256 of each checkpoint's
canonical bytes. Segment ``i`` runs from checkpoint ``i`` to ``i + 1``. A verifier replays it from
the published start checkpoint and compares: bit-exact on the same machine, or, across hardware,
within :data:`REPLAY_TOLERANCE` of the segment's own movement (see :func:`relative_distance`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch

from agents.learning.batched_replay import replay_segments
from agents.learning.codec import encode_state
from agents.learning.dataset import Dataset
from agents.learning.errors import TraceError
from agents.learning.hashing import sha256
from agents.learning.hyperparams import HyperParams
from agents.learning.merkle import MerkleTree, verify_proof
from agents.learning.skills.registry import Skill
from agents.learning.training import checkpoint_steps, decode_checkpoint, run_steps

REPLAY_TOLERANCE = 1e-2
"""Accepted ``||claimed - replayed|| / ||replayed - start||`` for a replay on different hardware.

Rounding differences between CPUs/BLAS builds stay orders of magnitude below 1% of what a segment
moves the weights, while a skipped or fabricated segment is off by about 100%.
"""


@dataclass(frozen=True)
class Trace:
    """Hashes of a run's checkpoints and their Merkle root."""

    checkpoint_hashes: tuple[bytes, ...]
    root: bytes

    @classmethod
    def of(cls, checkpoints: Sequence[bytes]) -> Trace:
        hashes = tuple(sha256(blob) for blob in checkpoints)
        return cls(hashes, MerkleTree(hashes).root)

    @cached_property
    def tree(self) -> MerkleTree:
        """The Merkle tree, hashed once for all the proofs a verifier needs."""
        return MerkleTree(self.checkpoint_hashes)

    @property
    def num_segments(self) -> int:
        return len(self.checkpoint_hashes) - 1

    def proof(self, index: int) -> list[bytes]:
        """Merkle proof of checkpoint ``index``."""
        return self.tree.proof(index)

    def segment_proofs(self, segment: int) -> tuple[list[bytes], list[bytes]]:
        """Proofs of the two endpoints (checkpoints ``segment`` and ``segment + 1``) of a segment."""
        if not 0 <= segment < self.num_segments:
            raise TraceError(f"no segment {segment} among {self.num_segments}")
        return self.proof(segment), self.proof(segment + 1)


def relative_distance(
    claimed: Mapping[str, torch.Tensor],
    replayed: Mapping[str, torch.Tensor],
    start: Mapping[str, torch.Tensor],
) -> float:
    """``||claimed - replayed|| / ||replayed - start||`` over all checkpoint tensors (float64)."""
    off = sum(float((claimed[n].double() - replayed[n].double()).pow(2).sum()) for n in replayed)
    moved = sum(float((replayed[n].double() - start[n].double()).pow(2).sum()) for n in replayed)
    return (off / max(moved, 1e-300)) ** 0.5


def replay_segment(
    skill: Skill,
    config: Mapping[str, Any],
    global_state: Mapping[str, torch.Tensor],
    shard: Dataset,
    seed: int,
    hp: HyperParams,
    segment: int,
    start_checkpoint: bytes,
) -> bytes:
    """Canonical bytes of checkpoint ``segment + 1`` recomputed from checkpoint ``segment``."""
    steps = checkpoint_steps(hp)
    if not 0 <= segment < len(steps) - 1:
        raise TraceError(f"no segment {segment} among {len(steps) - 1}")
    start = decode_checkpoint(start_checkpoint, skill, config, hp)
    end = run_steps(skill, config, start, global_state, shard, seed, hp, steps[segment], steps[segment + 1])
    return encode_state(end)


@dataclass(frozen=True)
class SegmentVerdict:
    """Outcome of spot-checking one segment."""

    segment: int
    proofs_valid: bool
    exact: bool
    relative_distance: float
    accepted: bool


def check_segment(
    skill: Skill,
    config: Mapping[str, Any],
    global_state: Mapping[str, torch.Tensor],
    shard: Dataset,
    seed: int,
    hp: HyperParams,
    root: bytes,
    segment: int,
    start_checkpoint: bytes,
    end_checkpoint: bytes,
    proofs: tuple[Sequence[bytes], Sequence[bytes]],
    tolerance: float = REPLAY_TOLERANCE,
) -> SegmentVerdict:
    """Verify both endpoints' Merkle proofs against ``root``, replay the segment and compare.

    Accepted when the proofs hold and the replay is bit-exact or, with ``tolerance`` > 0, within
    that relative distance. Malformed checkpoint bytes raise :class:`WeightFormatError`.
    """
    replayed = replay_segment(skill, config, global_state, shard, seed, hp, segment, start_checkpoint)
    return _judge(
        skill, config, hp, root, segment, start_checkpoint, end_checkpoint, proofs, replayed, tolerance
    )


def _judge(
    skill: Skill,
    config: Mapping[str, Any],
    hp: HyperParams,
    root: bytes,
    segment: int,
    start: bytes,
    end: bytes,
    proofs: tuple[Sequence[bytes], Sequence[bytes]],
    replayed: bytes,
    tolerance: float,
) -> SegmentVerdict:
    """The verdict on a segment from ``end`` (claimed) and ``replayed`` (recomputed from ``start``)."""
    proofs_valid = verify_proof(root, segment, sha256(start), proofs[0]) and verify_proof(
        root, segment + 1, sha256(end), proofs[1]
    )
    exact = replayed == end
    distance = 0.0
    if not exact:
        distance = relative_distance(
            decode_checkpoint(end, skill, config, hp),
            decode_checkpoint(replayed, skill, config, hp),
            decode_checkpoint(start, skill, config, hp),
        )
    return SegmentVerdict(
        segment=segment,
        proofs_valid=proofs_valid,
        exact=exact,
        relative_distance=distance,
        accepted=proofs_valid and (exact or distance <= tolerance),
    )


def check_segments(
    skill: Skill,
    config: Mapping[str, Any],
    global_state: Mapping[str, torch.Tensor],
    shard: Dataset,
    seed: int,
    hp: HyperParams,
    trace: Trace,
    checkpoints: Sequence[bytes],
    segments: Sequence[int],
    tolerance: float = REPLAY_TOLERANCE,
) -> dict[int, SegmentVerdict]:
    """:func:`check_segment` for several segments of one trace (``checkpoints``, hashed by ``trace``),
    replayed together by :func:`replay_segments`. A segment the batched replay does not accept, or every
    segment when the skill's model cannot be batched, is judged by its own sequential replay."""
    if any(not 0 <= s < trace.num_segments for s in segments):
        raise TraceError(f"segments {list(segments)} are not all among {trace.num_segments}")
    starts = {s: decode_checkpoint(checkpoints[s], skill, config, hp) for s in segments}
    try:
        replayed = replay_segments(skill, config, global_state, shard, seed, hp, starts) if starts else {}
    except RuntimeError:  # an operation torch.func.vmap cannot batch
        replayed = {}
    verdicts: dict[int, SegmentVerdict] = {}
    for segment in segments:
        start, end = checkpoints[segment], checkpoints[segment + 1]
        proofs = trace.segment_proofs(segment)
        if segment in replayed:
            verdict = _judge(
                skill, config, hp, trace.root, segment, start, end, proofs, replayed[segment], tolerance
            )
            if verdict.accepted:
                verdicts[segment] = verdict
                continue
        verdicts[segment] = check_segment(
            skill, config, global_state, shard, seed, hp, trace.root, segment, start, end, proofs, tolerance
        )
    return verdicts
