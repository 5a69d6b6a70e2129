"""Faults and attacks in the real network (anvil + IPFS + one process per agent).

One job takes every fault: in round 1 a sealed trainer (commit, then reveal) dies after its commit and
never reveals, beside two that submit in the open; a verifier dies before attesting and an aggregator
before proposing (both restarted); in round 2 the chain node is restarted from its saved state while the
agents run. A second job has a crafted (scaled x100) attacker and a partial cheater: caught while
verifiers run, then, with no verifier left in round 2, aggregated by the job's median rule, which keeps
learning where FedAvg of the same updates would not.
"""

from __future__ import annotations

import functools
import operator
import time
from collections.abc import Callable

import pytest
import torch
from agent_helpers import HYPERPARAMS, address, new_job

from agents.learning.codec import decode_state
from agents.learning.evaluation import evaluate_state
from agents.learning.hyperparams import HyperParams
from agents.learning.skills.registry import get_skill
from agents.learning.training import decode_checkpoint, model_part
from agents.node.manifest import open_bundle
from agents.node.store import Store

pytestmark = pytest.mark.services

CRASHED = 70
TRAINER, VERIFIER, AGGREGATOR = 0, 1, 2
# JobSpec fields (IJobRegistry.JobSpec order)
REWARD, VERIFIER_REWARD, AGGREGATOR_REWARD = 10, 11, 12
TRAINER_STAKE, VERIFIER_STAKE, AGGREGATOR_STAKE, MISSED_REVEAL_PENALTY = 13, 14, 15, 18


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 300.0) -> None:
    """Guard timeout only: the machine is shared, nothing here asserts on timing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"gave up waiting for {what}")


def test_crashed_agents_a_silent_trainer_and_a_chain_restart(net, reader):
    rounds = 2
    # Quorum 2 with two verifiers: the restarted verifier's attestation is needed. The reveal phase of
    # round 1 runs to its deadline (the silent trainer); the other phases close on their fast paths.
    job = new_job(
        net, slots=3, attestationQuorum=2, revealPhase=20, commitPhase=240, challengePhase=240,
        proposalPhase=240,
    )  # fmt: skip
    spec = reader.call("JobRegistry", "job", job)
    people = {i: address(i) for i in (1, 2, 3, 5, 6, 7)}
    slashed_before = {i: reader.call("StakeManager", "slashedOf", a) for i, a in people.items()}
    common = ["--job", str(job), "--rounds", str(rounds)]

    def start(name: str, command: str, i: int, *extra: str):
        return net.agent(f"f-{name}", command, "start", "--account", f"TEST::{i}", *extra, *common)

    procs = [start(f"trainer{i}", "worker", i) for i in (1, 2)]
    silent = start("trainer3", "worker", 3, "--sealed", "--crash-after", "commit")
    verifier5 = start("verifier5", "verifier", 5, "--crash-after", "verification")
    procs.append(start("verifier6", "verifier", 6))
    aggregator = start("aggregator", "aggregator", 7, "--crash-after", "aggregation")
    assert silent.wait(timeout=300) == CRASHED
    assert verifier5.wait(timeout=300) == CRASHED
    procs.append(start("verifier5", "verifier", 5))
    assert aggregator.wait(timeout=300) == CRASHED
    procs.append(start("aggregator", "aggregator", 7))

    # The silent trainer comes back for round 2 once its missed reveal is penalized: too late to reveal.
    round1_id = reader.call("TrainingRounds", "currentRound", job)
    wait_until(lambda: bool(reader.events("MissedRevealPenalized", roundId=round1_id)), "the penalty")
    round2 = round1_id + 1
    # Before it does, the chain goes down while round 2 waits for its third commit, every agent at work.
    wait_until(lambda: len(reader.events("UpdateCommitted", roundId=round2)) == 2, "round 2's other commits")
    logs = sorted(net.logs.glob("f-*.log"))
    seen = {p: p.stat().st_size for p in logs}
    net.anvil.restart(down_for=3.0)
    procs.append(start("trainer3", "worker", 3, "--sealed"))
    net.wait(procs)

    after = "".join(p.read_bytes()[seen[p] :].decode(errors="replace") for p in logs)
    assert "retrying" in after or "error" in after  # the agents met the dead node and carried on
    assert sorted(reader.metrics(job)) == [0, 1, 2]
    finalized = {e["roundId"]: e for e in reader.events("RoundFinalized", jobId=job)}
    assert sorted(finalized) == [round1_id, round2]
    slot_of = {
        (e["roundId"], e["trainer"].lower()): e["slot"]
        for e in reader.events("UpdateCommitted")
        if e["roundId"] in finalized
    }
    silent_slot = slot_of[(round1_id, people[3].lower())]
    assert finalized[round1_id]["acceptedSlots"] == 0b111 & ~(1 << silent_slot)
    assert finalized[round2]["acceptedSlots"] == 0b111

    # Nothing sent twice: one commit and (but for the silent trainer) one reveal per trainer and round,
    # each accepted update attested once and the proposal once per verifier and round, one proposal per round.
    for round_id in finalized:
        for i in (1, 2, 3):
            who = people[i].lower()
            commits = [
                e for e in reader.events("UpdateCommitted", roundId=round_id) if e["trainer"].lower() == who
            ]
            reveals = [
                e for e in reader.events("UpdateRevealed", roundId=round_id) if e["trainer"].lower() == who
            ]
            assert len(commits) == 1
            assert len(reveals) == (0 if (i, round_id) == (3, round1_id) else 1)
        for i in (5, 6):
            attested = reader.events("UpdatesAttested", roundId=round_id, verifier=people[i])
            masks, accepted = [e["slots"] for e in attested], finalized[round_id]["acceptedSlots"]
            assert sum(masks) == functools.reduce(operator.or_, masks) == accepted  # disjoint, covering
            assert len(reader.events("ProposalAttested", roundId=round_id, verifier=people[i])) == 1
        proposals = reader.events("GenerationProposed", roundId=round_id)
        assert [p["aggregator"].lower() for p in proposals] == [people[7].lower()]

    # The silent trainer: penalized once, as the protocol says, and paid only for round 2.
    (missed,) = reader.events("MissedRevealPenalized", roundId=round1_id)
    assert missed["trainer"].lower() == people[3].lower()
    assert missed["amount"] == spec[MISSED_REVEAL_PENALTY]
    assert missed["reporter"].lower() in {people[5].lower(), people[6].lower()}
    reward = spec[REWARD]
    assert reader.earned_in_job(job, people[3]) == (1, reward)
    assert (
        reader.call("StakeManager", "slashedOf", people[3]) - slashed_before[3] == spec[MISSED_REVEAL_PENALTY]
    )
    # Everyone else: nothing slashed, every reward paid.
    for i in (1, 2, 5, 6, 7):
        assert reader.call("StakeManager", "slashedOf", people[i]) == slashed_before[i]
    for i in (1, 2):
        assert reader.earned_in_job(job, people[i]) == (rounds, rounds * reward)
    assert reader.earned_in_job(job, people[7]) == (rounds, rounds * spec[AGGREGATOR_REWARD])
    assert reader.call("StakeManager", "activeStakeOf", people[7], AGGREGATOR) >= spec[AGGREGATOR_STAKE]
    accepted_total = 2 + 3
    for i in (5, 6):
        assert reader.call("StakeManager", "activeStakeOf", people[i], VERIFIER) >= spec[VERIFIER_STAKE]
        claims = [
            e for e in reader.events("VerifierRewardClaimed", verifier=people[i]) if e["roundId"] in finalized
        ]
        # Both verifiers attested every accepted update: each is owed half of each round's pool.
        assert sum(c["amount"] for c in claims) == accepted_total * spec[VERIFIER_REWARD] // 2
        for round_id in finalized:
            assert reader.call("TrainingRounds", "pendingVerifierReward", round_id, people[i]) == 0


def _accuracy(state: dict[str, torch.Tensor]) -> float:
    skill = get_skill("vision")
    return evaluate_state(skill, skill.default_config, state, skill.load_data().test)["accuracy"]


def test_crafted_attacker_and_partial_cheater(net, reader):
    # Median rule. Round 1 has two verifiers (they stop after it): both attackers are caught. Round 2 has
    # none: every update is accepted when the challenge window ends, the scaled one included.
    job = new_job(net, slots=5, aggregationRule=1, challengePhase=40, proposalPhase=10)
    spec = reader.call("JobRegistry", "job", job)
    scaler, cheater = address(4), address(8)
    slashed_before = {a: reader.call("StakeManager", "slashedOf", a) for a in (scaler, cheater)}
    common = ["--job", str(job)]
    procs = [
        net.agent(f"a-trainer{i}", "worker", "start", "--account", f"TEST::{i}", *common, "--rounds", "2")
        for i in (1, 2, 3)
    ]
    procs.append(net.agent("a-scaled", "worker", "start", "--account", "TEST::4", "--behaviour", "scaled",
                           *common, "--rounds", "2"))  # fmt: skip
    procs.append(net.agent("a-partial", "worker", "start", "--account", "TEST::8", "--behaviour", "partial",
                           "--faked-fraction", "0.25", *common, "--rounds", "2"))  # fmt: skip
    procs += [
        net.agent(f"a-verifier{i}", "verifier", "start", "--account", f"TEST::{i}", *common, "--rounds", "1")
        for i in (5, 6)
    ]
    procs.append(
        net.agent("a-aggregator", "aggregator", "start", "--account", "TEST::7", *common, "--rounds", "2")
    )
    net.wait(procs)

    finalized = sorted(reader.events("RoundFinalized", jobId=job), key=lambda e: e["roundId"])
    assert len(finalized) == 2
    first, second = (f["roundId"] for f in finalized)
    slots = {(e["roundId"], e["trainer"].lower()): e["slot"] for e in reader.events("UpdateRevealed")
             if e["roundId"] in (first, second)}  # fmt: skip
    for attacker in (scaler, cheater):
        slot = slots[(first, attacker.lower())]
        # both verifiers may challenge the same update (a race the contract allows): every dispute upheld
        challenges = [e for e in reader.events("UpdateChallenged", roundId=first) if e["slot"] == slot]
        assert challenges and all(c["accused"].lower() == attacker.lower() for c in challenges)
        for challenge in challenges:
            (resolved,) = reader.events("DisputeResolved", disputeId=challenge["disputeId"])
            assert resolved["status"] == 2  # upheld
            for kind in ("VoteCommitted", "VoteRevealed"):  # a panel of one: one vote, never two
                assert len(reader.events(kind, disputeId=challenge["disputeId"])) == 1
        assert reader.events("UpdateRejected", roundId=first, trainer=attacker)
        assert not finalized[0]["acceptedSlots"] >> slot & 1
        # the second round has no verifier: the attack is aggregated
        assert finalized[1]["acceptedSlots"] >> slots[(second, attacker.lower())] & 1
        assert reader.earned_in_job(job, attacker) == (1, spec[REWARD])
        slashed = reader.call("StakeManager", "slashedOf", attacker) - slashed_before[attacker]
        assert slashed == spec[TRAINER_STAKE]

    # The median's generation 2 keeps learning; the plain mean of the very same updates collapses.
    metrics = reader.metrics(job)
    assert sorted(metrics) == [0, 1, 2]
    accuracy = [metrics[n][0] / 1e6 for n in (1, 2)]
    assert accuracy[1] > 0.85 and accuracy[1] >= accuracy[0] - 0.02, accuracy
    store = Store(net.ipfs.api_multiaddr)
    skill = get_skill("vision")
    model = skill.spec(skill.default_config)
    (gen1,) = reader.events("GenerationRecorded", jobId=job, number=1)
    g1 = decode_state(store.get(gen1["cid"], gen1["weightsHash"]), model)
    hp = HyperParams(**HYPERPARAMS)
    updates = []
    for e in reader.events("UpdateRevealed", roundId=second):
        _, trace = open_bundle(store.read(e["updateCID"], store.max_bytes), e["updateHash"])
        last = model_part(decode_checkpoint(trace[-1], skill, skill.default_config, hp))
        updates.append({n: last[n] - g1[n] for n in g1})
    assert len(updates) == 5
    mean = {n: g1[n] + sum(u[n] for u in updates) / len(updates) for n in g1}
    # How far the mean falls depends on the round's random tasks (52% at best in the runs seen).
    assert _accuracy(mean) < accuracy[1] - 0.25, (_accuracy(mean), accuracy[1])
