"""End to end with real agents: three honest trainers, a lazy one, two verifiers, one aggregator, each in
its own process, three rounds of the vision job on anvil and a real IPFS daemon."""

from __future__ import annotations

import pytest
from agent_helpers import ETHER, address, genesis_metric, new_job

pytestmark = pytest.mark.services

ROUNDS = 3


def test_three_rounds_with_a_lazy_trainer(net, reader):
    job = new_job(net, slots=4)
    lazy = address(4)
    score_before = reader.call("TrainingRounds", "scoreOf", lazy)  # other tests' jobs may have used it
    common = ["--job", str(job), "--rounds", str(ROUNDS)]
    procs = [
        net.agent(f"trainer{i}", "worker", "start", "--account", f"TEST::{i}", *common) for i in (1, 2, 3)
    ]
    procs.append(net.agent("lazy", "worker", "start", "--account", "TEST::4", "--behaviour", "lazy", *common))
    procs += [
        net.agent(f"verifier{i}", "verifier", "start", "--account", f"TEST::{i}", *common) for i in (5, 6)
    ]
    procs.append(net.agent("aggregator", "aggregator", "start", "--account", "TEST::7", *common))
    net.wait(procs)

    metrics = reader.metrics(job)
    assert sorted(metrics) == list(range(ROUNDS + 1))
    accuracy = [genesis_metric()] + [metrics[n][0] / 1e6 for n in range(1, ROUNDS + 1)]
    assert accuracy[-1] > accuracy[0] + 0.4, accuracy
    assert accuracy[-1] > 0.8, accuracy

    rounds = {e["roundId"] for e in reader.events("RoundOpened", jobId=job)}
    rejected = [e for e in reader.events("UpdateRejected", trainer=lazy) if e["roundId"] in rounds]
    assert len({e["roundId"] for e in rejected}) == ROUNDS
    score = reader.call("TrainingRounds", "scoreOf", lazy)
    accepted, rejections, _, slashed = (
        after - before for after, before in zip(score, score_before, strict=True)
    )
    assert accepted == 0 and rejections == ROUNDS and slashed >= ETHER
    assert reader.earned_in_job(job, lazy) == (0, 0)
    reward = reader.call("TrainingRounds", "jobConfig", job)[8]
    for i in (1, 2, 3):
        honest = address(i)
        assert reader.earned_in_job(job, honest) == (ROUNDS, reward * ROUNDS)
        commits = [e for e in reader.events("UpdateCommitted", trainer=honest) if e["roundId"] in rounds]
        assert len(commits) == ROUNDS
    assert_logs_decode_as_web3_decodes(reader)


def assert_logs_decode_as_web3_decodes(reader) -> None:  # type: ignore[no-untyped-def]
    """The agents' own log decoder (prepared ABIs, raw eth_getLogs) agrees with web3's ``get_event_data``
    on every log of the run, disputes and votes included."""
    from web3._utils.events import get_event_data

    cursor = reader.cursor()
    events = cursor.poll()
    logs = reader.web3.eth.get_logs(
        {"fromBlock": 0, "toBlock": cursor.next_block - 1, "address": cursor.addresses}
    )
    abis = {
        (reader.addresses[name].lower(), event.name): event.model_dump(mode="json", by_alias=True)
        for name, kind in reader.types.items()
        for event in kind.abi
        if event.type == "event"
    }
    assert {"UpdateChallenged", "VoteRevealed", "DisputeResolved", "JobCreated"} <= {e.name for e in events}
    assert len(events) == len(logs)
    for log, event in zip(logs, events, strict=True):
        expected = get_event_data(reader.web3.codec, abis[(log["address"].lower(), event.name)], log)
        assert (event.block, event.index, event.tx) == (
            log["blockNumber"],
            log["logIndex"],
            log["transactionHash"].hex(),
        )
        assert event.args == _plain(expected["args"]), event.name


def _plain(value):  # type: ignore[no-untyped-def]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
