"""Unit tests of abandoned rounds: a round that no proposal takes out of Aggregation by its deadline can be
ended by anyone, with no generation and no reward, so that an update nobody can aggregate (a bundle its
trainer never served, and no verifier to challenge it) does not stall its job for good."""

import ape
from protocol_helpers import (
    ABANDONED,
    AGGREGATION,
    CHALLENGE,
    DEFAULT_SPEC,
    PROPOSAL,
    account_of,
    bits,
    challenge,
    draw,
    reveal_votes,
    vote,
)

SPEC = DEFAULT_SPEC
ALL = bits(0, 1, 2)


def at(chain, timestamp):
    """Mines a block at ``timestamp``: the next transaction runs in the block after it."""
    chain.pending_timestamp = timestamp
    chain.mine()


def test_a_round_nobody_aggregates_is_abandoned_after_its_deadline(
    chain, rounds, token, job_id, round_id, attested, verifiers, aggregator, outsider
):
    info = rounds.roundInfo(round_id)
    assert info.phase == AGGREGATION
    deadline = info.challengeDeadline + SPEC["proposalPhase"]
    assert info.aggregationDeadline == deadline
    at(chain, deadline - 1)
    with ape.reverts(rounds.TrainingRoundsNotStalled, roundId=round_id, deadline=deadline):
        rounds.abandonRound(round_id, sender=outsider)
    supply = token.totalSupply()
    chain.pending_timestamp = deadline + 1
    receipt = rounds.abandonRound(round_id, sender=outsider)
    assert receipt.events.filter(rounds.RoundAbandoned) == [rounds.RoundAbandoned(round_id, job_id, ALL)]
    assert not receipt.events.filter(token.Transfer) and token.totalSupply() == supply
    assert rounds.phaseOf(round_id) == ABANDONED
    assert rounds.roundInfo(round_id).aggregationDeadline == 0
    assert all(rounds.scoreOf(u.trainer).accepted == 0 for u in attested)
    assert rounds.pendingVerifierReward(round_id, verifiers[0]) == 0
    with ape.reverts(rounds.TrainingRoundsNothingToClaim, roundId=round_id, verifier=verifiers[0]):
        rounds.claimVerifierRewards([round_id], sender=verifiers[0])
    # The job goes on from the same generation, and the abandoned round takes nothing more.
    next_round = rounds.currentRound(job_id)
    assert next_round == round_id + 1
    opened = rounds.roundInfo(next_round)
    assert (opened.number, opened.generation) == (2, info.generation)
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=ABANDONED):
        rounds.propose(round_id, "bafy-late", b"\x01" * 32, [], ALL, sender=aggregator)
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=ABANDONED):
        rounds.abandonRound(round_id, sender=outsider)


def test_only_a_round_in_aggregation_can_be_abandoned(flow, chain, rounds, round_id, trainers, outsider):
    updates = flow.commit(round_id, trainers[:3])
    flow.reveal(round_id, updates)
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=CHALLENGE):
        rounds.abandonRound(round_id, sender=outsider)
    flow.attest(round_id, ALL)
    flow.propose(round_id, ALL)
    at(chain, rounds.roundInfo(round_id).aggregationDeadline + 1)
    # A live proposal past every window finalizes; nobody can abandon it instead.
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=PROPOSAL):
        rounds.abandonRound(round_id, sender=outsider)


def test_a_rejected_proposal_gives_the_aggregators_a_new_deadline(
    chain, flow, disputes, rounds, stakes, round_id, attested, verifier_pool, outsider
):
    """A proposal that loses its challenge returns the round to Aggregation, maybe after its first deadline:
    the deadline then runs from that resolution, so another aggregator has the whole window."""
    flow.propose(round_id, ALL, tag="bad")
    dispute_id = disputes.disputeCount() + 1
    disputes.challengeProposal(round_id, 0, sender=verifier_pool[0], value=SPEC["challengeBond"])
    upheld = [(account_of(verifier_pool, m), True) for m in draw(chain, disputes, dispute_id)]
    reveal_votes(disputes, dispute_id, vote(disputes, dispute_id, upheld))
    first = rounds.roundInfo(round_id).aggregationDeadline
    resolved_at = max(chain.pending_timestamp, first + 10)
    chain.pending_timestamp = resolved_at
    disputes.resolve(dispute_id, sender=verifier_pool[0])
    assert rounds.phaseOf(round_id) == AGGREGATION
    deadline = resolved_at + SPEC["proposalPhase"]
    assert rounds.roundInfo(round_id).aggregationDeadline == deadline
    at(chain, deadline - 1)
    with ape.reverts(rounds.TrainingRoundsNotStalled, roundId=round_id, deadline=deadline):
        rounds.abandonRound(round_id, sender=outsider)
    chain.pending_timestamp = deadline + 1
    assert rounds.abandonRound(round_id, sender=outsider).events.filter(rounds.RoundAbandoned)


def test_a_voided_proposal_still_challenged_holds_the_round(
    chain, flow, disputes, rounds, round_id, trainers, verifier_pool, outsider
):
    """An early proposal voided by a rejected update, with a challenge of it still open: its dispute is
    judged first (its outcome concerns the round), so the round cannot be abandoned meanwhile."""
    pool = verifier_pool
    flow.reveal(round_id, flow.commit(round_id, trainers[:3]))
    flow.propose(round_id, ALL)
    dispute_id = challenge(disputes, round_id, 1, pool[0])
    disputes.challengeProposal(round_id, 0, sender=pool[1], value=SPEC["challengeBond"])
    upheld = [(account_of(pool, m), True) for m in draw(chain, disputes, dispute_id)]
    reveal_votes(disputes, dispute_id, vote(disputes, dispute_id, upheld))
    assert disputes.resolve(dispute_id, sender=pool[0]).events.filter(rounds.ProposalVoided)
    flow.attest(round_id, bits(0, 2))
    assert rounds.phaseOf(round_id) == AGGREGATION
    at(chain, rounds.roundInfo(round_id).aggregationDeadline + 1)
    with ape.reverts(rounds.TrainingRoundsProposalPending, roundId=round_id):
        rounds.abandonRound(round_id, sender=outsider)
