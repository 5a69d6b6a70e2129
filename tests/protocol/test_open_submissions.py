"""Open submissions: `claimAndSubmit` claims a slot and publishes the update in one transaction, without a
commitment to reveal later. A full house of open updates goes straight to verification, anchored in its
last block; sealed (commit-reveal) and open updates mix in one round."""

import ape
from protocol_helpers import (
    AGGREGATION,
    CHALLENGE,
    COMMIT,
    COMMITTED,
    DEFAULT_SPEC,
    REVEAL,
    Update,
    bits,
)

SPEC = DEFAULT_SPEC


def test_submit_claims_and_reveals_in_one_call(rounds, round_id, trainers):
    update = Update.make(trainers[0], 1)
    receipt = rounds.claimAndSubmit(*update.submit_args(round_id), sender=trainers[0])
    assert receipt.events == [
        rounds.UpdateCommitted(round_id, 1, trainers[0], b"\x00" * 32),
        rounds.UpdateRevealed(round_id, 1, trainers[0], update.cid, update.update_hash, update.trace_root),
    ]
    state = rounds.trainerState(round_id, trainers[0])
    assert state.claimed and state.slot == 1 and state.status == COMMITTED and state.revealed
    assert list(rounds.openSlots(round_id)) == [0, 2]
    info = rounds.roundInfo(round_id)
    assert info.phase == COMMIT and info.committed == 1 and info.revealedSlots == bits(1)
    assert info.seedBlock == 0  # verification waits for the full house: the seed must follow every update


def test_a_full_house_of_open_updates_goes_straight_to_verification(
    chain, rounds, round_id, trainers, verifiers
):
    updates = [Update.make(t, s) for s, t in enumerate(trainers[:3])]
    for update in updates[:2]:
        rounds.claimAndSubmit(*update.submit_args(round_id), sender=update.trainer)
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=COMMIT):
        rounds.attest(round_id, bits(0), [1], sender=verifiers[0])
    last = updates[2]
    receipt = rounds.claimAndSubmit(*last.submit_args(round_id), sender=last.trainer)
    assert receipt.events == [
        rounds.UpdateCommitted(round_id, 2, last.trainer, b"\x00" * 32),
        rounds.UpdateRevealed(round_id, 2, last.trainer, last.cid, last.update_hash, last.trace_root),
        rounds.RoundPhaseAdvanced(round_id, CHALLENGE),
        rounds.VerificationAnchored(round_id, receipt.block_number),
    ]
    info = rounds.roundInfo(round_id)
    assert info.phase == CHALLENGE and info.revealedSlots == bits(0, 1, 2)
    assert info.seedBlock == receipt.block_number
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=CHALLENGE):
        rounds.claimAndSubmit(*Update.make(trainers[3], 0).submit_args(round_id), sender=trainers[3])
    chain.mine()
    rounds.attest(round_id, bits(0, 1, 2), [1, 2, 3], sender=verifiers[0])
    assert rounds.phaseOf(round_id) == AGGREGATION


def test_submit_has_the_guards_of_a_claim(rounds, round_id, trainers, verifiers):
    update = Update.make(trainers[0], 0)
    with ape.reverts(rounds.TrainingRoundsInsufficientStake, account=verifiers[0]):
        rounds.claimAndSubmit(*Update.make(verifiers[0], 0).submit_args(round_id), sender=verifiers[0])
    with ape.reverts(rounds.TrainingRoundsSlotUnavailable, roundId=round_id, slot=3):
        rounds.claimAndSubmit(
            round_id, 3, update.cid, update.update_hash, update.trace_root, sender=trainers[0]
        )
    rounds.claimAndSubmit(*update.submit_args(round_id), sender=trainers[0])
    with ape.reverts(rounds.TrainingRoundsAlreadyClaimed, roundId=round_id, trainer=trainers[0]):
        rounds.claimAndSubmit(*Update.make(trainers[0], 1).submit_args(round_id), sender=trainers[0])


def test_a_taken_slot_gives_way_to_the_next_open_one(rounds, round_id, trainers):
    """Two trainers that picked the same free slot both get in: no lost race, no retry."""
    first, second, third = (Update.make(t, 2) for t in trainers[:3])
    rounds.claimAndSubmit(*first.submit_args(round_id), sender=first.trainer)
    receipt = rounds.claimAndSubmit(*second.submit_args(round_id), sender=second.trainer)
    assert receipt.events[0] == rounds.UpdateCommitted(round_id, 0, second.trainer, b"\x00" * 32)  # wrapped
    receipt = rounds.claimAndSubmit(*third.submit_args(round_id), sender=third.trainer)
    assert receipt.events[:2] == [
        rounds.UpdateCommitted(round_id, 1, third.trainer, b"\x00" * 32),
        rounds.UpdateRevealed(round_id, 1, third.trainer, third.cid, third.update_hash, third.trace_root),
    ]
    assert rounds.trainerState(round_id, third.trainer).slot == 1
    assert rounds.phaseOf(round_id) == CHALLENGE


def test_submit_reverts_when_every_slot_is_held(rounds, round_id, trainers):
    """Reserved slots (a two-step claim not committed yet) are held too: nothing to give way to."""
    for slot, trainer in enumerate(trainers[:2]):
        rounds.claim(round_id, slot, sender=trainer)
    rounds.claimAndSubmit(*Update.make(trainers[2], 2).submit_args(round_id), sender=trainers[2])
    assert rounds.phaseOf(round_id) == COMMIT
    with ape.reverts(rounds.TrainingRoundsSlotUnavailable, roundId=round_id, slot=1):
        rounds.claimAndSubmit(*Update.make(trainers[3], 1).submit_args(round_id), sender=trainers[3])


def test_sealed_and_open_updates_mix(chain, rounds, round_id, trainers, outsider):
    """The full house opens reveals for the sealed update only; its reveal anchors verification. An open
    update has nothing to reveal and no reveal to miss."""
    sealed = Update.make(trainers[0], 0)
    rounds.claimAndCommit(round_id, 0, sealed.commitment, sender=trainers[0])
    opened = [Update.make(t, s) for s, t in ((1, trainers[1]), (2, trainers[2]))]
    for update in opened:
        receipt = rounds.claimAndSubmit(*update.submit_args(round_id), sender=update.trainer)
    assert receipt.events[-1] == rounds.RoundPhaseAdvanced(round_id, REVEAL)
    update = opened[0]
    with ape.reverts(rounds.TrainingRoundsAlreadyRevealed, roundId=round_id, slot=1):
        rounds.reveal(
            round_id, 1, update.cid, update.update_hash, update.trace_root, b"\x00" * 32, sender=trainers[1]
        )
    with ape.reverts(rounds.TrainingRoundsNotMissed, roundId=round_id, slot=1):
        rounds.penalizeMissedReveal(round_id, 1, sender=outsider)
    receipt = rounds.reveal(*sealed.reveal_args(round_id), sender=trainers[0])
    assert receipt.events[-2:] == [
        rounds.RoundPhaseAdvanced(round_id, CHALLENGE),
        rounds.VerificationAnchored(round_id, receipt.block_number),
    ]
    chain.pending_timestamp += SPEC["revealPhase"] + 1
    with ape.reverts(rounds.TrainingRoundsNotMissed, roundId=round_id, slot=2):
        rounds.penalizeMissedReveal(round_id, 2, sender=outsider)


def test_open_updates_short_of_a_full_house_are_verified_after_the_commit_deadline(
    chain, rounds, round_id, trainers, verifiers
):
    """No reveal phase (nothing sealed to reveal): the challenge phase follows the commit deadline, and a
    verifier anchors its seed."""
    for update in [Update.make(t, s) for s, t in enumerate(trainers[:2])]:
        rounds.claimAndSubmit(*update.submit_args(round_id), sender=update.trainer)
    chain.pending_timestamp += SPEC["commitPhase"] + 1
    chain.mine()
    assert rounds.phaseOf(round_id) == CHALLENGE
    with ape.reverts(rounds.TrainingRoundsSeedUnavailable, roundId=round_id):
        rounds.attest(round_id, bits(0, 1), [1, 2], sender=verifiers[0])
    receipt = rounds.openVerification(round_id, sender=verifiers[0])
    assert receipt.events == [rounds.VerificationAnchored(round_id, receipt.block_number)]
    chain.mine()
    rounds.attest(round_id, bits(0, 1), [1, 2], sender=verifiers[0])
    assert rounds.phaseOf(round_id) == AGGREGATION


def test_open_updates_are_rewarded_at_finality(chain, flow, rounds, token, round_id, trainers, aggregator):
    updates = flow.submit(round_id, trainers[:3])
    chain.mine()  # the seed reads the hash of the last submission's block
    flow.attest(round_id, bits(0, 1, 2))
    proposal = flow.propose(round_id, bits(0, 1, 2))
    flow.finalize(round_id, proposal)
    for update in updates:
        assert token.balanceOf(update.trainer) == SPEC["rewardPerUpdate"]
    assert token.totalSupply() == 3 * SPEC["rewardPerUpdate"] + SPEC["aggregatorReward"]
