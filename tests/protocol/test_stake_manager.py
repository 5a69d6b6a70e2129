"""Unit tests of StakeManager (a fresh one, not the protocol's): staking per role, unbonding, withdrawal,
slashing (also of unbonding stake), bonds, pull payouts, the sink, the verifier pool, roles, re-entry,
and the books to the wei."""

import ape
import pytest
from protocol_helpers import AGGREGATOR, ETHER, REWARD_SHARE_BPS, TRAINER, UNBONDING_DELAY, VERIFIER


@pytest.fixture(scope="module")
def stakes(project, admin, token):
    """A stake manager of its own, so the books start empty whatever other modules staked."""
    return admin.deploy(project.StakeManager, admin, token, UNBONDING_DELAY, REWARD_SHARE_BPS)


@pytest.fixture(scope="module")
def slasher(accounts, stakes, admin):
    """A plain account holding SLASHER_ROLE, to drive slashing and bonds directly."""
    account = accounts[8]
    stakes.grantRole(stakes.SLASHER_ROLE(), account, sender=admin)
    return account


def assert_books_balance(stakes):
    t = stakes.totals()
    assert t.deposited == t.withdrawn + t.slashed + t.active + t.unbonding
    assert t.bondsLocked == t.bonds + t.bondsReturned + t.bondsForfeited
    assert t.slashed + t.bondsForfeited + t.bondsReturned == t.credits + t.paidOut + t.sinkPending + t.sunk
    assert stakes.balance == t.active + t.unbonding + t.bonds + t.credits + t.sinkPending


def test_parameters(stakes, token, admin):
    assert stakes.unbondingDelay() == UNBONDING_DELAY
    assert stakes.rewardShareBps() == REWARD_SHARE_BPS
    assert stakes.sink() == token.address
    assert stakes.hasRole(stakes.DEFAULT_ADMIN_ROLE(), admin)


def test_invalid_share_reverts(project, admin, token):
    with ape.reverts(project.StakeManager.StakeManagerInvalidShare, bps=10_001):
        admin.deploy(project.StakeManager, admin, token, 1, 10_001)


def test_stake_per_role(stakes, trainers):
    alice = trainers[0]
    receipt = stakes.stake(TRAINER, sender=alice, value=ETHER)
    assert receipt.events == [stakes.Staked(alice, TRAINER, ETHER, ETHER)]
    stakes.stake(VERIFIER, sender=alice, value=3 * ETHER)
    stakes.stake(TRAINER, sender=alice, value=ETHER)
    assert stakes.activeStakeOf(alice, TRAINER) == 2 * ETHER
    assert stakes.activeStakeOf(alice, VERIFIER) == 3 * ETHER
    assert stakes.activeStakeOf(alice, AGGREGATOR) == 0
    info = stakes.stakeOf(alice, TRAINER)
    assert (info.active, info.unbonding, info.releaseAt) == (2 * ETHER, 0, 0)
    assert stakes.totals().deposited == 5 * ETHER
    assert stakes.balance == 5 * ETHER
    assert_books_balance(stakes)


def test_zero_stake_reverts(stakes, trainers):
    with ape.reverts(stakes.StakeManagerZeroAmount):
        stakes.stake(TRAINER, sender=trainers[0], value=0)


def test_unbond_then_withdraw_after_delay(chain, stakes, trainers):
    alice = trainers[0]
    stakes.stake(TRAINER, sender=alice, value=3 * ETHER)
    receipt = stakes.requestUnbond(TRAINER, 2 * ETHER, sender=alice)
    release = receipt.timestamp + UNBONDING_DELAY
    assert receipt.events == [stakes.UnbondingRequested(alice, TRAINER, 2 * ETHER, 2 * ETHER, release)]
    assert stakes.activeStakeOf(alice, TRAINER) == ETHER
    with ape.reverts(stakes.StakeManagerStillUnbonding, account=alice, role=TRAINER, releaseAt=release):
        stakes.withdraw(TRAINER, sender=alice)
    chain.pending_timestamp = release
    before = alice.balance
    receipt = stakes.withdraw(TRAINER, sender=alice)
    assert receipt.events == [stakes.Withdrawn(alice, TRAINER, 2 * ETHER)]
    assert alice.balance == before + 2 * ETHER - receipt.total_fees_paid
    assert stakes.stakeOf(alice, TRAINER).unbonding == 0
    with ape.reverts(stakes.StakeManagerNothingUnbonding, account=alice, role=TRAINER):
        stakes.withdraw(TRAINER, sender=alice)
    assert_books_balance(stakes)


def test_new_unbond_restarts_the_delay(chain, stakes, trainers):
    alice = trainers[0]
    stakes.stake(TRAINER, sender=alice, value=2 * ETHER)
    stakes.requestUnbond(TRAINER, ETHER, sender=alice)
    chain.pending_timestamp += UNBONDING_DELAY - 10
    receipt = stakes.requestUnbond(TRAINER, ETHER, sender=alice)
    assert stakes.stakeOf(alice, TRAINER).releaseAt == receipt.timestamp + UNBONDING_DELAY
    chain.pending_timestamp += 20
    with ape.reverts(stakes.StakeManagerStillUnbonding):
        stakes.withdraw(TRAINER, sender=alice)


def test_unbond_more_than_active_reverts(stakes, trainers):
    alice = trainers[0]
    stakes.stake(TRAINER, sender=alice, value=ETHER)
    with ape.reverts(
        stakes.StakeManagerInsufficientStake, account=alice, role=TRAINER, requested=ETHER + 1, active=ETHER
    ):
        stakes.requestUnbond(TRAINER, ETHER + 1, sender=alice)
    with ape.reverts(stakes.StakeManagerZeroAmount):
        stakes.requestUnbond(TRAINER, 0, sender=alice)


def test_slash_takes_active_then_unbonding(stakes, slasher, trainers, verifiers):
    alice, winner = trainers[0], verifiers[0]
    stakes.stake(TRAINER, sender=alice, value=3 * ETHER)
    stakes.requestUnbond(TRAINER, 2 * ETHER, sender=alice)
    receipt = stakes.slash(alice, TRAINER, 2 * ETHER, winner, sender=slasher)
    assert receipt.events == [stakes.Slashed(alice, TRAINER, 2 * ETHER, winner, ETHER)]
    info = stakes.stakeOf(alice, TRAINER)
    assert (info.active, info.unbonding) == (0, ETHER)
    assert stakes.creditOf(winner) == ETHER
    assert stakes.totals().sinkPending == ETHER
    assert stakes.slashedOf(alice) == 2 * ETHER
    assert_books_balance(stakes)


def test_slash_reaches_unbonding_stake_and_caps_at_what_is_left(chain, stakes, slasher, trainers):
    alice = trainers[0]
    stakes.stake(TRAINER, sender=alice, value=ETHER)
    stakes.requestUnbond(TRAINER, ETHER, sender=alice)
    chain.pending_timestamp += UNBONDING_DELAY - 1
    receipt = stakes.slash(alice, TRAINER, 5 * ETHER, ape.utils.ZERO_ADDRESS, sender=slasher)
    assert receipt.events == [stakes.Slashed(alice, TRAINER, ETHER, ape.utils.ZERO_ADDRESS, 0)]
    assert stakes.totals().sinkPending == ETHER
    chain.pending_timestamp += 10
    with ape.reverts(stakes.StakeManagerNothingUnbonding):
        stakes.withdraw(TRAINER, sender=alice)
    empty = stakes.slash(alice, TRAINER, ETHER, ape.utils.ZERO_ADDRESS, sender=slasher)
    assert empty.events == []
    assert_books_balance(stakes)


def test_slash_odd_amount_is_accounted_to_the_wei(stakes, slasher, trainers, verifiers):
    alice = trainers[0]
    stakes.stake(TRAINER, sender=alice, value=ETHER)
    stakes.slash(alice, TRAINER, 7, verifiers[0], sender=slasher)
    assert stakes.creditOf(verifiers[0]) == 3
    assert stakes.totals().sinkPending == 4
    assert_books_balance(stakes)


def test_only_slasher_slashes_and_handles_bonds(stakes, trainers, verifiers, admin):
    role = stakes.SLASHER_ROLE()
    for caller in (admin, trainers[0]):
        with ape.reverts(stakes.AccessControlUnauthorizedAccount, account=caller, neededRole=role):
            stakes.slash(trainers[1], TRAINER, 1, caller, sender=caller)
        with ape.reverts(stakes.AccessControlUnauthorizedAccount, account=caller, neededRole=role):
            stakes.lockBond(caller, sender=caller, value=1)
        with ape.reverts(stakes.AccessControlUnauthorizedAccount, account=caller, neededRole=role):
            stakes.returnBond(caller, 1, sender=caller)
        with ape.reverts(stakes.AccessControlUnauthorizedAccount, account=caller, neededRole=role):
            stakes.forfeitBond(caller, 1, caller, sender=caller)


def test_bonds_return_and_forfeit(stakes, slasher, verifiers, trainers):
    challenger, accused = verifiers[0], trainers[0]
    receipt = stakes.lockBond(challenger, sender=slasher, value=ETHER)
    assert receipt.events == [stakes.BondLocked(challenger, ETHER)]
    assert stakes.bondOf(challenger) == ETHER
    receipt = stakes.returnBond(challenger, ETHER // 4, sender=slasher)
    assert receipt.events == [stakes.BondReturned(challenger, ETHER // 4)]
    receipt = stakes.forfeitBond(challenger, ETHER // 2, accused, sender=slasher)
    assert receipt.events == [stakes.BondForfeited(challenger, ETHER // 2, accused, ETHER // 4)]
    assert stakes.bondOf(challenger) == ETHER // 4
    assert stakes.creditOf(challenger) == ETHER // 4
    assert stakes.creditOf(accused) == ETHER // 4
    with ape.reverts(stakes.StakeManagerInsufficientBond, account=challenger, amount=ETHER, held=ETHER // 4):
        stakes.returnBond(challenger, ETHER, sender=slasher)
    with ape.reverts(stakes.StakeManagerZeroAmount):
        stakes.lockBond(challenger, sender=slasher, value=0)
    with ape.reverts(stakes.StakeManagerZeroAmount):
        stakes.forfeitBond(challenger, 0, accused, sender=slasher)
    assert_books_balance(stakes)


def test_claim_payout_once(stakes, slasher, trainers, verifiers):
    alice, winner = trainers[0], verifiers[0]
    stakes.stake(TRAINER, sender=alice, value=ETHER)
    stakes.slash(alice, TRAINER, ETHER, winner, sender=slasher)
    before = winner.balance
    receipt = stakes.claimPayout(sender=winner)
    assert receipt.events == [stakes.PayoutClaimed(winner, ETHER // 2)]
    assert winner.balance == before + ETHER // 2 - receipt.total_fees_paid
    with ape.reverts(stakes.StakeManagerNothingToClaim, account=winner):
        stakes.claimPayout(sender=winner)
    assert_books_balance(stakes)


def test_flush_sink_pays_holders_dividends(stakes, slasher, token, trainers, admin):
    alice = trainers[0]
    stakes.stake(TRAINER, sender=alice, value=ETHER)
    stakes.slash(alice, TRAINER, ETHER, ape.utils.ZERO_ADDRESS, sender=slasher)
    with ape.reverts(stakes.StakeManagerNothingToSink):
        stakes.flushSink(sender=alice)  # no AOAI exists yet: nobody could claim the dividends
    token.grantRole(token.MINTER_ROLE(), admin, sender=admin)
    token.mint(trainers[1], 10, sender=admin)
    receipt = stakes.flushSink(sender=alice)
    assert receipt.events == [
        stakes.SinkFlushed(token, ETHER),
        token.DividendsDeposited(stakes, ETHER),
    ]
    assert token.withdrawableDividendsOf(trainers[1]) == ETHER
    assert stakes.totals().sunk == ETHER
    with ape.reverts(stakes.StakeManagerNothingToSink):
        stakes.flushSink(sender=alice)
    assert_books_balance(stakes)


def test_pool_tracks_active_stakers(stakes, slasher, verifiers):
    a, b, c = verifiers[:3]
    for v in (a, b, c):
        stakes.stake(VERIFIER, sender=v, value=ETHER)
    assert stakes.poolSize(VERIFIER) == 3
    stakes.requestUnbond(VERIFIER, ETHER, sender=a)
    assert stakes.poolSize(VERIFIER) == 2
    assert {stakes.poolMember(VERIFIER, i) for i in range(2)} == {b.address, c.address}
    stakes.slash(b, VERIFIER, ETHER, ape.utils.ZERO_ADDRESS, sender=slasher)
    assert stakes.poolSize(VERIFIER) == 1
    assert stakes.poolMember(VERIFIER, 0) == c
    stakes.stake(VERIFIER, sender=a, value=1)
    assert stakes.poolSize(VERIFIER) == 2
    stakes.requestUnbond(VERIFIER, ETHER // 2, sender=c)  # partial: stays in the pool
    assert stakes.poolSize(VERIFIER) == 2
    assert stakes.poolSize(TRAINER) == 0


def test_reentrant_withdraw_is_paid_once(chain, project, stakes, admin, outsider):
    attacker = admin.deploy(project.ReentrantStaker, stakes)
    attacker.stake(sender=outsider, value=ETHER)
    attacker.unbond(ETHER, sender=outsider)
    chain.pending_timestamp += UNBONDING_DELAY
    attacker.withdraw(sender=outsider)
    assert attacker.reentered()
    assert not attacker.reentrySucceeded()
    assert attacker.received() == ETHER
    assert attacker.balance == ETHER
    assert stakes.balance == 0
    assert_books_balance(stakes)


def test_reentrant_payout_claim_is_paid_once(project, stakes, slasher, admin, outsider, trainers):
    attacker = admin.deploy(project.ReentrantStaker, stakes)
    stakes.stake(TRAINER, sender=trainers[0], value=ETHER)
    stakes.slash(trainers[0], TRAINER, ETHER, attacker, sender=slasher)
    attacker.claimPayout(sender=outsider)
    assert attacker.reentered()
    assert not attacker.reentrySucceeded()
    assert attacker.received() == ETHER // 2
    assert stakes.creditOf(attacker) == 0
    assert_books_balance(stakes)
