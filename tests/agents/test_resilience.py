"""Agents that crash, cheat by copying, or lose their IPFS daemon mid-round; the rounds still finalize,
nothing is sent twice and nothing owed is lost."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from agent_helpers import address, new_job

pytestmark = pytest.mark.services

CRASHED = 70


def wait_for_line(paths: list[Path], *texts: str, timeout: float = 240.0) -> None:
    """Blocks until one of the agents' logs holds one of ``texts`` (a guard timeout, not an assertion on
    timing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = [p.read_text(errors="replace") for p in paths if p.exists()]
        if any(text in log for log in logs for text in texts):
            return
        time.sleep(0.2)
    raise AssertionError(f"no agent logged any of {texts!r}")


def test_trainer_and_aggregator_restart(net, reader):
    rounds = 2
    job = new_job(net, slots=3)
    common = ["--job", str(job), "--rounds", str(rounds)]

    def trainer(i: int, *crash: str) -> subprocess.Popen[bytes]:
        sealed = ["--sealed"] if i == 2 else []
        return net.agent(
            f"r-trainer{i}", "worker", "start", "--account", f"TEST::{i}", *sealed, *crash, *common
        )

    # Trainer 1 dies while training, trainer 2 (sealed: commit, then reveal) right after committing:
    # restarted, trainer 1 trains again and submits once; trainer 2 reveals the update its journal says it
    # committed.
    crashed_trainers = {i: trainer(i, "--crash-after", at) for i, at in ((1, "training"), (2, "commit"))}
    crashed_aggregator = net.agent(
        "r-aggregator", "aggregator", "start", "--account", "TEST::7", "--crash-after", "proposal", *common
    )
    procs = [trainer(3)]
    procs.append(net.agent("r-verifier5", "verifier", "start", "--account", "TEST::5", *common))
    for i, crashed in crashed_trainers.items():
        assert crashed.wait(timeout=240) == CRASHED
        procs.append(trainer(i))
    assert crashed_aggregator.wait(timeout=240) == CRASHED
    procs.append(net.agent("r-aggregator", "aggregator", "start", "--account", "TEST::7", *common))
    net.wait(procs)

    assert sorted(reader.metrics(job)) == list(range(rounds + 1))
    proposals = reader.events("GenerationProposed", jobId=job)
    assert [p["generation"] for p in proposals] == [1, 2]
    finalized = reader.events("RoundFinalized", jobId=job)
    assert [f["aggregator"].lower() for f in finalized] == [address(7).lower()] * rounds
    round_ids = {f["roundId"] for f in finalized}
    reward = reader.call("TrainingRounds", "jobConfig", job)[8]
    for i in (1, 2, 3):
        commits = [
            e for e in reader.events("UpdateCommitted", trainer=address(i)) if e["roundId"] in round_ids
        ]
        reveals = [
            e for e in reader.events("UpdateRevealed", trainer=address(i)) if e["roundId"] in round_ids
        ]
        assert len(commits) == len(reveals) == rounds
        assert reader.earned_in_job(job, address(i)) == (rounds, reward * rounds)
    fee = reader.call("JobRegistry", "job", job)[12]
    assert reader.earned_in_job(job, address(7)) == (rounds, fee * rounds)


def test_copied_update_earns_nothing(net, reader):
    """Updates are published in the open, and the copier waits for one in each round to publish its
    trace under its own name: the trace does not replay from the copier's own task (shard and seed come
    from its address), so each copy is challenged, rejected and slashed, and earns nothing."""
    rounds = 2
    job = new_job(net, slots=3)
    copier = address(8)
    score_before = reader.call("TrainingRounds", "scoreOf", copier)  # other tests' jobs may have used it
    common = ["--job", str(job), "--rounds", str(rounds)]
    procs = [
        net.agent(f"c-trainer{i}", "worker", "start", "--account", f"TEST::{i}", *common) for i in (1, 2)
    ]
    procs.append(
        net.agent("c-copier", "worker", "start", "--account", "TEST::8", "--behaviour", "copy", *common)
    )
    procs += [
        net.agent(f"c-verifier{i}", "verifier", "start", "--account", f"TEST::{i}", *common) for i in (5, 6)
    ]
    procs.append(net.agent("c-aggregator", "aggregator", "start", "--account", "TEST::7", *common))
    net.wait(procs)

    rounds_of_job = sorted(e["roundId"] for e in reader.events("RoundOpened", jobId=job))[:rounds]
    published = {r: reader.events("UpdateRevealed", roundId=r) for r in rounds_of_job}
    for round_id, updates in published.items():
        (copy,) = [u for u in updates if u["trainer"].lower() == copier.lower()]
        # The same trace as another's update: the same checkpoint hashes give the same root.
        assert any(u["traceRoot"] == copy["traceRoot"] and u["slot"] != copy["slot"] for u in updates)
        (rejected,) = reader.events("UpdateRejected", roundId=round_id)
        assert rejected["slot"] == copy["slot"]
        (finalized,) = reader.events("RoundFinalized", roundId=round_id)
        assert finalized["acceptedSlots"] == 0b111 & ~(1 << copy["slot"])
    score = reader.call("TrainingRounds", "scoreOf", copier)
    accepted, rejected_count, _, slashed = (
        after - before for after, before in zip(score, score_before, strict=True)
    )
    assert (accepted, rejected_count) == (0, rounds) and slashed > 0
    assert reader.earned_in_job(job, copier) == (0, 0)
    assert sorted(reader.metrics(job)) == list(range(rounds + 1))


def test_ipfs_restart_mid_round(net, reader):
    # The daemon goes down once round 1 has a commit. Agents keep what they computed and prefetched, so
    # round 1 may end without IPFS; the next rounds' uploads cannot: some agent retries, then all carry on.
    # A retry is reported as a failed tick ("retrying") or, for an update an agent still has to read, as
    # "not fetched yet" (the aggregator, when the daemon went down before it had read round 1).
    rounds = 3
    job = new_job(net, slots=3)
    common = ["--job", str(job), "--rounds", str(rounds)]
    procs = [
        net.agent(f"i-trainer{i}", "worker", "start", "--account", f"TEST::{i}", *common) for i in (1, 2, 3)
    ]
    procs.append(net.agent("i-verifier5", "verifier", "start", "--account", "TEST::5", *common))
    procs.append(net.agent("i-aggregator", "aggregator", "start", "--account", "TEST::7", *common))
    logs = [
        net.logs / f"i-{name}.log" for name in ("trainer1", "trainer2", "trainer3", "verifier5", "aggregator")
    ]
    for log in logs:  # every agent past its start-up check of the daemon ("staked ..." or "stake in place")
        wait_for_line([log], "stake")
    wait_for_line(logs, "submitted round 1")
    net.ipfs.stop()  # the daemon's repo stays: it comes back with the same content and port
    try:
        wait_for_line(logs, "retrying", "not fetched yet")
    finally:
        net.ipfs.start()  # the session's later tests need it, whatever happened here
    net.wait(procs)
    assert sorted(reader.metrics(job)) == list(range(rounds + 1))
    finalized = reader.events("RoundFinalized", jobId=job)
    assert [f["acceptedSlots"] for f in finalized] == [0b111] * rounds
