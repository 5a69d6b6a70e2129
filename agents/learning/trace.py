"""Training traces: checkpoint hashes under a keccak Merkle root, segment replay and its verdict.

``traceRoot`` is :func:`agents.learning.merkle.merkle_root` of the sha256 of each checkpoint's
canonical bytes. Segment ``i`` runs from checkpoint ``i`` to ``i + 1``. A verifier replays it from
the published start checkpoint and compares: bit-exact on the same machine, or, across hardware,
within :data:`REPLAY_TOLERANCE` of the segment's own movement (see :func:`relative_distance`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

import torch

from agents.learning.batched_replay import SegmentStart, replay_segments
from agents.learning.codec import State, encode_state
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
    names = sorted(replayed)

    def flat(state: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([state[n].detach().reshape(-1) for n in names]).double()

    at = flat(replayed)
    off = float(torch.linalg.vector_norm(flat(claimed) - at))
    moved = float(torch.linalg.vector_norm(at - flat(start)))
    return off / max(moved, 1e-300)


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
    start = decode_checkpoint(start_checkpoint, skill, config, hp)
    return encode_state(run_steps(skill, config, start, global_state, shard, seed, hp, *_bounds(hp, segment)))


def _bounds(hp: HyperParams, segment: int) -> tuple[int, int]:
    """The steps at which ``segment`` starts and ends."""
    steps = checkpoint_steps(hp)
    if not 0 <= segment < len(steps) - 1:
        raise TraceError(f"no segment {segment} among {len(steps) - 1}")
    return steps[segment], steps[segment + 1]


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
    checkpoints = _Checkpoints(skill, config, hp, {segment: start_checkpoint, segment + 1: end_checkpoint})
    start = checkpoints.state(segment)
    replayed = run_steps(skill, config, start, global_state, shard, seed, hp, *_bounds(hp, segment))
    hashes = (sha256(start_checkpoint), sha256(end_checkpoint))
    return _judge(root, segment, checkpoints, hashes, proofs, replayed, tolerance)


class _Checkpoints:
    """A trace's checkpoint bytes by index, each decoded at most once, when first needed."""

    def __init__(
        self,
        skill: Skill,
        config: Mapping[str, Any],
        hp: HyperParams,
        blobs: Mapping[int, bytes],
        states: Mapping[int, State] | None = None,
    ) -> None:
        self.skill, self.config, self.hp, self.blobs = skill, config, hp, blobs
        self._states = dict(states or {})

    def state(self, index: int) -> State:
        if index not in self._states:
            self._states[index] = decode_checkpoint(self.blobs[index], self.skill, self.config, self.hp)
        return self._states[index]


def _judge(
    root: bytes,
    segment: int,
    checkpoints: _Checkpoints,
    hashes: Sequence[bytes],
    proofs: tuple[Sequence[bytes], Sequence[bytes]],
    replayed: State,
    tolerance: float,
) -> SegmentVerdict:
    """The verdict on a segment from its claimed end checkpoint and ``replayed`` (recomputed from its
    start); ``hashes``: the sha256 of its start and end checkpoints, which the proofs tie to ``root``. The
    claimed end is decoded only when the replay's bytes differ from it."""
    proofs_valid = verify_proof(root, segment, hashes[0], proofs[0]) and verify_proof(
        root, segment + 1, hashes[1], proofs[1]
    )
    exact = encode_state(replayed) == checkpoints.blobs[segment + 1]
    distance = 0.0
    if not exact:
        distance = relative_distance(checkpoints.state(segment + 1), replayed, checkpoints.state(segment))
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
    """:func:`check_segment` for several segments of one trace (``checkpoints``, hashed by ``trace``): see
    :func:`check_traces`."""
    check = TraceCheck(shard, seed, trace, checkpoints, segments)
    return check_traces(skill, config, global_state, hp, [check], tolerance)[0]


@dataclass(frozen=True)
class TraceCheck:
    """Segments to spot-check in one update's trace: its trainer's shard and seed, the trace, its
    checkpoints' bytes and, if at hand, those checkpoints decoded. ``trace`` hashes ``checkpoints``: its
    i-th hash is the sha256 of the i-th checkpoint (:meth:`Trace.of` them, or a manifest's hashes that
    :func:`agents.node.manifest.open_bundle` checked against them), so they are not hashed again."""

    shard: Dataset
    seed: int
    trace: Trace
    checkpoints: Sequence[bytes]
    segments: Sequence[int]
    decoded: Sequence[State] = ()


def check_traces(
    skill: Skill,
    config: Mapping[str, Any],
    global_state: Mapping[str, torch.Tensor],
    hp: HyperParams,
    checks: Sequence[TraceCheck],
    tolerance: float = REPLAY_TOLERANCE,
) -> list[dict[int, SegmentVerdict]]:
    """:func:`check_segment` for segments of several updates to the same global weights, all replayed
    together by :func:`replay_segments`; the verdicts by segment, per check. A segment the batched replay
    does not accept, or every segment when the skill's model cannot be batched, is judged by its own
    sequential replay."""
    for check in checks:
        if any(not 0 <= s < check.trace.num_segments for s in check.segments):
            raise TraceError(f"segments {list(check.segments)} are not all among {check.trace.num_segments}")
    blobs = [
        _Checkpoints(skill, config, hp, dict(enumerate(c.checkpoints)), dict(enumerate(c.decoded)))
        for c in checks
    ]
    rows = [(i, s) for i, check in enumerate(checks) for s in check.segments]
    starts = [SegmentStart(checks[i].shard, checks[i].seed, s, blobs[i].state(s)) for i, s in rows]
    try:
        replayed = dict(zip(rows, replay_segments(skill, config, global_state, hp, starts), strict=True))
    except RuntimeError:  # an operation torch.func.vmap cannot batch
        replayed = {}
    verdicts: list[dict[int, SegmentVerdict]] = [{} for _ in checks]
    for i, segment in rows:
        check = checks[i]
        proofs = check.trace.segment_proofs(segment)
        hashes = check.trace.checkpoint_hashes[segment : segment + 2]
        judge = partial(_judge, check.trace.root, segment, blobs[i], hashes, proofs)
        if (i, segment) in replayed:
            verdict = judge(replayed[(i, segment)], tolerance)
            if verdict.accepted:
                verdicts[i][segment] = verdict
                continue
        start, (first, stop) = blobs[i].state(segment), _bounds(hp, segment)
        sequential = run_steps(skill, config, start, global_state, check.shard, check.seed, hp, first, stop)
        verdicts[i][segment] = judge(sequential, tolerance)
    return verdicts
