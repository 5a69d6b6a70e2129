"""The agents' prepared views agree with web3's contract calls, and a revert comes back by name."""

from __future__ import annotations

import pytest
from agent_helpers import chain_in_new_job
from web3 import Web3

from agents.chain.connection import project
from agents.node.manifest import commitment
from agents.node.protocol import (
    AGGREGATION,
    AGGREGATOR,
    CHALLENGE,
    COMMIT,
    PROPOSAL,
    REVEAL,
    TRAINER,
    VERIFIER,
)
from agents.node.sender import Reverted
from agents.node.trainer import Trainer

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


def test_a_phase_is_known_without_a_view_only_while_it_surely_lasts(net, monkeypatch):
    """An agent skips its round view while the book and chain time settle the phase. Each timed window
    closes no earlier than its length after the round opened (which RoundOpened tells): commit until the
    full house or the deadline; reveal until the last reveal, while inside revealPhase; challenge after it
    while inside challengePhase. Aggregation once the updates are settled, and proposal while a proposal is
    live, until the round closes."""
    with chain_in_new_job(net, "TEST::1", slots=1) as (chain, job, round_id):
        record, config = chain.book.rounds[round_id], chain.job_config(job)
        opened = chain.opened_at(record)

        def past(deadline: int) -> None:
            monkeypatch.setattr(chain, "now", lambda: deadline + 1)

        info = chain.round_info(round_id)
        assert chain.sure_phase(record) == COMMIT == info["phase"] and opened == info["openedAt"]
        past(int(info["commitDeadline"]))
        assert chain.sure_phase(record) is None  # no full house: the reveals may have opened by time
        monkeypatch.undo()

        chain.ensure_stake(TRAINER, int(chain.job_spec(job)["trainerStake"]))
        cid, update_hash, root, salt = "bafkreib", b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
        digest = commitment(cid, update_hash, root, salt, chain.me)
        chain.send("TrainingRounds", "claimAndCommit", round_id, 0, digest)  # its one slot: a full house
        chain.sync()
        info = chain.round_info(round_id)
        assert chain.sure_phase(record) == REVEAL == info["phase"]
        assert opened + int(config.revealPhase) <= info["revealDeadline"]
        past(opened + int(config.revealPhase))
        assert chain.sure_phase(record) is None
        monkeypatch.undo()

        chain.send("TrainingRounds", "reveal", round_id, 0, cid, update_hash, root, salt)  # the last reveal
        chain.sync()
        info = chain.round_info(round_id)
        assert chain.sure_phase(record) == CHALLENGE == info["phase"]
        assert opened + int(config.challengePhase) <= info["challengeDeadline"]
        past(opened + int(config.challengePhase))
        assert chain.sure_phase(record) is None  # the challenge window may have closed by time
        monkeypatch.undo()

        chain.ensure_stake(VERIFIER, int(chain.job_spec(job)["verifierStake"]))
        try:
            chain.send("TrainingRounds", "attest", round_id, 1, [0])  # quorum 1: the one update is settled
            chain.sync()
            assert chain.sure_phase(record) == AGGREGATION == chain.round_info(round_id)["phase"]
            assert record.accepted_slots == 1

            chain.ensure_stake(AGGREGATOR, int(chain.job_spec(job)["aggregatorStake"]))
            proposal = ("bafkreic", b"\x04" * 32, [7] * len(chain.book.generations[(job, 0)][2]))
            chain.send("TrainingRounds", "propose", round_id, *proposal, 1)
            chain.sync()
            assert chain.sure_phase(record) == PROPOSAL == chain.round_info(round_id)["phase"]
            assert chain.proposal_surely_open(record) and record.proposal_attestations() == 0
            assert (
                opened + int(config.proposalPhase)
                <= chain.view("TrainingRounds", "proposalOf", round_id).deadline
            )
            past(opened + int(config.proposalPhase))
            assert chain.sure_phase(record) == PROPOSAL and not chain.proposal_surely_open(record)
            monkeypatch.undo()

            chain.send("TrainingRounds", "attestProposal", round_id, *proposal)  # the quorum: finalized
            chain.sync()
            assert record.proposal_attested == {chain.me.lower(): int(record.proposals[-1]["nonce"])}
            assert record.closed and chain.sure_phase(record) is None
        finally:  # out of the verifier pool: later tests' dispute panels are drawn from their own agents
            active = int(chain.view("StakeManager", "activeStakeOf", chain.me, VERIFIER))
            chain.send("StakeManager", "requestUnbond", VERIFIER, active)


def test_an_agent_sleeps_through_blocks_that_hold_only_its_quiet_events(net):
    """A trainer's own commit (``UpdateCommitted``: quiet for a trainer, whose full house comes with
    ``RoundPhaseAdvanced``) does not end its wait; a stake top-up (``Staked``) does, and the book then
    reads both blocks."""
    with chain_in_new_job(net, "TEST::1", slots=2) as (chain, job, round_id):
        chain.ensure_stake(TRAINER, int(chain.job_spec(job)["trainerStake"]))
        chain.sleep_through(Trainer.quiet_events)
        chain.sync()
        assert not chain.wait_for_block(0.0)  # subscribed: nothing unread yet
        digest = commitment("bafkreib", b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, chain.me)
        committed = chain.send("TrainingRounds", "claimAndCommit", round_id, 0, digest)
        assert [e.name for e in committed] == ["UpdateCommitted"]
        assert not chain.wait_for_block(0.5)
        assert chain.heads.head >= chain.cursor.next_block  # the block came, and was slept through
        chain.send("StakeManager", "stake", TRAINER, value=1)
        assert chain.wait_for_block(5.0)
        chain.sync()
        assert chain.book.rounds[round_id].commits.keys() == {0}
