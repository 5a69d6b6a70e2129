"""Unit tests of Disputes: challenges of updates and proposals, the panel draw and its randomness, the
commit-reveal vote, every outcome with its slashes, rewards and bonds to the wei, and the attacks: a
challenger cannot pack the panel, and a rejected update is never aggregated nor rewarded."""

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak
from protocol_helpers import (
    AGGREGATION,
    AGGREGATOR,
    CHALLENGE,
    DEFAULT_SPEC,
    DISMISSED,
    ETHER,
    PENDING,
    PROPOSAL,
    REJECTED,
    TRAINER,
    UPHELD,
    VERIFIER,
    VOTE_SALT,
    account_of,
    bits,
    challenge,
    draw,
    reveal_votes,
    vote,
    vote_commitment,
)

SPEC = DEFAULT_SPEC
ALL = bits(0, 1, 2)
BOND = SPEC["challengeBond"]
SALT = VOTE_SALT


@pytest.fixture(scope="session")
def pool(verifier_pool):
    return verifier_pool


@pytest.fixture
def revealed(flow, round_id, trainers, pool):
    updates = flow.commit(round_id, trainers[:3])
    flow.reveal(round_id, updates)
    return updates


def expected_panel(chain, stakes, disputes, dispute, dispute_id, min_stake, size):
    """The draw, recomputed off-chain from the anchor block's hash: nobody can steer it after the fact.
    Random positions first, then a walk from a random position for the seats still empty."""
    block_hash = chain.blocks[dispute.anchorBlock].hash
    seed = keccak(encode(["bytes32", "uint256"], [block_hash, dispute_id]))
    pool_size = stakes.poolSize(VERIFIER)
    attempts = size * disputes.drawAttemptsPerSeat()

    def at(i):
        return int.from_bytes(keccak(encode(["bytes32", "uint256"], [seed, i])), "big") % pool_size

    start = at(attempts)
    walk = [(start + j) % pool_size for j in range(min(pool_size, disputes.drawScanLimit()))]
    chosen: list[str] = []
    for positions in ([at(i) for i in range(attempts)], walk):
        for position in positions:
            if len(chosen) == size:
                return chosen
            candidate = stakes.poolMember(VERIFIER, position)
            if candidate in (dispute.challenger, dispute.accused) or candidate in chosen:
                continue
            if stakes.activeStakeOf(candidate, VERIFIER) >= min_stake:
                chosen.append(candidate)
    return chosen


def test_challenge_update_opens_a_dispute(chain, disputes, rounds, stakes, round_id, revealed, pool):
    challenger, accused = pool[0], revealed[1].trainer
    receipt = disputes.challengeUpdate(round_id, 1, 7, sender=challenger, value=BOND)
    dispute_id = disputes.disputeCount()
    info = disputes.dispute(dispute_id)
    commit_deadline = receipt.timestamp + SPEC["voteCommitPhase"]
    assert receipt.events == [
        disputes.UpdateChallenged(
            dispute_id,
            round_id,
            challenger,
            1,
            accused,
            7,
            BOND,
            receipt.block_number + 1,
            commit_deadline,
            commit_deadline + SPEC["voteRevealPhase"],
        ),
        stakes.BondLocked(challenger, BOND),
    ]
    assert info.status == PENDING and info.accused == accused and not info.drawn
    assert stakes.bondOf(challenger) == BOND
    round_info = rounds.roundInfo(round_id)
    assert round_info.openDisputes == 1 and round_info.challengedSlots == bits(1)
    assert rounds.phaseOf(round_id) == CHALLENGE


def test_challenge_reverts(chain, disputes, rounds, stakes, round_id, revealed, pool, trainers):
    with ape.reverts(disputes.DisputesWrongBond, expected=BOND, given=BOND - 1):
        disputes.challengeUpdate(round_id, 0, 1, sender=pool[0], value=BOND - 1)
    with ape.reverts(disputes.DisputesInsufficientStake, account=trainers[3], active=0):
        disputes.challengeUpdate(round_id, 0, 1, sender=trainers[3], value=BOND)
    with ape.reverts(rounds.TrainingRoundsInvalidSlots, roundId=round_id, slots=bits(5)):
        disputes.challengeUpdate(round_id, 5, 1, sender=pool[0], value=BOND)
    stakes.stake(VERIFIER, sender=trainers[0], value=ETHER)
    with ape.reverts(disputes.DisputesSelfChallenge, account=trainers[0]):
        disputes.challengeUpdate(round_id, 0, 1, sender=trainers[0], value=BOND)
    with ape.reverts(disputes.DisputesUnknownDispute, disputeId=99):
        disputes.drawPanel(99, sender=pool[0])
    chain.pending_timestamp += SPEC["challengePhase"] + 1
    with ape.reverts(rounds.TrainingRoundsWrongPhase, roundId=round_id, phase=AGGREGATION):
        disputes.challengeUpdate(round_id, 0, 1, sender=pool[0], value=BOND)


def test_only_disputes_contract_reaches_the_round_hooks(rounds, round_id, revealed, outsider):
    role = rounds.DISPUTES_ROLE()
    with ape.reverts(rounds.AccessControlUnauthorizedAccount, account=outsider, neededRole=role):
        rounds.onUpdateChallenged(round_id, 0, sender=outsider)
    with ape.reverts(rounds.AccessControlUnauthorizedAccount, account=outsider, neededRole=role):
        rounds.onUpdateDisputeResolved(round_id, 0, True, sender=outsider)
    with ape.reverts(rounds.AccessControlUnauthorizedAccount, account=outsider, neededRole=role):
        rounds.onProposalChallenged(round_id, sender=outsider)
    with ape.reverts(rounds.AccessControlUnauthorizedAccount, account=outsider, neededRole=role):
        rounds.onProposalDisputeResolved(round_id, True, sender=outsider)


def test_panel_cannot_be_packed_by_the_challenger(chain, disputes, stakes, round_id, revealed, pool):
    """Attack: the challenger would like friends (or itself) on the panel. The panel comes from the hash of
    the block after the challenge, which did not exist when the challenge was sent; it cannot be drawn in
    the challenge's block nor drawn again; it never includes the challenger or the accused; and it is the
    draw anyone recomputes from that hash."""
    challenger = pool[0]
    receipt = disputes.challengeUpdate(round_id, 0, 1, sender=challenger, value=BOND)
    dispute_id = disputes.disputeCount()
    anchor = receipt.block_number + 1
    with ape.reverts(disputes.DisputesTooEarly, disputeId=dispute_id, anchorBlock=anchor):
        disputes.drawPanel(dispute_id, sender=challenger)  # runs in the anchor block itself
    chain.mine()
    receipt = disputes.drawPanel(dispute_id, sender=challenger)
    info = disputes.dispute(dispute_id)
    panel = list(info.panel)
    seed = keccak(encode(["bytes32", "uint256"], [chain.blocks[anchor].hash, dispute_id]))
    assert receipt.events == [disputes.PanelDrawn(dispute_id, panel, seed)]
    assert len(panel) == SPEC["panelSize"] == len(set(panel))
    assert challenger.address not in panel and revealed[0].trainer.address not in panel
    assert panel == expected_panel(
        chain, stakes, disputes, info, dispute_id, SPEC["verifierStake"], SPEC["panelSize"]
    )
    with ape.reverts(disputes.DisputesPanelDrawn, disputeId=dispute_id):
        disputes.drawPanel(dispute_id, sender=challenger)


def test_panel_skips_members_without_enough_stake(chain, disputes, stakes, round_id, revealed, pool):
    for member in pool[1:6]:
        stakes.requestUnbond(VERIFIER, 2 * ETHER - SPEC["verifierStake"] + 1, sender=member)
    dispute_id = challenge(disputes, round_id, 0, pool[0])
    panel = draw(chain, disputes, dispute_id)
    # Only the two members with enough stake can sit, and the walk after the random tries finds both
    # whatever the anchor block's hash; their order is the draw recomputed from that hash.
    assert sorted(panel) == sorted([pool[6].address, pool[7].address])
    info = disputes.dispute(dispute_id)
    assert panel == expected_panel(
        chain, stakes, disputes, info, dispute_id, SPEC["verifierStake"], SPEC["panelSize"]
    )


def test_panel_finds_the_one_eligible_member_among_dust_stakes(
    chain, accounts, admin, disputes, stakes, round_id, revealed, pool
):
    """Attack: dust stakes crowd the pool so that random tries miss the few real verifiers and the dispute
    is dismissed for want of a panel. The walk after the random tries still seats the one eligible member."""
    for member in pool[1:7]:
        stakes.requestUnbond(VERIFIER, 2 * ETHER - SPEC["verifierStake"] + 1, sender=member)
    for _ in range(40):
        dust = accounts.generate_test_account()
        admin.transfer(dust, ETHER // 100)
        stakes.stake(VERIFIER, sender=dust, value=1)
    assert stakes.poolSize(VERIFIER) == 48
    dispute_id = challenge(disputes, round_id, 0, pool[0])
    assert draw(chain, disputes, dispute_id) == [pool[7].address]


def test_upheld_challenge_slashes_the_trainer_and_rejects_the_update(
    chain, flow, disputes, rounds, stakes, token, round_id, revealed, pool, aggregator
):
    challenger, cheat = pool[0], revealed[1]
    dispute_id = challenge(disputes, round_id, 1, challenger)
    panel = draw(chain, disputes, dispute_id)
    accounts_ = pool
    voting = vote(disputes, dispute_id, [(account_of(accounts_, m), True) for m in panel])
    reveal_votes(disputes, dispute_id, voting)
    sink_before = stakes.totals().sinkPending
    receipt = disputes.resolve(dispute_id, sender=challenger)
    stake = SPEC["trainerStake"]
    assert receipt.events == [
        rounds.UpdateRejected(round_id, 1, cheat.trainer),
        stakes.Slashed(cheat.trainer, TRAINER, stake, challenger, stake // 2),
        stakes.BondReturned(challenger, BOND),
        disputes.DisputeResolved(dispute_id, UPHELD, 3, 0, cheat.trainer, stake),
    ]
    assert stakes.creditOf(challenger) == stake // 2 + BOND
    assert stakes.totals().sinkPending == sink_before + stake - stake // 2
    assert stakes.activeStakeOf(cheat.trainer, TRAINER) == 2 * ETHER - stake
    assert rounds.scoreOf(cheat.trainer).rejected == 1
    assert rounds.scoreOf(cheat.trainer).slashed == stake
    assert rounds.trainerState(round_id, cheat.trainer).rejected
    # The rejected update can neither be aggregated nor rewarded.
    assert rounds.phaseOf(round_id) == CHALLENGE  # slots 0 and 2 still wait for attestations
    flow.attest(round_id, bits(0, 2))
    assert rounds.phaseOf(round_id) == AGGREGATION
    with ape.reverts(rounds.TrainingRoundsWrongUpdates, expected=bits(0, 2), given=ALL):
        rounds.propose(round_id, "c", keccak(text="w"), [], ALL, sender=aggregator)
    receipt = flow.finalize(round_id, flow.propose(round_id, bits(0, 2)))
    assert receipt.events.filter(rounds.RoundFinalized)[0].acceptedSlots == bits(0, 2)
    minted_to = [e.to for e in receipt.events.filter(token.Transfer)]
    assert cheat.trainer.address not in minted_to and len(minted_to) == 3  # two trainers, the aggregator
    assert token.balanceOf(cheat.trainer) == 0
    with ape.reverts(disputes.DisputesNotPending, disputeId=dispute_id):
        disputes.resolve(dispute_id, sender=challenger)


def test_wrong_challenge_slashes_the_challenger(chain, disputes, rounds, stakes, round_id, revealed, pool):
    challenger, honest = pool[0], revealed[2].trainer
    dispute_id = challenge(disputes, round_id, 2, challenger)
    panel = draw(chain, disputes, dispute_id)
    voting = vote(disputes, dispute_id, [(account_of(pool, m), False) for m in panel])
    reveal_votes(disputes, dispute_id, voting)
    receipt = disputes.resolve(dispute_id, sender=honest)
    stake = SPEC["verifierStake"]
    assert receipt.events == [
        stakes.Slashed(challenger, VERIFIER, stake, honest, stake // 2),
        stakes.BondForfeited(challenger, BOND, honest, BOND // 2),
        disputes.DisputeResolved(dispute_id, REJECTED, 0, 3, challenger, stake),
    ]
    assert stakes.creditOf(honest) == stake // 2 + BOND // 2
    assert stakes.bondOf(challenger) == 0
    assert not rounds.trainerState(round_id, honest).rejected
    assert rounds.roundInfo(round_id).openDisputes == 0


def test_majority_decides_and_silent_members_pay(chain, disputes, stakes, round_id, revealed, pool):
    dispute_id = challenge(disputes, round_id, 0, pool[0])
    panel = [account_of(pool, m) for m in draw(chain, disputes, dispute_id)]
    voting = vote(disputes, dispute_id, [(panel[0], True), (panel[1], True), (panel[2], None)])
    chain.pending_timestamp += SPEC["voteCommitPhase"] + 1
    reveal_votes(disputes, dispute_id, voting)
    receipt = disputes.resolve(dispute_id, sender=pool[0])
    penalty = SPEC["panelPenalty"]
    assert receipt.events.filter(disputes.PanelMemberPenalized) == [
        disputes.PanelMemberPenalized(dispute_id, panel[2], penalty)
    ]
    assert receipt.events.filter(disputes.DisputeResolved)[0].status == UPHELD
    assert stakes.activeStakeOf(panel[2], VERIFIER) == 2 * ETHER - penalty
    assert stakes.activeStakeOf(panel[0], VERIFIER) == 2 * ETHER


def test_tie_dismisses_and_returns_the_bond(chain, disputes, rounds, stakes, round_id, revealed, pool):
    challenger = pool[0]
    dispute_id = challenge(disputes, round_id, 0, challenger)
    panel = [account_of(pool, m) for m in draw(chain, disputes, dispute_id)]
    voting = vote(disputes, dispute_id, [(panel[0], True), (panel[1], False), (panel[2], True)])
    chain.pending_timestamp += SPEC["voteCommitPhase"] + 1
    reveal_votes(disputes, dispute_id, voting[:2])  # the third committed but never revealed
    with ape.reverts(disputes.DisputesNotResolvable, disputeId=dispute_id):
        disputes.resolve(dispute_id, sender=challenger)
    chain.pending_timestamp += SPEC["voteRevealPhase"] + 1
    receipt = disputes.resolve(dispute_id, sender=challenger)
    penalty = SPEC["panelPenalty"]
    assert receipt.events == [
        stakes.BondReturned(challenger, BOND),
        disputes.DisputeResolved(dispute_id, DISMISSED, 1, 1, ape.utils.ZERO_ADDRESS, 0),
        stakes.Slashed(panel[2], VERIFIER, penalty, ape.utils.ZERO_ADDRESS, 0),
        disputes.PanelMemberPenalized(dispute_id, panel[2], penalty),
    ]
    assert not rounds.trainerState(round_id, revealed[0].trainer).rejected


def test_vote_reverts(chain, disputes, round_id, revealed, pool, trainers):
    dispute_id = challenge(disputes, round_id, 0, pool[0])
    with ape.reverts(disputes.DisputesCommitClosed, disputeId=dispute_id):
        disputes.commitVote(dispute_id, b"\x01" * 32, sender=pool[1])  # no panel yet
    panel = [account_of(pool, m) for m in draw(chain, disputes, dispute_id)]
    outsider = next(a for a in pool[1:] if a not in panel)
    with ape.reverts(disputes.DisputesNotOnPanel, disputeId=dispute_id, account=outsider):
        disputes.commitVote(dispute_id, b"\x01" * 32, sender=outsider)
    with ape.reverts(disputes.DisputesZeroCommitment):
        disputes.commitVote(dispute_id, b"\x00" * 32, sender=panel[0])
    vote(disputes, dispute_id, [(panel[0], True)])
    with ape.reverts(disputes.DisputesAlreadyVoted, disputeId=dispute_id, account=panel[0]):
        disputes.commitVote(dispute_id, b"\x01" * 32, sender=panel[0])
    with ape.reverts(disputes.DisputesRevealClosed, disputeId=dispute_id):
        disputes.revealVote(dispute_id, True, SALT, sender=panel[0])  # others may still commit
    with ape.reverts(disputes.DisputesNotResolvable, disputeId=dispute_id):
        disputes.resolve(dispute_id, sender=panel[0])
    vote(disputes, dispute_id, [(panel[1], False), (panel[2], False)])
    with ape.reverts(disputes.DisputesBadVote, disputeId=dispute_id, account=panel[0]):
        disputes.revealVote(dispute_id, False, SALT, sender=panel[0])
    disputes.revealVote(dispute_id, True, SALT, sender=panel[0])
    with ape.reverts(disputes.DisputesNothingToReveal, disputeId=dispute_id, account=panel[0]):
        disputes.revealVote(dispute_id, True, SALT, sender=panel[0])
    with ape.reverts(disputes.DisputesNothingToReveal, disputeId=dispute_id, account=outsider):
        disputes.revealVote(dispute_id, True, SALT, sender=outsider)
    chain.pending_timestamp += SPEC["voteCommitPhase"] + SPEC["voteRevealPhase"] + 1
    with ape.reverts(disputes.DisputesRevealClosed, disputeId=dispute_id):
        disputes.revealVote(dispute_id, False, SALT, sender=panel[1])


def test_copied_vote_cannot_be_revealed(chain, disputes, round_id, revealed, pool):
    """A member that copies another's vote commitment cannot open it: the voter's address is inside."""
    dispute_id = challenge(disputes, round_id, 0, pool[0])
    panel = [account_of(pool, m) for m in draw(chain, disputes, dispute_id)]
    original = vote_commitment(dispute_id, True, SALT, panel[0])
    for member in panel:
        disputes.commitVote(dispute_id, original, sender=member)
    disputes.revealVote(dispute_id, True, SALT, sender=panel[0])
    with ape.reverts(disputes.DisputesBadVote, disputeId=dispute_id, account=panel[1]):
        disputes.revealVote(dispute_id, True, SALT, sender=panel[1])


def test_undrawn_dispute_is_dismissed_after_the_commit_deadline(
    chain, disputes, stakes, round_id, revealed, pool
):
    dispute_id = challenge(disputes, round_id, 0, pool[0])
    with ape.reverts(disputes.DisputesNotResolvable, disputeId=dispute_id):
        disputes.resolve(dispute_id, sender=pool[0])
    chain.pending_timestamp += SPEC["voteCommitPhase"] + 1
    with ape.reverts(disputes.DisputesCommitClosed, disputeId=dispute_id):
        disputes.drawPanel(dispute_id, sender=pool[0])
    receipt = disputes.resolve(dispute_id, sender=pool[0])
    assert receipt.events.filter(disputes.DisputeResolved)[0].status == DISMISSED
    assert stakes.creditOf(pool[0]) == BOND


def test_stale_anchor_is_reanchored(chain, disputes, round_id, revealed, pool):
    dispute_id = challenge(disputes, round_id, 0, pool[0])
    chain.mine(300)
    receipt = disputes.drawPanel(dispute_id, sender=pool[0])
    assert receipt.events == [disputes.PanelReanchored(dispute_id, receipt.block_number)]
    assert not disputes.dispute(dispute_id).drawn
    chain.mine()
    disputes.drawPanel(dispute_id, sender=pool[0])
    assert len(disputes.dispute(dispute_id).panel) == SPEC["panelSize"]


def test_rejected_update_is_not_slashed_twice(chain, disputes, rounds, stakes, round_id, revealed, pool):
    first = challenge(disputes, round_id, 1, pool[0])
    second = challenge(disputes, round_id, 1, pool[1])
    assert rounds.roundInfo(round_id).openDisputes == 2
    for dispute_id in (first, second):
        panel = draw(chain, disputes, dispute_id)
        voting = vote(disputes, dispute_id, [(account_of(pool, m), True) for m in panel])
        reveal_votes(disputes, dispute_id, voting)
    disputes.resolve(first, sender=pool[0])
    receipt = disputes.resolve(second, sender=pool[1])
    assert receipt.events.filter(stakes.Slashed) == []
    assert receipt.events.filter(stakes.BondReturned) == [stakes.BondReturned(pool[1], BOND)]
    assert stakes.slashedOf(revealed[1].trainer) == SPEC["trainerStake"]


def test_challenge_of_a_proposal(chain, flow, disputes, rounds, stakes, round_id, revealed, pool, aggregator):
    flow.attest(round_id, ALL)
    proposal = flow.propose(round_id, ALL, tag="bad")
    challenger = pool[0]
    receipt = disputes.challengeProposal(round_id, 0, sender=challenger, value=BOND)
    dispute_id = disputes.disputeCount()
    assert receipt.events.filter(disputes.ProposalChallenged)[0].accused == aggregator
    assert rounds.proposalOf(round_id).disputed
    with ape.reverts(rounds.TrainingRoundsNotFinalizable, roundId=round_id):
        rounds.finalize(round_id, *proposal, sender=aggregator)
    with ape.reverts(rounds.TrainingRoundsNoProposal, roundId=round_id):
        disputes.challengeProposal(round_id, 0, sender=pool[1], value=BOND)
    panel = draw(chain, disputes, dispute_id)
    assert aggregator.address not in panel
    voting = vote(disputes, dispute_id, [(account_of(pool, m), True) for m in panel])
    reveal_votes(disputes, dispute_id, voting)
    receipt = disputes.resolve(dispute_id, sender=challenger)
    stake = SPEC["aggregatorStake"]
    assert receipt.events == [
        rounds.ProposalRejected(round_id, 1, aggregator),
        stakes.Slashed(aggregator, AGGREGATOR, stake, challenger, stake // 2),
        stakes.BondReturned(challenger, BOND),
        disputes.DisputeResolved(dispute_id, UPHELD, 3, 0, aggregator, stake),
    ]
    assert rounds.phaseOf(round_id) == AGGREGATION
    # Another aggregator proposes and finalizes.
    other = pool[7]
    stakes.stake(AGGREGATOR, sender=other, value=stake)
    good = flow.propose(round_id, ALL, tag="good", sender=other)
    assert rounds.proposalOf(round_id).nonce == 2
    assert rounds.phaseOf(round_id) == PROPOSAL
    receipt = flow.finalize(round_id, good, sender=other)
    assert receipt.events.filter(rounds.RoundFinalized)[0].aggregator == other


def test_wrong_proposal_challenge_keeps_the_proposal(chain, flow, disputes, rounds, round_id, revealed, pool):
    flow.attest(round_id, ALL)
    proposal = flow.propose(round_id, ALL)
    disputes.challengeProposal(round_id, 0, sender=pool[0], value=BOND)
    dispute_id = disputes.disputeCount()
    panel = draw(chain, disputes, dispute_id)
    reveal_votes(
        disputes, dispute_id, vote(disputes, dispute_id, [(account_of(pool, m), False) for m in panel])
    )
    disputes.resolve(dispute_id, sender=pool[0])
    info = rounds.proposalOf(round_id)
    assert not info.disputed and info.nonce == 1
    flow.finalize(round_id, proposal)
    assert rounds.phaseOf(round_id) == 6
