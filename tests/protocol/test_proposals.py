"""Unit tests of aggregation and finality: proposals, their window and attestations, finalization (the
generation record, minting, the next round), verifier rewards, the scoreboard, and that nothing is minted
before finality."""

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak
from protocol_helpers import (
    AGGREGATION,
    AOAI,
    DEFAULT_SPEC,
    FINALIZED,
    PROPOSAL,
    bits,
    proposal_digest,
)

from agents.node.verifier import finality_gas

SPEC = DEFAULT_SPEC
ALL = bits(0, 1, 2)


@pytest.fixture
def proposed(flow, round_id, attested):
    return flow.propose(round_id, ALL)


def test_propose(rounds, round_id, job_id, attested, aggregator):
    cid, weights_hash, metrics = "bafybeinext", keccak(text="w1"), [-7, 8]
    receipt = rounds.propose(round_id, cid, weights_hash, metrics, ALL, sender=aggregator)
    assert receipt.events == [
        rounds.GenerationProposed(round_id, job_id, aggregator, 1, 1, cid, weights_hash, metrics, ALL)
    ]
    info = rounds.proposalOf(round_id)
    assert info.aggregator == aggregator and info.nonce == 1 and not info.finalizable
    assert info.deadline == receipt.timestamp + SPEC["proposalPhase"]
    assert info.digest == proposal_digest(cid, weights_hash, metrics)
    assert rounds.phaseOf(round_id) == PROPOSAL


def test_propose_needs_aggregator_stake(rounds, round_id, attested, verifiers):
    with ape.reverts(
        rounds.TrainingRoundsInsufficientStake,
        account=verifiers[0],
        active=0,
        required=SPEC["aggregatorStake"],
    ):
        rounds.propose(round_id, "c", keccak(text="w"), [], ALL, sender=verifiers[0])


def test_propose_must_name_exactly_the_accepted_updates(rounds, round_id, attested, aggregator):
    for given in (bits(0, 1), bits(0, 1, 2, 3), 0):
        with ape.reverts(rounds.TrainingRoundsWrongUpdates, expected=ALL, given=given):
            rounds.propose(round_id, "c", keccak(text="w"), [], given, sender=aggregator)


def test_propose_too_many_metrics_reverts(rounds, round_id, attested, aggregator):
    with ape.reverts(rounds.TrainingRoundsTooManyMetrics, count=17):
        rounds.propose(round_id, "c", keccak(text="w"), list(range(17)), ALL, sender=aggregator)


def test_second_proposal_reverts_while_one_is_live(rounds, round_id, proposed, extra_accounts, stakes):
    other = extra_accounts[0]
    stakes.stake(2, sender=other, value=SPEC["aggregatorStake"])
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=PROPOSAL):
        rounds.propose(round_id, "c", keccak(text="w"), [], ALL, sender=other)


def test_finalize_early_reverts(rounds, round_id, proposed, outsider):
    with ape.reverts(rounds.TrainingRoundsNotFinalizable, roundId=round_id):
        rounds.finalize(round_id, *proposed, sender=outsider)


def test_finalize_without_proposal_reverts(rounds, round_id, attested, outsider):
    with ape.reverts(rounds.TrainingRoundsNoProposal, roundId=round_id):
        rounds.finalize(round_id, "c", keccak(text="w"), [], sender=outsider)


def test_finalize_with_other_values_reverts(flow, rounds, round_id, proposed, outsider):
    flow.advance(SPEC["proposalPhase"] + 1)
    cid, weights_hash, metrics = proposed
    for args in (
        (cid + "x", weights_hash, metrics),
        (cid, keccak(text="x"), metrics),
        (cid, weights_hash, [1]),
    ):
        with ape.reverts(rounds.TrainingRoundsProposalMismatch, roundId=round_id):
            rounds.finalize(round_id, *args, sender=outsider)


def test_nothing_is_minted_before_finality(
    flow, token, rounds, round_id, proposed, trainers, aggregator, outsider
):
    """Attack: commit, reveal, attestations and a proposal mint nothing; a direct mint is refused."""
    assert token.totalSupply() == 0
    assert rounds.pendingVerifierReward(round_id, flow.verifiers[0]) == 0
    with ape.reverts(rounds.TrainingRoundsNothingToClaim, roundId=round_id, verifier=flow.verifiers[0]):
        rounds.claimVerifierRewards([round_id], sender=flow.verifiers[0])
    for caller in (aggregator, outsider, trainers[0]):
        with ape.reverts(
            token.AccessControlUnauthorizedAccount, account=caller, neededRole=token.MINTER_ROLE()
        ):
            token.mint(caller, 1, sender=caller)
    with ape.reverts(rounds.TrainingRoundsNotFinalizable, roundId=round_id):
        rounds.finalize(round_id, *proposed, sender=outsider)
    assert token.totalSupply() == 0


def test_finalize_records_mints_and_opens_next_round(
    flow, token, models, rounds, round_id, job_id, attested, proposed, aggregator, outsider
):
    flow.advance(SPEC["proposalPhase"] + 1)
    cid, weights_hash, metrics = proposed
    receipt = rounds.finalize(round_id, cid, weights_hash, metrics, sender=outsider)
    reward, fee = SPEC["rewardPerUpdate"], SPEC["aggregatorReward"]
    next_round = rounds.currentRound(job_id)
    info = rounds.roundInfo(next_round)
    zero = ape.utils.ZERO_ADDRESS
    expected = [models.GenerationRecorded(job_id, 1, round_id, job_id, 0, cid, weights_hash, metrics)]
    expected += [token.Transfer(zero, update.trainer, reward) for update in attested]
    expected += [
        token.Transfer(zero, aggregator, fee),
        rounds.RoundFinalized(
            round_id, job_id, 1, aggregator, ALL, fee, 3 * SPEC["verifierRewardPerUpdate"], 3
        ),
        rounds.RoundOpened(
            next_round, job_id, 2, 1, info.slotCount, info.taskSeed, receipt.timestamp + SPEC["commitPhase"]
        ),
    ]
    assert receipt.events == expected
    assert rounds.phaseOf(round_id) == FINALIZED
    assert token.totalSupply() == 3 * reward + fee
    record = models.generation(job_id, 1)
    assert record.roundId == round_id and record.weightsHash == weights_hash
    assert record.cidHash == keccak(text=cid)
    assert record.metricsHash == keccak(encode(["int256[]"], [metrics]))
    assert info.generation == 1 and info.number == 2
    for update in attested:
        score = rounds.scoreOf(update.trainer)
        assert (score.accepted, score.rejected, score.earned, score.slashed) == (1, 0, reward, 0)
    assert rounds.scoreOf(aggregator).earned == fee
    with ape.reverts(rounds.TrainingRoundsNoProposal, roundId=round_id):
        rounds.finalize(round_id, cid, weights_hash, metrics, sender=outsider)


def test_the_attestation_that_completes_the_quorum_finalizes(
    create_job, staked, flow, rounds, models, token, trainers, verifiers, aggregator, outsider
):
    """Quorum 2: the first attestation only counts; the second closes the window and finalizes the round in
    its own transaction (no finalize call), with the rewards of a finalized round and the next round open."""
    job, round_id = create_job(attestationQuorum=2)
    updates = flow.commit(round_id, trainers[:3])
    flow.reveal(round_id, updates)
    flow.attest(round_id, ALL, verifiers[:2])
    assert rounds.phaseOf(round_id) == AGGREGATION
    proposal = flow.propose(round_id, ALL)
    receipt = rounds.attestProposal(round_id, *proposal, sender=verifiers[0])
    assert receipt.events == [rounds.ProposalAttested(round_id, verifiers[0], 1, 1)]
    with ape.reverts(rounds.TrainingRoundsAlreadyAttestedProposal, roundId=round_id, verifier=verifiers[0]):
        rounds.attestProposal(round_id, *proposal, sender=verifiers[0])
    with ape.reverts(rounds.TrainingRoundsNotFinalizable, roundId=round_id):
        rounds.finalize(round_id, *proposal, sender=outsider)
    with ape.reverts(rounds.TrainingRoundsInsufficientStake, account=trainers[0]):
        rounds.attestProposal(round_id, *proposal, sender=trainers[0])
    assert token.totalSupply() == 0
    receipt = rounds.attestProposal(round_id, *proposal, sender=verifiers[1])
    assert receipt.events.filter(rounds.ProposalAttested) == [
        rounds.ProposalAttested(round_id, verifiers[1], 1, 2)
    ]
    [finalized] = receipt.events.filter(rounds.RoundFinalized)
    assert finalized.roundId == round_id and finalized.generation == 1 and finalized.aggregator == aggregator
    assert len(receipt.events.filter(rounds.RoundOpened)) == 1
    assert rounds.phaseOf(round_id) == FINALIZED
    assert models.generationCount(job) == 2
    assert token.totalSupply() == 3 * SPEC["rewardPerUpdate"] + SPEC["aggregatorReward"]
    with ape.reverts(rounds.TrainingRoundsNoProposal, roundId=round_id):
        rounds.attestProposal(round_id, *proposal, sender=verifiers[2])
    with ape.reverts(rounds.TrainingRoundsNoProposal, roundId=round_id):
        rounds.finalize(round_id, *proposal, sender=outsider)


def test_attest_proposal_binds_the_proposed_values(create_job, staked, flow, rounds, trainers, verifiers):
    """An attestation names the values it recomputed: any other cid, weights hash or metrics revert, and the
    attestation is not counted."""
    _, round_id = create_job(attestationQuorum=2)
    updates = flow.commit(round_id, trainers[:3])
    flow.reveal(round_id, updates)
    flow.attest(round_id, ALL, verifiers[:2])
    cid, weights_hash, metrics = flow.propose(round_id, ALL)
    for args in (
        ("bafybeiother", weights_hash, metrics),
        (cid, keccak(text="other"), metrics),
        (cid, weights_hash, [*metrics[:-1], metrics[-1] + 1]),
    ):
        with ape.reverts(rounds.TrainingRoundsProposalMismatch, roundId=round_id):
            rounds.attestProposal(round_id, *args, sender=verifiers[0])
    assert rounds.proposalOf(round_id).attestations == 0
    assert rounds.attestedBy(round_id, verifiers[0]) >> 255 == 0


@pytest.mark.parametrize("size", [1, 4])
def test_the_verifier_agents_gas_limit_covers_finality(
    create_job, staked, flow, rounds, trainers, verifiers, size
):
    """The verifier agent sends every proposal attestation with ``finality_gas`` (another's attestation may
    land first and make its own the finalizing one): that covers finality on a job's first round, the
    dearest (fresh storage for every slot and trainer)."""
    _, round_id = create_job(attestationQuorum=2, minSlots=size, maxSlots=size)
    updates = flow.commit(round_id, trainers[:size])
    flow.reveal(round_id, updates)
    accepted = bits(*range(size))
    flow.attest(round_id, accepted, verifiers[:2])
    proposal = flow.propose(round_id, accepted)
    rounds.attestProposal(round_id, *proposal, sender=verifiers[0])
    receipt = rounds.attestProposal(round_id, *proposal, sender=verifiers[1])
    assert receipt.events.filter(rounds.RoundFinalized)
    assert receipt.gas_used <= finality_gas(size)


def test_attest_proposal_without_proposal_reverts(rounds, round_id, attested, verifiers):
    with ape.reverts(rounds.TrainingRoundsNoProposal, roundId=round_id):
        rounds.attestProposal(round_id, "c", keccak(text="w"), [], sender=verifiers[0])


def test_verifiers_share_the_pool_by_attestations_of_accepted_updates(
    create_job, flow, rounds, token, trainers, verifiers, outsider
):
    """Verifier 0 attests all three updates, verifier 1 two: the pool (3 x 10 AOAI) splits 3:2."""
    _, round_id = create_job()
    updates = flow.commit(round_id, trainers[:3])
    flow.reveal(round_id, updates)
    rounds.attest(round_id, bits(0, 1), [1, 2], sender=verifiers[1])
    rounds.attest(round_id, ALL, [1, 2, 3], sender=verifiers[0])
    flow.finalize(round_id, flow.propose(round_id, ALL))
    pool = 3 * SPEC["verifierRewardPerUpdate"]
    assert rounds.pendingVerifierReward(round_id, verifiers[0]) == pool * 3 // 5
    assert rounds.pendingVerifierReward(round_id, verifiers[1]) == pool * 2 // 5
    assert rounds.pendingVerifierReward(round_id, verifiers[2]) == 0
    receipt = rounds.claimVerifierRewards([round_id], sender=verifiers[0])
    assert receipt.events == [
        rounds.VerifierRewardClaimed(round_id, verifiers[0], 3, pool * 3 // 5),
        token.Transfer(ape.utils.ZERO_ADDRESS, verifiers[0], pool * 3 // 5),
    ]
    assert token.balanceOf(verifiers[0]) == pool * 3 // 5
    assert rounds.attestedBy(round_id, verifiers[0]) == 0
    with ape.reverts(rounds.TrainingRoundsNothingToClaim, roundId=round_id, verifier=verifiers[0]):
        rounds.claimVerifierRewards([round_id], sender=verifiers[0])
    with ape.reverts(rounds.TrainingRoundsNothingToClaim, roundId=round_id, verifier=verifiers[2]):
        rounds.claimVerifierRewards([round_id], sender=verifiers[2])


def test_verifier_claims_several_rounds_in_one_mint(
    flow, rounds, token, job_id, round_id, trainers, verifiers
):
    flow.full_round(round_id, trainers[:3], tag="a")
    second = rounds.currentRound(job_id)
    flow.full_round(second, trainers[:3], tag="b")
    verifier = verifiers[0]
    expected = rounds.pendingVerifierReward(round_id, verifier) + rounds.pendingVerifierReward(
        second, verifier
    )
    assert expected == 2 * 3 * SPEC["verifierRewardPerUpdate"]
    receipt = rounds.claimVerifierRewards([round_id, second], sender=verifier)
    assert len(receipt.events.filter(token.Transfer)) == 1
    assert token.balanceOf(verifier) == expected
    assert rounds.scoreOf(verifier).earned == expected


def test_views_after_a_round(flow, rounds, models, job_id, round_id, trainers):
    flow.full_round(round_id, trainers[:3])
    assert models.generationCount(job_id) == 2
    state = rounds.trainerState(round_id, trainers[0])
    assert state.claimed and state.revealed and not state.rejected
    assert rounds.roundInfo(round_id).phase == FINALIZED
    assert list(rounds.openSlots(round_id)) == []


def test_finality_clamps_mints_at_the_cap(
    flow, token, rounds, admin, round_id, attested, proposed, aggregator
):
    """Near the cap, finality still happens: trainers are minted in slot order until the cap is reached."""
    token.grantRole(token.MINTER_ROLE(), admin, sender=admin)
    cap = token.cap()
    token.mint(admin, cap - 150 * AOAI, sender=admin)
    flow.finalize(round_id, proposed)
    assert [token.balanceOf(u.trainer) for u in attested] == [100 * AOAI, 50 * AOAI, 0]
    assert token.balanceOf(aggregator) == 0
    assert token.totalSupply() == cap
    assert rounds.phaseOf(round_id) == FINALIZED


def test_closed_round_views(flow, rounds, round_id, trainers, verifiers):
    flow.full_round(round_id, trainers[:3])
    info = rounds.roundInfo(round_id)
    assert (info.committed, info.revealed, info.revealedSlots) == (3, 3, ALL)
    assert (info.commitDeadline, info.seedBlock, info.taskSeed) == (0, 0, b"\x00" * 32)
    assert rounds.proposalOf(round_id).aggregator == ape.utils.ZERO_ADDRESS
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=FINALIZED):
        rounds.taskOf(round_id, trainers[0])
    with ape.reverts(rounds.TrainingRoundsSeedUnavailable, roundId=round_id):
        rounds.verificationSeed(round_id)
