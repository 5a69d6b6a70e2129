"""Unit tests of a round up to aggregation: claims and lapses, commit-reveal, the randomness of tasks and of
verification, attestations, phases with their deadlines and fast paths, missed reveals, auto-scaling."""

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak
from protocol_helpers import (
    AGGREGATION,
    CHALLENGE,
    CLAIMED,
    COMMIT,
    COMMITTED,
    DEFAULT_SPEC,
    ETHER,
    PENALIZED,
    REVEAL,
    TRAINER,
    Update,
    bits,
)

SPEC = DEFAULT_SPEC


@pytest.fixture
def committed(rounds, round_id, trainers):
    """Every slot of the first round committed by trainers 0..2: the reveal phase is open."""
    updates = [Update.make(t, s) for s, t in enumerate(trainers[:3])]
    for update in updates:
        rounds.claimAndCommit(round_id, update.slot, update.commitment, sender=update.trainer)
    return updates


@pytest.fixture
def revealed(rounds, round_id, committed, chain):
    for update in committed:
        rounds.reveal(*update.reveal_args(round_id), sender=update.trainer)
    chain.mine()
    return committed


def test_unknown_round_reverts(rounds, trainers):
    with ape.reverts(rounds.TrainingRoundsUnknownRound, roundId=999):
        rounds.roundInfo(999)
    with ape.reverts(rounds.TrainingRoundsUnknownRound, roundId=999):
        rounds.claimAndCommit(999, 0, b"\x01" * 32, sender=trainers[0])


def test_claim_and_commit(rounds, round_id, trainers):
    update = Update.make(trainers[0], 1)
    receipt = rounds.claimAndCommit(round_id, 1, update.commitment, sender=trainers[0])
    assert receipt.events == [rounds.UpdateCommitted(round_id, 1, trainers[0], update.commitment)]
    state = rounds.trainerState(round_id, trainers[0])
    assert state.claimed and state.slot == 1 and state.status == COMMITTED and not state.revealed
    assert list(rounds.openSlots(round_id)) == [0, 2]
    info = rounds.roundInfo(round_id)
    assert info.committed == 1 and info.phase == COMMIT


def test_claim_needs_trainer_stake(rounds, round_id, verifiers):
    with ape.reverts(
        rounds.TrainingRoundsInsufficientStake, account=verifiers[0], active=0, required=SPEC["trainerStake"]
    ):
        rounds.claimAndCommit(round_id, 0, b"\x01" * 32, sender=verifiers[0])


def test_stake_below_the_job_minimum_reverts(rounds, stakes, round_id, trainers):
    stakes.requestUnbond(TRAINER, 2 * ETHER - SPEC["trainerStake"] + 1, sender=trainers[0])
    with ape.reverts(rounds.TrainingRoundsInsufficientStake, account=trainers[0]):
        rounds.claim(round_id, 0, sender=trainers[0])


def test_slot_must_exist_and_be_free(rounds, round_id, trainers):
    with ape.reverts(rounds.TrainingRoundsSlotUnavailable, roundId=round_id, slot=3):
        rounds.claimAndCommit(round_id, 3, b"\x01" * 32, sender=trainers[0])
    rounds.claimAndCommit(round_id, 0, b"\x01" * 32, sender=trainers[0])
    with ape.reverts(rounds.TrainingRoundsSlotUnavailable, roundId=round_id, slot=0):
        rounds.claimAndCommit(round_id, 0, b"\x02" * 32, sender=trainers[1])


def test_double_claim_reverts(rounds, round_id, trainers):
    rounds.claimAndCommit(round_id, 0, b"\x01" * 32, sender=trainers[0])
    with ape.reverts(rounds.TrainingRoundsAlreadyClaimed, roundId=round_id, trainer=trainers[0]):
        rounds.claimAndCommit(round_id, 1, b"\x02" * 32, sender=trainers[0])
    with ape.reverts(rounds.TrainingRoundsAlreadyClaimed, roundId=round_id, trainer=trainers[0]):
        rounds.claim(round_id, 2, sender=trainers[0])


def test_zero_commitment_reverts(rounds, round_id, trainers):
    with ape.reverts(rounds.TrainingRoundsZeroCommitment):
        rounds.claimAndCommit(round_id, 0, b"\x00" * 32, sender=trainers[0])
    rounds.claim(round_id, 0, sender=trainers[0])
    with ape.reverts(rounds.TrainingRoundsZeroCommitment):
        rounds.commit(round_id, b"\x00" * 32, sender=trainers[0])


def test_two_step_claim_then_commit(rounds, round_id, trainers):
    receipt = rounds.claim(round_id, 2, sender=trainers[0])
    deadline = receipt.timestamp + SPEC["claimTtl"]
    assert receipt.events == [rounds.SlotClaimed(round_id, 2, trainers[0], deadline)]
    state = rounds.trainerState(round_id, trainers[0])
    assert state.status == CLAIMED and state.claimDeadline == deadline
    assert list(rounds.openSlots(round_id)) == [0, 1]
    receipt = rounds.commit(round_id, b"\x05" * 32, sender=trainers[0])
    assert receipt.events == [rounds.UpdateCommitted(round_id, 2, trainers[0], b"\x05" * 32)]
    with ape.reverts(rounds.TrainingRoundsNoClaim, roundId=round_id, trainer=trainers[0]):
        rounds.commit(round_id, b"\x06" * 32, sender=trainers[0])


def test_commit_without_claim_reverts(rounds, round_id, trainers):
    with ape.reverts(rounds.TrainingRoundsNoClaim, roundId=round_id, trainer=trainers[0]):
        rounds.commit(round_id, b"\x01" * 32, sender=trainers[0])


def test_claim_lapses_and_slot_reopens(chain, rounds, round_id, trainers):
    rounds.claim(round_id, 0, sender=trainers[0])
    chain.pending_timestamp += SPEC["claimTtl"] + 1
    with ape.reverts(rounds.TrainingRoundsNoClaim, roundId=round_id, trainer=trainers[0]):
        rounds.commit(round_id, b"\x01" * 32, sender=trainers[0])
    assert 0 in list(rounds.openSlots(round_id))
    rounds.claimAndCommit(round_id, 0, b"\x02" * 32, sender=trainers[1])
    # The lapsed trainer neither gets a second claim in this round nor the slot back.
    with ape.reverts(rounds.TrainingRoundsAlreadyClaimed, roundId=round_id, trainer=trainers[0]):
        rounds.claimAndCommit(round_id, 1, b"\x03" * 32, sender=trainers[0])
    assert rounds.trainerState(round_id, trainers[0]).status == 0


def test_every_slot_committed_opens_reveal_at_once(rounds, round_id, trainers):
    updates = [Update.make(t, s) for s, t in enumerate(trainers[:3])]
    for update in updates[:2]:
        rounds.claimAndCommit(round_id, update.slot, update.commitment, sender=update.trainer)
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=COMMIT):
        rounds.reveal(*updates[0].reveal_args(round_id), sender=trainers[0])
    receipt = rounds.claimAndCommit(round_id, 2, updates[2].commitment, sender=trainers[2])
    assert receipt.events == [
        rounds.UpdateCommitted(round_id, 2, trainers[2], updates[2].commitment),
        rounds.RoundPhaseAdvanced(round_id, REVEAL),
    ]
    assert rounds.phaseOf(round_id) == REVEAL
    assert list(rounds.openSlots(round_id)) == []
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=REVEAL):
        rounds.claimAndCommit(round_id, 0, b"\x01" * 32, sender=trainers[3])


def test_commit_after_deadline_reverts(chain, rounds, round_id, trainers):
    rounds.claimAndCommit(round_id, 0, Update.make(trainers[0], 0).commitment, sender=trainers[0])
    chain.pending_timestamp += SPEC["commitPhase"] + 1
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=REVEAL):
        rounds.claimAndCommit(round_id, 1, b"\x01" * 32, sender=trainers[1])


def test_reveal_closes_when_all_revealed(chain, rounds, round_id, committed):
    for update in committed[:2]:
        receipt = rounds.reveal(*update.reveal_args(round_id), sender=update.trainer)
        assert receipt.events == [
            rounds.UpdateRevealed(
                round_id, update.slot, update.trainer, update.cid, update.update_hash, update.trace_root
            )
        ]
    last = committed[2]
    receipt = rounds.reveal(*last.reveal_args(round_id), sender=last.trainer)
    assert receipt.events == [
        rounds.UpdateRevealed(round_id, last.slot, last.trainer, last.cid, last.update_hash, last.trace_root),
        rounds.RoundPhaseAdvanced(round_id, CHALLENGE),
        rounds.VerificationAnchored(round_id, receipt.block_number),
    ]
    info = rounds.roundInfo(round_id)
    assert info.phase == CHALLENGE and info.revealed == 3 and info.revealedSlots == bits(0, 1, 2)
    assert info.seedBlock == receipt.block_number
    assert rounds.trainerState(round_id, last.trainer).revealed


def test_bad_reveal_reverts(rounds, round_id, committed):
    update = committed[0]
    args = list(update.reveal_args(round_id))
    args[5] = b"\x99" * 32
    with ape.reverts(rounds.TrainingRoundsBadReveal, roundId=round_id, slot=update.slot):
        rounds.reveal(*args, sender=update.trainer)
    args = list(update.reveal_args(round_id))
    args[2] = update.cid + "x"
    with ape.reverts(rounds.TrainingRoundsBadReveal, roundId=round_id, slot=update.slot):
        rounds.reveal(*args, sender=update.trainer)


def test_double_reveal_reverts(rounds, round_id, committed):
    update = committed[0]
    rounds.reveal(*update.reveal_args(round_id), sender=update.trainer)
    with ape.reverts(rounds.TrainingRoundsAlreadyRevealed, roundId=round_id, slot=update.slot):
        rounds.reveal(*update.reveal_args(round_id), sender=update.trainer)


def test_reveal_of_someone_elses_slot_reverts(rounds, round_id, committed, trainers):
    update = committed[0]
    with ape.reverts(rounds.TrainingRoundsNotYourSlot, roundId=round_id, slot=0, caller=trainers[1]):
        rounds.reveal(*update.reveal_args(round_id), sender=trainers[1])


def test_late_reveal_reverts(chain, rounds, round_id, committed):
    rounds.reveal(*committed[0].reveal_args(round_id), sender=committed[0].trainer)
    chain.pending_timestamp += SPEC["revealPhase"] + 1
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=CHALLENGE):
        rounds.reveal(*committed[1].reveal_args(round_id), sender=committed[1].trainer)


def test_copied_commitment_cannot_be_revealed(rounds, round_id, trainers):
    """Attack: a copier commits the victim's commitment hash, then, once the victim revealed, replays the
    victim's values. The commitment binds the trainer's address, so the copy never opens."""
    victim, copier = trainers[0], trainers[1]
    original = Update.make(victim, 0)
    rounds.claimAndCommit(round_id, 0, original.commitment, sender=victim)
    rounds.claimAndCommit(round_id, 1, original.commitment, sender=copier)
    rounds.claimAndCommit(round_id, 2, Update.make(trainers[2], 2).commitment, sender=trainers[2])
    rounds.reveal(*original.reveal_args(round_id), sender=victim)
    copied = (round_id, 1, original.cid, original.update_hash, original.trace_root, original.salt)
    with ape.reverts(rounds.TrainingRoundsBadReveal, roundId=round_id, slot=1):
        rounds.reveal(*copied, sender=copier)
    # Nor can the copier commit anew to the revealed values: commits are closed before any reveal.
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=REVEAL):
        rounds.claimAndCommit(round_id, 0, Update.make(trainers[3], 0).commitment, sender=trainers[3])


def test_task_comes_from_the_round_seed_and_the_trainer(rounds, round_id, trainers):
    seed = rounds.roundInfo(round_id).taskSeed
    for trainer in trainers:
        expected = keccak(encode(["bytes32", "address"], [seed, trainer.address]))
        shard, task_seed = rounds.taskOf(round_id, trainer)
        assert task_seed == expected
        assert shard == int.from_bytes(expected, "big") % SPEC["shardCount"]
    # Claiming changes nothing: the trainer cannot pick its shard by choosing when or which slot to claim.
    before = rounds.taskOf(round_id, trainers[0])
    rounds.claimAndCommit(round_id, 2, b"\x01" * 32, sender=trainers[0])
    assert rounds.taskOf(round_id, trainers[0]) == before
    assert rounds.trainerState(round_id, trainers[0]).seed == before[1]


def test_verification_seed_comes_after_the_reveals(chain, rounds, round_id, committed):
    with ape.reverts(rounds.TrainingRoundsSeedUnavailable, roundId=round_id):
        rounds.verificationSeed(round_id)
    for update in committed:
        receipt = rounds.reveal(*update.reveal_args(round_id), sender=update.trainer)
    # The hash of the last reveal's block did not exist while the reveals were sent.
    with ape.reverts(rounds.TrainingRoundsSeedUnavailable, roundId=round_id):
        rounds.verificationSeed(round_id)
    chain.mine()
    block_hash = chain.blocks[receipt.block_number].hash
    assert rounds.verificationSeed(round_id) == keccak(encode(["bytes32", "uint256"], [block_hash, round_id]))


def test_open_verification_after_the_reveal_deadline(chain, rounds, round_id, committed, verifiers):
    for update in committed[:2]:
        rounds.reveal(*update.reveal_args(round_id), sender=update.trainer)
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=REVEAL):
        rounds.openVerification(round_id, sender=verifiers[0])
    chain.pending_timestamp += SPEC["revealPhase"] + 1
    with ape.reverts(rounds.TrainingRoundsSeedUnavailable, roundId=round_id):
        rounds.attest(round_id, bits(0), [1], sender=verifiers[0])
    receipt = rounds.openVerification(round_id, sender=verifiers[0])
    assert receipt.events == [rounds.VerificationAnchored(round_id, receipt.block_number)]
    with ape.reverts(rounds.TrainingRoundsSeedAnchored, roundId=round_id):
        rounds.openVerification(round_id, sender=verifiers[0])
    chain.mine()
    rounds.attest(round_id, bits(0, 1), [1, 2], sender=verifiers[0])


def test_attestations_close_the_window_at_quorum(rounds, round_id, revealed, verifiers):
    receipt = rounds.attest(round_id, bits(0, 2), [-5, 7], sender=verifiers[0])
    assert receipt.events == [rounds.UpdatesAttested(round_id, verifiers[0], bits(0, 2), [-5, 7])]
    assert rounds.attestationsOf(round_id, 0) == 1 and rounds.attestationsOf(round_id, 1) == 0
    assert rounds.attestedBy(round_id, verifiers[0]) == bits(0, 2)
    assert rounds.phaseOf(round_id) == CHALLENGE
    receipt = rounds.attest(round_id, bits(1), [3], sender=verifiers[1])
    assert receipt.events == [
        rounds.UpdatesAttested(round_id, verifiers[1], bits(1), [3]),
        rounds.RoundPhaseAdvanced(round_id, AGGREGATION),
    ]
    assert rounds.phaseOf(round_id) == AGGREGATION
    assert rounds.roundInfo(round_id).checked == 3
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=AGGREGATION):
        rounds.attest(round_id, bits(1), [3], sender=verifiers[2])


def test_attest_reverts(rounds, round_id, revealed, verifiers, trainers):
    with ape.reverts(
        rounds.TrainingRoundsInsufficientStake, account=trainers[0], active=0, required=SPEC["verifierStake"]
    ):
        rounds.attest(round_id, bits(0), [1], sender=trainers[0])
    with ape.reverts(rounds.TrainingRoundsInvalidSlots, roundId=round_id, slots=bits(3)):
        rounds.attest(round_id, bits(3), [1], sender=verifiers[0])
    with ape.reverts(rounds.TrainingRoundsInvalidSlots, roundId=round_id, slots=0):
        rounds.attest(round_id, 0, [], sender=verifiers[0])
    with ape.reverts(rounds.TrainingRoundsQualityCount, expected=2, given=1):
        rounds.attest(round_id, bits(0, 1), [1], sender=verifiers[0])
    rounds.attest(round_id, bits(0), [1], sender=verifiers[0])
    with ape.reverts(
        rounds.TrainingRoundsAlreadyAttested, roundId=round_id, verifier=verifiers[0], slots=bits(0, 1)
    ):
        rounds.attest(round_id, bits(0, 1), [1, 2], sender=verifiers[0])


def test_attest_before_reveals_close_reverts(rounds, round_id, committed, verifiers):
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=REVEAL):
        rounds.attest(round_id, bits(0), [1], sender=verifiers[0])


def test_challenge_window_closes_at_its_deadline(chain, rounds, round_id, revealed, verifiers):
    info = rounds.roundInfo(round_id)
    assert info.challengeDeadline == info.revealDeadline + SPEC["challengePhase"]
    chain.pending_timestamp = info.challengeDeadline + 1
    chain.mine()
    assert rounds.phaseOf(round_id) == AGGREGATION
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=AGGREGATION):
        rounds.attest(round_id, bits(0), [1], sender=verifiers[0])


def test_missed_reveal_is_penalized(chain, rounds, stakes, round_id, committed, outsider):
    for update in committed[:2]:
        rounds.reveal(*update.reveal_args(round_id), sender=update.trainer)
    missing = committed[2]
    with ape.reverts(rounds.TrainingRoundsNotMissed, roundId=round_id, slot=2):
        rounds.penalizeMissedReveal(round_id, 2, sender=outsider)
    chain.pending_timestamp += SPEC["revealPhase"] + 1
    with ape.reverts(rounds.TrainingRoundsNotMissed, roundId=round_id, slot=0):
        rounds.penalizeMissedReveal(round_id, 0, sender=outsider)
    penalty = SPEC["missedRevealPenalty"]
    receipt = rounds.penalizeMissedReveal(round_id, 2, sender=outsider)
    assert receipt.events == [
        stakes.Slashed(missing.trainer, TRAINER, penalty, outsider, penalty // 2),
        rounds.MissedRevealPenalized(round_id, 2, missing.trainer, outsider, penalty),
    ]
    assert stakes.creditOf(outsider) == penalty // 2
    assert rounds.trainerState(round_id, missing.trainer).status == PENALIZED
    with ape.reverts(rounds.TrainingRoundsNotMissed, roundId=round_id, slot=2):
        rounds.penalizeMissedReveal(round_id, 2, sender=outsider)


def test_missed_reveal_penalty_expires_with_the_challenge_deadline(
    chain, rounds, round_id, committed, outsider
):
    rounds.reveal(*committed[0].reveal_args(round_id), sender=committed[0].trainer)
    chain.pending_timestamp += SPEC["revealPhase"] + SPEC["challengePhase"] + 1
    with ape.reverts(rounds.TrainingRoundsNotMissed, roundId=round_id, slot=1):
        rounds.penalizeMissedReveal(round_id, 1, sender=outsider)


def test_round_without_commits_closes_empty(chain, rounds, round_id, job_id, outsider):
    chain.pending_timestamp += SPEC["commitPhase"] + 1
    chain.mine()
    assert rounds.phaseOf(round_id) == AGGREGATION
    receipt = rounds.closeEmptyRound(round_id, sender=outsider)
    next_round = rounds.currentRound(job_id)
    assert next_round == round_id + 1
    assert receipt.events.filter(rounds.RoundClosedEmpty) == [rounds.RoundClosedEmpty(round_id, job_id)]
    info = rounds.roundInfo(next_round)
    assert info.generation == 0 and info.number == 2 and info.slotCount == SPEC["minSlots"]
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=7):
        rounds.closeEmptyRound(round_id, sender=outsider)


def test_round_with_accepted_updates_cannot_close_empty(chain, rounds, round_id, revealed, outsider):
    chain.pending_timestamp += SPEC["challengePhase"] + 1
    with ape.reverts(rounds.TrainingRoundsWrongUpdates, expected=0, given=bits(0, 1, 2)):
        rounds.closeEmptyRound(round_id, sender=outsider)


def test_slot_count_follows_active_trainers(create_job, flow, rounds, trainers, chain):
    """Full rounds grow by one slot (within maxSlots); a round with idle slots shrinks toward the
    average number of trainers that committed."""
    job_id, round_id = create_job(minSlots=2, maxSlots=4)
    assert rounds.roundInfo(round_id).slotCount == 2
    flow.full_round(round_id, trainers[:2], tag="a")  # full: demand 2, +1
    round_id = rounds.currentRound(job_id)
    assert rounds.roundInfo(round_id).slotCount == 3
    flow.full_round(round_id, trainers[:3], tag="b")  # full: demand (2+3)/2 = 2.5 -> 3, +1
    round_id = rounds.currentRound(job_id)
    assert rounds.roundInfo(round_id).slotCount == 4
    # Only two trainers come back: the commit phase runs to its deadline and the next round shrinks.
    updates = flow.commit(round_id, trainers[:2], tag="c")
    flow.advance(SPEC["commitPhase"] + 1)
    flow.reveal(round_id, updates)
    flow.attest(round_id, bits(0, 1))
    flow.finalize(round_id, flow.propose(round_id, bits(0, 1), tag="c"))
    round_id = rounds.currentRound(job_id)
    assert rounds.roundInfo(round_id).slotCount == 3  # demand (2.5+2)/2 = 2.25 -> 3
