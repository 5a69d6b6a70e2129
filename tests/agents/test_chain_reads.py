"""The agents' prepared views agree with web3's contract calls, and a revert comes back by name."""

from __future__ import annotations

import pytest
from agent_helpers import chain_in_new_job
from web3 import Web3

from agents.chain.connection import project
from agents.node.protocol import COMMIT, REVEAL, TRAINER
from agents.node.sender import Reverted

pytestmark = pytest.mark.services


def test_views_read_as_web3_reads_them(net):
    with chain_in_new_job(net, "TEST::1", slots=2) as (chain, job, round_id):
        contracts = {
            name: Web3(Web3.HTTPProvider(net.anvil.url)).eth.contract(
                address=chain.c[name].address,
                abi=[
                    e.model_dump(mode="json", by_alias=True)
                    for e in getattr(project(), name).contract_type.abi
                ],
                decode_tuples=True,
            )
            for name in ("TrainingRounds", "JobRegistry", "StakeManager", "AOAIToken")
        }
        calls = [
            ("TrainingRounds", "roundInfo", round_id),  # a struct
            ("TrainingRounds", "trainerState", round_id, chain.me),
            ("TrainingRounds", "jobConfig", job),
            ("TrainingRounds", "openSlots", round_id),  # an array
            ("TrainingRounds", "scoreOf", chain.me),
            ("JobRegistry", "job", job),  # a struct with strings and bytes32
            ("StakeManager", "activeStakeOf", chain.me, 0),
            ("AOAIToken", "totalSupply"),
        ]
        for contract, method, *args in calls:
            assert chain.view(contract, method, *args) == contracts[contract].functions[method](*args).call()
        assert chain.view("TrainingRounds", "jobConfig", job).attestationQuorum == 1
        assert chain.round_info(round_id)["slotCount"] == 2
        with pytest.raises(Reverted) as raised:
            chain.view("TrainingRounds", "roundInfo", 10**9)
        assert raised.value.name == "TrainingRoundsUnknownRound"
        with pytest.raises(TypeError, match="takes 1 arguments"):
            chain.view("TrainingRounds", "roundInfo")


def test_the_commit_phase_is_known_without_a_view_only_while_it_surely_lasts(net, monkeypatch):
    """An agent skips its round view while the book saw no full house and chain time is inside the commit
    window: not before a view told it when the round opened, not past the window, not after a full house."""
    with chain_in_new_job(net, "TEST::1", slots=1) as (chain, job, round_id):
        record = chain.book.rounds[round_id]
        assert not chain.surely_committing(record)  # when the round opened is not known yet
        info = chain.round_info(round_id)
        assert info["phase"] == COMMIT and chain.surely_committing(record)
        window_end = int(info["openedAt"]) + int(chain.job_config(job).commitPhase)
        monkeypatch.setattr(chain, "now", lambda: window_end + 1)
        assert not chain.surely_committing(record)
        monkeypatch.undo()
        chain.ensure_stake(TRAINER, int(chain.job_spec(job)["trainerStake"]))
        chain.send("TrainingRounds", "claimAndCommit", round_id, 0, b"\x01" * 32)  # its one slot: full
        chain.sync()
        assert not chain.surely_committing(record)
        assert chain.round_info(round_id)["phase"] == REVEAL
