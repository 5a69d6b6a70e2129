"""Unit tests of early proposals: an aggregator may propose once every update is published, while the
verifiers still check them (Challenge). The proposal shows as the round's phase only once the updates
settle; a quorum reached early finalizes with the attestation that settles them (`attestAndFinalize`);
a rejected update voids it, at no cost to its aggregator."""

import ape
import pytest
from protocol_helpers import (
    AGGREGATION,
    AGGREGATOR,
    CHALLENGE,
    COMMIT,
    DEFAULT_SPEC,
    FINALIZED,
    PROPOSAL,
    REVEAL,
    Update,
    account_of,
    bits,
    challenge,
    draw,
    reveal_votes,
    vote,
)

from agents.node.verifier import finality_gas

SPEC = DEFAULT_SPEC
ALL = bits(0, 1, 2)


@pytest.fixture
def revealed(flow, round_id, trainers, verifier_pool):
    """Three updates revealed, none attested: the round is in Challenge."""
    updates = flow.commit(round_id, trainers[:3])
    flow.reveal(round_id, updates)
    return updates


@pytest.fixture
def early(flow, round_id, revealed):
    return flow.propose(round_id, ALL)


def qualities(slots: int) -> list[int]:
    return [1000 + i for i in range(slots.bit_count())]


def test_propose_during_challenge(rounds, round_id, job_id, revealed, aggregator, verifiers):
    """The early proposal is live but the round stays in Challenge until its updates settle; the
    attestation that settles them moves it to Proposal (and says so)."""
    receipt = rounds.propose(round_id, "bafybeiearly", b"\x01" * 32, [5], ALL, sender=aggregator)
    assert receipt.events == [
        rounds.GenerationProposed(round_id, job_id, aggregator, 1, 1, "bafybeiearly", b"\x01" * 32, [5], ALL)
    ]
    assert rounds.phaseOf(round_id) == CHALLENGE
    assert not rounds.proposalOf(round_id).finalizable
    receipt = rounds.attest(round_id, ALL, qualities(ALL), sender=verifiers[0])
    assert receipt.events.filter(rounds.RoundPhaseAdvanced) == [rounds.RoundPhaseAdvanced(round_id, PROPOSAL)]
    assert rounds.phaseOf(round_id) == PROPOSAL


def test_propose_before_the_updates_are_all_published_reverts(flow, rounds, round_id, trainers, aggregator):
    flow.commit(round_id, trainers[:2])
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=COMMIT):
        rounds.propose(round_id, "c", b"\x01" * 32, [], bits(0, 1), sender=aggregator)
    last = Update.make(trainers[2], 2)
    rounds.claimAndCommit(round_id, 2, last.commitment, sender=last.trainer)  # the full house: reveals open
    assert rounds.phaseOf(round_id) == REVEAL
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=REVEAL):
        rounds.propose(round_id, "c", b"\x01" * 32, [], ALL, sender=aggregator)


def test_early_proposal_must_name_every_published_update(rounds, round_id, revealed, aggregator):
    for given in (bits(0, 1), bits(0, 1, 2, 3)):
        with ape.reverts(rounds.TrainingRoundsWrongUpdates, expected=ALL, given=given):
            rounds.propose(round_id, "c", b"\x01" * 32, [], given, sender=aggregator)


def test_second_early_proposal_reverts(rounds, round_id, early, verifier_pool, stakes):
    other = verifier_pool[7]
    stakes.stake(AGGREGATOR, sender=other, value=SPEC["aggregatorStake"])
    with ape.reverts(rounds.TrainingRoundsProposalPending, roundId=round_id):
        rounds.propose(round_id, "c", b"\x01" * 32, [], ALL, sender=other)


def test_early_quorum_waits_for_the_updates_then_finalizes_with_the_last_attestation(
    rounds, token, round_id, early, verifiers, outsider
):
    """Quorum 1: the proposal's attestation during Challenge only counts; nothing finalizes while an
    update is unchecked; the last update's attestation brings finality in its own transaction."""
    receipt = rounds.attestProposal(round_id, *early, sender=verifiers[1])
    assert receipt.events == [rounds.ProposalAttested(round_id, verifiers[1], 1, 1)]
    assert rounds.phaseOf(round_id) == CHALLENGE and not rounds.proposalOf(round_id).finalizable
    with ape.reverts(rounds.TrainingRoundsNotFinalizable, roundId=round_id):
        rounds.finalize(round_id, *early, sender=outsider)
    receipt = rounds.attestAndFinalize(round_id, bits(0, 1), qualities(3)[:2], *early, sender=verifiers[0])
    assert not receipt.events.filter(rounds.RoundFinalized)  # slot 2 is still unchecked
    assert token.totalSupply() == 0
    receipt = rounds.attestAndFinalize(round_id, bits(2), [7], *early, sender=verifiers[0])
    names = [e.event_name for e in receipt.events if e.contract_address == rounds.address]
    assert names == ["UpdatesAttested", "RoundPhaseAdvanced", "RoundFinalized", "RoundOpened"]
    assert receipt.events.filter(rounds.RoundFinalized)[0].acceptedSlots == ALL
    assert rounds.phaseOf(round_id) == FINALIZED
    assert token.totalSupply() == 3 * SPEC["rewardPerUpdate"] + SPEC["aggregatorReward"]
    assert receipt.gas_used <= finality_gas(3)


def test_attest_and_finalize_only_attests_when_the_round_cannot_finalize(
    flow, rounds, round_id, revealed, verifiers
):
    """Without a proposal, or with one short of its quorum, it is an attestation and nothing more: the
    values it carries are not even compared."""
    receipt = rounds.attestAndFinalize(round_id, bits(0), [1], "x", b"\x00" * 32, [], sender=verifiers[0])
    assert [e.event_name for e in receipt.events] == ["UpdatesAttested"]
    proposal = flow.propose(round_id, ALL)
    rounds.attestAndFinalize(round_id, bits(1, 2), [2, 3], "x", b"\x00" * 32, [], sender=verifiers[0])
    assert rounds.phaseOf(round_id) == PROPOSAL
    assert rounds.attestedBy(round_id, verifiers[0]) == ALL
    flow.finalize(round_id, proposal)
    assert rounds.phaseOf(round_id) == FINALIZED


def test_attest_and_finalize_binds_the_proposal_values(rounds, round_id, early, verifiers):
    """When it would finalize, other values than the proposal's revert the whole call: not even the
    attestation is kept."""
    rounds.attestProposal(round_id, *early, sender=verifiers[1])
    cid, weights_hash, metrics = early
    for args in ((cid + "x", weights_hash, metrics), (cid, b"\x02" * 32, metrics), (cid, weights_hash, [1])):
        with ape.reverts(rounds.TrainingRoundsProposalMismatch, roundId=round_id):
            rounds.attestAndFinalize(round_id, ALL, qualities(ALL), *args, sender=verifiers[0])
    assert rounds.attestedBy(round_id, verifiers[0]) == 0
    assert rounds.phaseOf(round_id) == CHALLENGE


def test_a_plain_attestation_leaves_an_early_quorum_to_finalize(flow, rounds, round_id, early, verifiers):
    """The race the agents can lose: the last update attested without the proposal's values. The round
    waits in Proposal, finalizable at once by anyone."""
    rounds.attestProposal(round_id, *early, sender=verifiers[1])
    flow.attest(round_id, ALL)
    assert rounds.phaseOf(round_id) == PROPOSAL and rounds.proposalOf(round_id).finalizable
    receipt = rounds.finalize(round_id, *early, sender=verifiers[2])
    assert receipt.events.filter(rounds.RoundFinalized)


def test_proposal_window_of_an_early_proposal_runs_from_the_proposal(
    create_job, staked, flow, rounds, trainers
):
    """Its challenge window opened with it (proposals can be challenged during Challenge too): once that
    ran out undisputed, the round is finalizable as soon as the updates settle."""
    _, round_id = create_job(proposalPhase=600)
    flow.reveal(round_id, flow.commit(round_id, trainers[:3]))
    proposal = flow.propose(round_id, ALL)
    flow.advance(601)
    assert rounds.phaseOf(round_id) == CHALLENGE and not rounds.proposalOf(round_id).finalizable
    flow.attest(round_id, ALL)
    assert rounds.proposalOf(round_id).finalizable
    assert flow.finalize(round_id, proposal).events.filter(rounds.RoundFinalized)


def test_rejected_update_voids_the_early_proposal(
    chain, flow, disputes, rounds, stakes, round_id, early, verifier_pool, aggregator
):
    """The proposal aggregated an update that lost its challenge: void, its aggregator keeps its stake, and a
    proposal of the updates still standing takes its place. While a challenge of the voided proposal is
    pending, no new proposal can come (its outcome would land on the new one)."""
    pool = verifier_pool
    stake = stakes.activeStakeOf(aggregator, AGGREGATOR)
    dispute_id = challenge(disputes, round_id, 1, pool[0])
    proposal_dispute = disputes.challengeProposal(round_id, 0, sender=pool[1], value=SPEC["challengeBond"])
    proposal_dispute_id = proposal_dispute.events.filter(disputes.ProposalChallenged)[0].disputeId
    panel = draw(chain, disputes, dispute_id)
    voting = vote(disputes, dispute_id, [(account_of(pool, m), True) for m in panel])
    reveal_votes(disputes, dispute_id, voting)
    receipt = disputes.resolve(dispute_id, sender=pool[0])
    assert receipt.events.filter(rounds.ProposalVoided) == [rounds.ProposalVoided(round_id, 1)]
    assert not rounds.proposalOf(round_id).finalizable
    flow.attest(round_id, bits(0, 2))
    assert rounds.phaseOf(round_id) == AGGREGATION
    with ape.reverts(rounds.TrainingRoundsProposalPending, roundId=round_id):
        flow.propose(round_id, bits(0, 2), tag="after")
    panel = draw(chain, disputes, proposal_dispute_id)
    voting = vote(disputes, proposal_dispute_id, [(account_of(pool, m), False) for m in panel])
    reveal_votes(disputes, proposal_dispute_id, voting)
    disputes.resolve(proposal_dispute_id, sender=pool[1])
    assert rounds.phaseOf(round_id) == AGGREGATION  # the dismissed challenge does not revive it
    assert stakes.activeStakeOf(aggregator, AGGREGATOR) == stake
    replacement = flow.propose(round_id, bits(0, 2), tag="after")
    assert rounds.proposalOf(round_id).nonce == 2
    receipt = flow.finalize(round_id, replacement)
    assert receipt.events.filter(rounds.RoundFinalized)[0].acceptedSlots == bits(0, 2)
