"""Two jobs at once, a vision job and a language job, served by trainers started with `--job auto`: every
commit goes where UCB1 over the chain's history says (recomputed here from the events alone), both
jobs finalize their rounds, and the language job records generations with its loss and perplexity."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from agent_helpers import HYPERPARAMS, Reader, address, genesis_metric, new_job

pytestmark = pytest.mark.services

ROUNDS = 2
SLOTS = 2
TRAINERS = (1, 2, 3, 4)
LANGUAGE_HYPERPARAMS = {
    "local_steps": 4,
    "batch_size": 8,
    "lr": 3e-3,
    "optimizer": "adam",
    "checkpoint_every": 2,
}
# Reward per unit of work (local steps x batch size): vision 100 / 640, language 4 / 32 (0.8 of vision's),
# so a trainer's exploration bonus, not only the reward, decides where it goes.
VISION_REWARD, LANGUAGE_REWARD = 100 * 10**18, 4 * 10**18
COST = {
    "vision": HYPERPARAMS["local_steps"] * HYPERPARAMS["batch_size"],
    "language": LANGUAGE_HYPERPARAMS["local_steps"] * LANGUAGE_HYPERPARAMS["batch_size"],
}
EVENTS = (
    "JobCreated", "RoundOpened", "RoundFinalized", "RoundClosedEmpty", "UpdateCommitted", "UpdateRevealed",
    "RoundPhaseAdvanced",
)  # fmt: skip
COMMITTED = re.compile(r"submitted round (\d+) of job (\d+) in slot \d+; routed at block (\d+)")


def ucb_choice(
    history: dict[str, list[dict[str, Any]]], me: str, block: int, cost: dict[int, int]
) -> int | None:
    """The job `--job auto` must pick with the chain as of ``block``: UCB1 (value = acceptance rate x
    reward / cost, normalised; bonus sqrt(2 ln N / n_j)) over jobs whose current round, no later than
    ROUNDS, is in its commit phase with a free slot and no commit from ``me``."""

    def upto(name: str) -> list[dict[str, Any]]:
        return [e for e in history[name] if e["_block"] <= block]

    reward = {e["jobId"]: int(e["spec"]["rewardPerUpdate"]) for e in upto("JobCreated") if e["jobId"] in cost}
    opened = {e["roundId"]: e for e in upto("RoundOpened") if e["jobId"] in reward}
    job_of = {r: e["jobId"] for r, e in opened.items()}
    closed = {e["roundId"] for name in ("RoundFinalized", "RoundClosedEmpty") for e in upto(name)}
    accepted = {e["roundId"]: bin(int(e["acceptedSlots"])).count("1") for e in upto("RoundFinalized")}
    commits = [e for e in upto("UpdateCommitted") if e["roundId"] in job_of]
    reveals = [e for e in upto("UpdateRevealed") if e["roundId"] in job_of]
    past_commit = {e["roundId"] for e in upto("RoundPhaseAdvanced") if e["phase"] > 1}
    values, pulls = {}, {}
    for job in sorted(reward):
        done = [r for r in closed if job_of.get(r) == job]
        revealed = sum(1 for e in reveals if e["roundId"] in done)
        rate = (sum(accepted.get(r, 0) for r in done) + 1) / (revealed + 2)
        values[job] = rate * reward[job] / cost[job]
        pulls[job] = 1 + sum(1 for e in commits if job_of[e["roundId"]] == job and e["trainer"].lower() == me)
    top, total = max(values.values()), sum(pulls.values())
    score = {j: values[j] / top + math.sqrt(2 * math.log(total) / pulls[j]) for j in values}
    candidates = []
    for job in reward:
        current = max(r for r in opened if job_of[r] == job)
        in_round = [e for e in commits if e["roundId"] == current]
        if (
            current not in closed | past_commit
            and opened[current]["number"] <= ROUNDS
            and len(in_round) < opened[current]["slotCount"]
            and me not in {e["trainer"].lower() for e in in_round}
        ):
            candidates.append(job)
    return min(candidates, key=lambda j: (-score[j], j)) if candidates else None


def test_auto_routing_across_a_vision_and_a_language_job(own_net):
    net = own_net
    reader = Reader(net.anvil.url, net.home)
    vision = new_job(net, SLOTS, rewardPerUpdate=VISION_REWARD)
    language = new_job(
        net, SLOTS, skill="language", hyperparams=LANGUAGE_HYPERPARAMS, rewardPerUpdate=LANGUAGE_REWARD
    )
    common = ["--rounds", str(ROUNDS)]
    procs = [
        net.agent(f"auto-trainer{i}", "worker", "start", "--account", f"TEST::{i}", "--job", "auto", *common)
        for i in TRAINERS
    ]
    procs.append(net.agent("auto-verifier", "verifier", "start", "--account", "TEST::5", *common))
    procs.append(net.agent("auto-aggregator", "aggregator", "start", "--account", "TEST::7", *common))
    net.wait(procs)

    # Both jobs ran ROUNDS rounds, each with every slot accepted.
    for job in (vision, language):
        assert sorted(reader.metrics(job)) == list(range(ROUNDS + 1))
        finalized = reader.events("RoundFinalized", jobId=job)
        assert [bin(int(f["acceptedSlots"])).count("1") for f in finalized] == [SLOTS] * ROUNDS

    # The language job's generations carry its metrics (sorted names: loss, perplexity), consistent with
    # each other, and training lowered the perplexity below generation 0's.
    metrics = reader.metrics(language)
    for number in range(1, ROUNDS + 1):
        loss, perplexity = (m / 1e6 for m in metrics[number])
        assert perplexity == pytest.approx(math.exp(loss), rel=1e-4)
    assert 1.0 < metrics[ROUNDS][1] / 1e6 < genesis_metric("language")

    # Every commit went to the job UCB1 picks from the chain state the trainer had read.
    cost = {vision: COST["vision"], language: COST["language"]}
    history = {name: reader.events(name) for name in EVENTS}
    routed_to: dict[int, int] = {vision: 0, language: 0}
    for i in TRAINERS:
        me = address(i).lower()
        lines = COMMITTED.findall(net.log(f"auto-trainer{i}"))
        commits = reader.events("UpdateCommitted", trainer=me)
        assert len(lines) == len(commits)
        for number, job, block in lines:
            assert int(job) == ucb_choice(history, me, int(block), cost), (i, number, job, block)
            routed_to[int(job)] += 1
    assert routed_to == {vision: SLOTS * ROUNDS, language: SLOTS * ROUNDS}
