"""The trainer's attack behaviours publish complete results: a crafted update fakes exactly the last trace
segment (the update is still the last checkpoint minus the generation), a partial cheat fakes its
chosen segments, label flipping replays nowhere, a replay republishes the old result."""

from __future__ import annotations

import pytest
import torch

from agents.attacks import CRAFTED, AttackError, faked_segments
from agents.attacks.behaviours import ATTACKS, PEER_SHARDS, attack_result
from agents.cli.agents import BEHAVIOURS as CLI_BEHAVIOURS
from agents.learning.codec import State
from agents.learning.dataset import Dataset
from agents.learning.flat import flatten_state
from agents.learning.hyperparams import HyperParams
from agents.learning.sharding import shard
from agents.learning.skills import get_skill, initial_state
from agents.learning.trace import Trace, check_segment
from agents.learning.training import LocalTraining, decode_checkpoint, model_part, train_locally
from agents.node.trainer import BEHAVIOURS

SKILL = get_skill("vision")
CONFIG = SKILL.default_config
HP = HyperParams(local_steps=8, batch_size=16, lr=0.1, momentum=0.9, checkpoint_every=2)
SEED = 12345


@pytest.fixture(scope="module")
def world() -> tuple[State, list[Dataset]]:
    train = SKILL.load_data().train
    return initial_state(SKILL, CONFIG, 0), [shard(train, 8, k, seed=1, alpha=0.5) for k in range(3)]


def replays(state: State, own: Dataset, result: LocalTraining) -> list[bool]:
    blobs, trace = result.checkpoints, Trace.of(result.checkpoints)

    def ok(i: int) -> bool:
        proofs = trace.segment_proofs(i)
        return check_segment(
            SKILL, CONFIG, state, own, SEED, HP, trace.root, i, blobs[i], blobs[i + 1], proofs
        ).accepted

    return [ok(i) for i in range(trace.num_segments)]


def run(name: str, world: tuple[State, list[Dataset]], **kwargs: object) -> LocalTraining:
    state, shards = world
    return attack_result(name, SKILL, CONFIG, state, shards, SEED, HP, workers=5, **kwargs)  # type: ignore[arg-type]


def test_the_cli_offers_every_behaviour() -> None:
    assert CLI_BEHAVIOURS == BEHAVIOURS == ("honest", "lazy", "copy", "withhold", *ATTACKS)


@pytest.mark.parametrize("name", list(CRAFTED))
def test_a_crafted_update_fakes_only_the_last_segment(name: str, world: tuple[State, list[Dataset]]) -> None:
    state, shards = world
    result = run(name, world)
    final = model_part(decode_checkpoint(result.checkpoints[-1], SKILL, CONFIG, HP))
    assert all(torch.equal(result.update[n], final[n] - state[n]) for n in state)
    assert replays(state, shards[0], result) == [True, True, True, False]
    spec = SKILL.spec(CONFIG)
    honest = [
        flatten_state(train_locally(SKILL, CONFIG, state, s, SEED, HP).update, spec)
        for s in shards[: 1 + PEER_SHARDS]
    ]
    expected = {
        "sign_flip": -torch.stack(honest).mean(0),
        "scaled": 100 * honest[0],
        "ipm": -0.1 * torch.stack(honest).mean(0),
    }
    if name in expected:
        assert torch.allclose(flatten_state(result.update, spec), expected[name], atol=1e-6)


def test_partial_fakes_its_chosen_segments(world: tuple[State, list[Dataset]]) -> None:
    state, shards = world
    result = run("partial", world, faked_fraction=0.5)
    faked = faked_segments(4, 0.5, SEED % 2**31)
    assert [not ok for ok in replays(state, shards[0], result)] == [i in faked for i in range(4)]


def test_label_flip_and_replay(world: tuple[State, list[Dataset]]) -> None:
    state, shards = world
    assert not any(replays(state, shards[0], run("label_flip", world)))
    first = run("replay", world)
    assert replays(state, shards[0], first) == [True] * 4  # nothing to replay yet: honest work
    old = train_locally(SKILL, CONFIG, state, shards[1], 7, HP)
    assert run("replay", world, previous=old) is old
    with pytest.raises(AttackError):
        run("backdoor", world)
