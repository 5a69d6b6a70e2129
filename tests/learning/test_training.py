"""Deterministic traced training: identical bytes, exact replay, Merkle proofs, tampering, spot checks."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from agents.learning.codec import encode_state
from agents.learning.errors import TraceError
from agents.learning.evaluation import update_quality
from agents.learning.hashing import config_hash, sha256
from agents.learning.hyperparams import HyperParams
from agents.learning.merkle import merkle_proof, merkle_root, verify_proof
from agents.learning.sharding import shard
from agents.learning.skills import get_skill, initial_state
from agents.learning.spotcheck import draw_segments, segments_to_check
from agents.learning.trace import REPLAY_TOLERANCE, Trace, check_segment, replay_segment
from agents.learning.training import LocalTraining, decode_checkpoint, model_part, train_locally

SKILL = get_skill("vision")
CONFIG = SKILL.default_config
HP = HyperParams(local_steps=25, batch_size=16, lr=0.05, momentum=0.9, mu=0.01, checkpoint_every=5)
SEED = 77


@pytest.fixture(scope="module")
def setup() -> tuple[dict[str, torch.Tensor], object, LocalTraining]:
    global_state = initial_state(SKILL, CONFIG, seed=1)
    data = shard(SKILL.load_data().train, num_shards=4, k=2, seed=5, alpha=0.5)
    return global_state, data, train_locally(SKILL, CONFIG, global_state, data, SEED, HP)


def test_two_runs_give_identical_bytes(setup) -> None:  # type: ignore[no-untyped-def]
    global_state, data, run = setup
    again = train_locally(SKILL, CONFIG, global_state, data, SEED, HP)
    assert again.checkpoints == run.checkpoints
    assert encode_state(again.update) == encode_state(run.update)
    assert run.steps == (0, 5, 10, 15, 20, 25) and len(run.checkpoints) == 6
    other_seed = train_locally(SKILL, CONFIG, global_state, data, SEED + 1, HP)
    assert other_seed.checkpoints[-1] != run.checkpoints[-1]


def test_update_is_final_minus_global_and_improves_validation_loss(setup) -> None:  # type: ignore[no-untyped-def]
    global_state, _, run = setup
    final = model_part(decode_checkpoint(run.checkpoints[-1], SKILL, CONFIG, HP))
    assert all(torch.equal(final[k] - global_state[k], run.update[k]) for k in global_state)
    validation = SKILL.load_data().validation
    assert update_quality(SKILL, CONFIG, global_state, run.update, validation).improvement > 0.1
    g = torch.Generator().manual_seed(0)
    noise = {k: 0.5 * torch.randn(v.shape, generator=g) for k, v in global_state.items()}
    assert update_quality(SKILL, CONFIG, global_state, noise, validation).improvement < 0


def test_replay_of_random_segments_is_bit_exact_and_verifies(setup) -> None:  # type: ignore[no-untyped-def]
    global_state, data, run = setup
    trace = Trace.of(run.checkpoints)
    for segment in range(trace.num_segments):  # one model for the whole run, a fresh one per replay
        start, end = run.checkpoints[segment], run.checkpoints[segment + 1]
        assert replay_segment(SKILL, CONFIG, global_state, data, SEED, HP, segment, start) == end
        verdict = check_segment(
            SKILL,
            CONFIG,
            global_state,
            data,
            SEED,
            HP,
            trace.root,
            segment,
            start,
            end,
            trace.segment_proofs(segment),
        )
        assert verdict.accepted and verdict.exact and verdict.proofs_valid


def test_merkle_proofs_verify_every_checkpoint_and_reject_tampering(setup) -> None:  # type: ignore[no-untyped-def]
    _, _, run = setup
    trace = Trace.of(run.checkpoints)
    for i, blob in enumerate(run.checkpoints):
        assert verify_proof(trace.root, i, sha256(blob), trace.proof(i))
        assert not verify_proof(trace.root, (i + 1) % len(run.checkpoints), sha256(blob), trace.proof(i))
    tampered = bytearray(run.checkpoints[3])
    tampered[-7] ^= 0x01
    assert not verify_proof(trace.root, 3, sha256(bytes(tampered)), trace.proof(3))
    hashes = [bytes([i]) * 32 for i in range(7)]  # odd sizes carry the last node up
    for i in range(7):
        assert verify_proof(merkle_root(hashes), i, hashes[i], merkle_proof(hashes, i))
    with pytest.raises(TraceError):
        merkle_proof(hashes, 7)


def test_check_segment_catches_tampered_and_faked_checkpoints(setup) -> None:  # type: ignore[no-untyped-def]
    global_state, data, run = setup
    trace = Trace.of(run.checkpoints)
    start, end = run.checkpoints[2], run.checkpoints[3]
    args = (SKILL, CONFIG, global_state, data, SEED, HP, trace.root, 2, start)
    tampered = bytearray(end)
    tampered[-7] ^= 0x01
    verdict = check_segment(*args, bytes(tampered), trace.segment_proofs(2))
    assert not verdict.proofs_valid and not verdict.exact and not verdict.accepted
    # A cheater who skips segment 2 commits to a trace where checkpoint 3 equals checkpoint 2.
    faked = list(run.checkpoints)
    faked[3] = start
    fake_trace = Trace.of(faked)
    verdict = check_segment(*args[:6], fake_trace.root, 2, start, start, fake_trace.segment_proofs(2))
    assert verdict.proofs_valid and not verdict.accepted
    assert verdict.relative_distance == pytest.approx(1.0)


def test_replay_drift_from_rounding_stays_within_tolerance(setup) -> None:  # type: ignore[no-untyped-def]
    """Other hardware rounds differently: a 1e-7 relative nudge of the start stays within tolerance."""
    global_state, data, run = setup
    start = decode_checkpoint(run.checkpoints[1], SKILL, CONFIG, HP)
    g = torch.Generator().manual_seed(9)
    nudged = {k: v * (1 + 1e-7 * torch.randn(v.shape, generator=g)) for k, v in start.items()}
    other_hardware_end = replay_segment(SKILL, CONFIG, global_state, data, SEED, HP, 1, encode_state(nudged))
    assert other_hardware_end != run.checkpoints[2]
    trace = Trace.of(run.checkpoints)
    verdict = check_segment(
        SKILL, CONFIG, global_state, data, SEED, HP, trace.root, 1, run.checkpoints[1], other_hardware_end,
        (trace.proof(1), trace.proof(2)),
    )  # fmt: skip
    assert not verdict.exact and verdict.relative_distance < REPLAY_TOLERANCE / 10
    assert not verdict.proofs_valid  # the proofs are for the honest bytes; distance is what matters here


def test_fedprox_pulls_the_update_towards_the_global_weights(setup) -> None:  # type: ignore[no-untyped-def]
    global_state, data, _ = setup

    def norm(mu: float) -> float:
        update = train_locally(SKILL, CONFIG, global_state, data, SEED, HP.with_(mu=mu)).update
        return math.sqrt(sum(float(v.pow(2).sum()) for v in update.values()))

    assert norm(5.0) < 0.8 * norm(0.0)


def test_spot_check_counts() -> None:
    assert segments_to_check(0.1, 0.99) == 44
    assert 1 - 0.9**44 >= 0.99 > 1 - 0.9**43
    k = segments_to_check(0.1, 0.99, num_segments=50)
    miss = math.comb(45, k) / math.comb(50, k)
    assert 1 - miss >= 0.99 and 1 - math.comb(45, k - 1) / math.comb(50, k - 1) < 0.99
    assert segments_to_check(0.1, 0.99, num_segments=5) == 5
    assert segments_to_check(0.5, 0.75) == 2
    with pytest.raises(TraceError):
        segments_to_check(0.0, 0.9)


def test_segment_draws_are_distinct_deterministic_and_in_range() -> None:
    randomness = sha256(b"block 123 randao")
    draw = draw_segments(randomness, 100, 44)
    assert draw == draw_segments(randomness, 100, 44)
    assert len(set(draw)) == 44 and all(0 <= i < 100 for i in draw)
    assert draw != draw_segments(sha256(b"other"), 100, 44)
    assert sorted(draw_segments(randomness, 10, 10)) == list(range(10))
    with pytest.raises(TraceError):
        draw_segments(randomness, 3, 4)


def test_hashes_are_stable() -> None:
    assert config_hash({"b": 1, "a": [1, 2]}) == config_hash({"a": [1, 2], "b": 1})
    assert HP.hash == config_hash(HP.to_dict()) == HyperParams.from_dict(HP.to_dict()).hash
    assert SKILL.config_hash() == "0b28f17502bd9665d2078511906976a2322f23a7589f013cd2c21da995a1edce"


def test_deterministic_torch_sets_and_restores_the_flag_and_threads() -> None:
    from agents.learning.training import deterministic_torch

    threads, flag = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    with deterministic_torch(threads=1):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.get_num_threads() == 1
    assert torch.are_deterministic_algorithms_enabled() == flag
    assert torch.get_num_threads() == threads


def test_training_imports_neither_the_compiler_nor_scikit_learn() -> None:
    """Both cost every agent process over a second of start-up, for nothing it uses."""
    script = (
        "import sys\n"
        "from agents.learning.skills import get_skill, initial_state\n"
        "from agents.learning.hyperparams import HyperParams\n"
        "from agents.learning.training import train_locally\n"
        "skill = get_skill('vision'); data = skill.load_data()\n"
        "hp = HyperParams(local_steps=2, batch_size=8, lr=0.1, checkpoint_every=1)\n"
        "state = initial_state(skill, skill.default_config, 0)\n"
        "train_locally(skill, skill.default_config, state, data.train, 1, hp)\n"
        "print(sorted(m for m in ('torch._inductor', 'torch._dynamo', 'sklearn') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
