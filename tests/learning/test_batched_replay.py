"""Batched replay of many trace segments: it agrees with the sequential replay, accepts honest segments
and leaves every rejection to the sequential replay, for each optimizer and for both skills."""

from __future__ import annotations

import pytest

from agents.learning.batched_replay import SegmentStart, replay_segments
from agents.learning.codec import encode_state
from agents.learning.errors import TraceError
from agents.learning.hyperparams import HyperParams
from agents.learning.sharding import shard
from agents.learning.skills import get_skill, initial_state
from agents.learning.trace import (
    Trace,
    TraceCheck,
    check_segment,
    check_segments,
    check_traces,
    relative_distance,
    replay_segment,
)
from agents.learning.training import decode_checkpoint, train_locally

SEED = 41
RUNS = {
    # 23 steps by 5: the last segment is shorter, so two batches of different lengths
    "sgd-momentum-fedprox": HyperParams(
        local_steps=23, batch_size=16, lr=0.05, momentum=0.9, mu=0.01, checkpoint_every=5
    ),
    "adam": HyperParams(local_steps=12, batch_size=8, lr=0.01, optimizer="adam", checkpoint_every=4),
    "plain-sgd": HyperParams(local_steps=10, batch_size=8, lr=0.1, checkpoint_every=3),
}


def trained(skill_name: str, hp: HyperParams):  # type: ignore[no-untyped-def]
    skill = get_skill(skill_name)
    config = skill.default_config
    data = shard(skill.load_data().train, num_shards=4, k=1, seed=3, alpha=0.5)
    global_state = initial_state(skill, config, seed=2)
    run = train_locally(skill, config, global_state, data, SEED, hp)
    return skill, config, global_state, data, run


@pytest.mark.parametrize("name", sorted(RUNS))
def test_batched_replay_matches_the_sequential_replay(name: str) -> None:
    hp = RUNS[name]
    skill, config, global_state, data, run = trained("vision", hp)
    segments = list(range(len(run.checkpoints) - 1))
    starts = {s: decode_checkpoint(run.checkpoints[s], skill, config, hp) for s in segments}
    rows = [SegmentStart(data, SEED, s, starts[s]) for s in segments]
    batched = replay_segments(skill, config, global_state, hp, rows)
    assert len(batched) == len(segments)
    for s in segments:
        sequential = replay_segment(skill, config, global_state, data, SEED, hp, s, run.checkpoints[s])
        assert sequential == run.checkpoints[s + 1]
        # The same arithmetic in another order: rounding-level differences at most.
        distance = relative_distance(
            decode_checkpoint(sequential, skill, config, hp),
            batched[s],
            starts[s],
        )
        assert distance < 1e-4


@pytest.mark.parametrize("skill_name", ["vision", "language"])
def test_check_segments_accepts_honest_and_rejects_faked_segments_like_check_segment(skill_name: str) -> None:
    hp = RUNS["sgd-momentum-fedprox"]
    skill, config, global_state, data, run = trained(skill_name, hp)
    checkpoints = list(run.checkpoints)
    # Checkpoint 3 copies checkpoint 2 (segment 2 skipped) and checkpoint 4 overshoots its honest value by 5%
    # of the segment's movement: segments 2, 3 and 4 (which starts from the bad checkpoint 4) fail.
    checkpoints[3] = checkpoints[2]
    start, end = (decode_checkpoint(checkpoints[i], skill, config, hp) for i in (3, 4))
    checkpoints[4] = encode_state({k: end[k] + 0.05 * (end[k] - start[k]) for k in end})
    trace = Trace.of(checkpoints)
    segments = list(range(trace.num_segments))
    verdicts = check_segments(skill, config, global_state, data, SEED, hp, trace, checkpoints, segments)
    assert [s for s in segments if not verdicts[s].accepted] == [2, 3, 4]
    for s in segments:
        alone = check_segment(
            skill, config, global_state, data, SEED, hp, trace.root, s, checkpoints[s], checkpoints[s + 1],
            trace.segment_proofs(s),
        )  # fmt: skip
        assert verdicts[s].accepted == alone.accepted and verdicts[s].proofs_valid


def test_check_segments_refuses_segments_outside_the_trace() -> None:
    hp = RUNS["plain-sgd"]
    skill, config, global_state, data, run = trained("vision", hp)
    trace = Trace.of(run.checkpoints)
    with pytest.raises(TraceError, match="not all among"):
        check_segments(
            skill, config, global_state, data, SEED, hp, trace, run.checkpoints, [0, trace.num_segments]
        )


def test_updates_of_other_shards_and_seeds_replay_together() -> None:
    """Two trainers' traces (their own shard and seed) checked in one batch: each row replays with its own
    data, as the sequential replay does, and a skipped segment of one update fails only that update."""
    hp = RUNS["sgd-momentum-fedprox"]
    skill = get_skill("vision")
    config = skill.default_config
    global_state = initial_state(skill, config, seed=2)
    shards = [shard(skill.load_data().train, num_shards=4, k=k, seed=3, alpha=0.5) for k in (1, 2)]
    seeds = (SEED, SEED + 1)
    runs = [train_locally(skill, config, global_state, d, s, hp) for d, s in zip(shards, seeds, strict=True)]

    picks = [(0, 0), (1, 0), (0, 3), (1, 4)]  # (trainer, segment)
    rows = [
        SegmentStart(shards[i], seeds[i], s, decode_checkpoint(runs[i].checkpoints[s], skill, config, hp))
        for i, s in picks
    ]
    ends = replay_segments(skill, config, global_state, hp, rows)
    for (i, s), row, end in zip(picks, rows, ends, strict=True):
        honest = decode_checkpoint(runs[i].checkpoints[s + 1], skill, config, hp)
        assert relative_distance(honest, end, row.start) < 1e-4

    faked = list(runs[1].checkpoints)
    faked[2] = faked[1]  # segment 1 skipped: segments 1 and 2 fail
    checks = [
        TraceCheck(shards[0], seeds[0], Trace.of(runs[0].checkpoints), runs[0].checkpoints, [0, 1, 2]),
        TraceCheck(shards[1], seeds[1], Trace.of(faked), faked, [0, 1, 2]),
    ]
    verdicts = check_traces(skill, config, global_state, hp, checks)
    assert [{s: v.accepted for s, v in by_segment.items()} for by_segment in verdicts] == [
        {0: True, 1: True, 2: True},
        {0: True, 1: False, 2: False},
    ]
