"""Work cheats publish well-formed results, and the verifiers' spot check catches every one of them
while never flagging an honest trainer."""

from __future__ import annotations

import pytest

from agents.attacks import AttackError, audit, cheat_trace, faked_segments
from agents.learning.codec import State
from agents.learning.dataset import Dataset
from agents.learning.hashing import sha256
from agents.learning.hyperparams import HyperParams
from agents.learning.sharding import shard
from agents.learning.skills import get_skill, initial_state
from agents.learning.training import LocalTraining, train_locally

SKILL = get_skill("vision")
CONFIG = SKILL.default_config
HP = HyperParams(local_steps=20, batch_size=16, lr=0.1, momentum=0.9, checkpoint_every=2)
SEEDS = [sha256(bytes([i])) for i in range(5)]


@pytest.fixture(scope="module")
def world() -> tuple[State, State, Dataset, Dataset]:
    """Generation 0 and 1 weights and two trainers' shards."""
    train = SKILL.load_data().train
    g0 = initial_state(SKILL, CONFIG, 0)
    mine, other = (shard(train, 8, k, seed=1, alpha=0.5) for k in (0, 1))
    g1 = train_locally(SKILL, CONFIG, g0, other, 9, HP).state
    return g0, g1, mine, other


def check(world: tuple[State, State, Dataset, Dataset], published: LocalTraining, randomness: bytes) -> bool:
    _, g1, mine, _ = world
    return audit(SKILL, CONFIG, g1, mine, 42, HP, published, randomness).caught


def test_an_honest_trainer_is_never_flagged(world: tuple[State, State, Dataset, Dataset]) -> None:
    _, g1, mine, _ = world
    honest = train_locally(SKILL, CONFIG, g1, mine, 42, HP)
    for randomness in SEEDS:
        verdict = audit(SKILL, CONFIG, g1, mine, 42, HP, honest, randomness, stop_at_first=False)
        assert not verdict.caught, verdict.reason
        assert verdict.replayed_steps == HP.local_steps  # 10 segments: k = 10 for q=0.1, p=0.99


@pytest.mark.parametrize("mode", ["zero", "noise"])
def test_lazy_trainers_are_caught(world: tuple[State, State, Dataset, Dataset], mode: str) -> None:
    published = cheat_trace("lazy", global_state=world[1], hp=HP, mode=mode)
    assert len(published.checkpoints) == 11
    assert (float(sum(t.abs().sum() for t in published.update.values())) > 0) == (mode == "noise")
    assert all(check(world, published, r) for r in SEEDS)


def test_a_copied_update_does_not_replay_under_the_copiers_seed(
    world: tuple[State, State, Dataset, Dataset],
) -> None:
    _, g1, mine, other = world
    victim = train_locally(SKILL, CONFIG, g1, other, 7, HP)
    assert all(check(world, cheat_trace("copy", victim=victim), r) for r in SEEDS)
    same_shard = train_locally(SKILL, CONFIG, g1, mine, 7, HP)  # even on the copier's own shard
    assert all(check(world, cheat_trace("copy", victim=same_shard), r) for r in SEEDS)


def test_a_replayed_old_update_is_caught(world: tuple[State, State, Dataset, Dataset]) -> None:
    g0, _, mine, _ = world
    old = train_locally(SKILL, CONFIG, g0, mine, 42, HP)  # same shard and seed, previous generation
    verdicts = [
        audit(SKILL, CONFIG, world[1], mine, 42, HP, cheat_trace("replay", old=old), r) for r in SEEDS
    ]
    assert all(v.caught and "generation" in v.reason for v in verdicts)


def test_partial_cheat_skips_exactly_the_faked_segments(world: tuple[State, State, Dataset, Dataset]) -> None:
    _, g1, mine, _ = world
    skipped = faked_segments(10, 0.1, choice_seed=3)
    assert len(skipped) == 1 and faked_segments(10, 0.25) != faked_segments(10, 0.25, 1)
    published = cheat_trace(
        "partial",
        skill=SKILL,
        config=CONFIG,
        global_state=g1,
        shard=mine,
        seed=42,
        hp=HP,
        q=0.1,
        choice_seed=3,
    )
    assert published.checkpoints[skipped[0]] == published.checkpoints[skipped[0] + 1]
    for randomness in SEEDS:
        verdict = audit(SKILL, CONFIG, g1, mine, 42, HP, published, randomness, stop_at_first=False)
        assert verdict.caught and verdict.reason == f"segment {skipped[0]} does not replay"


def test_unknown_cheats_and_modes_are_refused(world: tuple[State, State, Dataset, Dataset]) -> None:
    with pytest.raises(AttackError):
        cheat_trace("teleport")
    with pytest.raises(AttackError):
        cheat_trace("lazy", global_state=world[1], hp=HP, mode="sleep")
    with pytest.raises(AttackError):
        faked_segments(4, 1.5)


def test_tampered_update_is_caught(world: tuple[State, State, Dataset, Dataset]) -> None:
    _, g1, mine, _ = world
    honest = train_locally(SKILL, CONFIG, g1, mine, 42, HP)
    boosted = {n: 10 * t for n, t in honest.update.items()}
    tampered = LocalTraining(honest.state, boosted, honest.checkpoints, honest.steps)
    verdict = audit(SKILL, CONFIG, g1, mine, 42, HP, tampered, SEEDS[0])
    assert verdict.caught and "last checkpoint" in verdict.reason
