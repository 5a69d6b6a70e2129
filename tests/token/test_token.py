"""Unit tests of AOAIToken: roles, cap, dividends, every revert path."""

import ape

ETHER = 10**18
CAP = 1_000_000_000 * ETHER


def test_metadata_and_roles(token, admin, minter):
    assert token.name() == "ActuallyOpenAI"
    assert token.symbol() == "AOAI"
    assert token.decimals() == 18
    assert token.cap() == CAP
    assert token.totalSupply() == 0
    assert token.hasRole(token.DEFAULT_ADMIN_ROLE(), admin)
    assert token.hasRole(token.MINTER_ROLE(), minter)
    assert not token.hasRole(token.MINTER_ROLE(), admin)


def test_mint_by_minter(token, minter, holders):
    receipt = token.mint(holders[0], 5 * ETHER, sender=minter)
    assert token.balanceOf(holders[0]) == 5 * ETHER
    assert token.totalSupply() == 5 * ETHER
    assert receipt.events == [token.Transfer(ape.utils.ZERO_ADDRESS, holders[0], 5 * ETHER)]


def test_mint_by_anyone_else_reverts(token, admin, outsider, holders):
    role = token.MINTER_ROLE()
    for caller in (admin, outsider):
        with ape.reverts(token.AccessControlUnauthorizedAccount, account=caller, neededRole=role):
            token.mint(holders[0], 1, sender=caller)


def test_mint_past_cap_reverts(token, minter, holders):
    token.mint(holders[0], CAP, sender=minter)
    with ape.reverts(token.ERC20ExceededCap, increasedSupply=CAP + 1, cap=CAP):
        token.mint(holders[1], 1, sender=minter)


def test_deposit_without_supply_reverts(token, outsider):
    with ape.reverts(token.AOAITokenNoSupply):
        token.depositDividends(sender=outsider, value=ETHER)
    with ape.reverts(token.AOAITokenNoSupply):
        outsider.transfer(token, ETHER)


def test_zero_deposit_reverts(token, minter, holders, outsider):
    token.mint(holders[0], ETHER, sender=minter)
    with ape.reverts(token.AOAITokenZeroDeposit):
        token.depositDividends(sender=outsider, value=0)


def test_deposit_is_shared_pro_rata(token, minter, holders, outsider):
    token.mint(holders[0], 1 * ETHER, sender=minter)
    token.mint(holders[1], 3 * ETHER, sender=minter)
    receipt = token.depositDividends(sender=outsider, value=4 * ETHER)
    assert receipt.events == [token.DividendsDeposited(outsider, 4 * ETHER)]
    assert token.withdrawableDividendsOf(holders[0]) == 1 * ETHER
    assert token.withdrawableDividendsOf(holders[1]) == 3 * ETHER
    assert token.totalDividendsDeposited() == 4 * ETHER
    assert token.balance == 4 * ETHER


def test_plain_transfer_is_a_deposit(token, minter, holders, outsider):
    token.mint(holders[0], ETHER, sender=minter)
    outsider.transfer(token, ETHER)
    assert token.withdrawableDividendsOf(holders[0]) == ETHER
    assert token.totalDividendsDeposited() == ETHER


def test_rounding_dust_is_carried_not_accumulated(token, minter, holders, outsider):
    """A deposit that does not divide evenly leaves at most 1 wei per holder behind, and the
    remainder is carried into the next deposit, so the dust never grows with the number of deposits."""
    token.mint(holders[0], ETHER, sender=minter)
    for deposits in range(1, 11):
        token.depositDividends(sender=outsider, value=7)
        assert 7 * deposits - 1 <= token.withdrawableDividendsOf(holders[0]) <= 7 * deposits


def test_transfer_moves_future_dividends_not_past(token, minter, holders, outsider):
    a, b = holders[0], holders[1]
    token.mint(a, 2 * ETHER, sender=minter)
    token.depositDividends(sender=outsider, value=ETHER)
    token.transfer(b, ETHER, sender=a)
    assert token.accumulativeDividendsOf(a) == ETHER
    assert token.accumulativeDividendsOf(b) == 0
    token.depositDividends(sender=outsider, value=ETHER)
    assert token.accumulativeDividendsOf(a) == ETHER + ETHER // 2
    assert token.accumulativeDividendsOf(b) == ETHER // 2


def test_new_mint_earns_no_past_dividends(token, minter, holders, outsider):
    token.mint(holders[0], ETHER, sender=minter)
    token.depositDividends(sender=outsider, value=ETHER)
    token.mint(holders[1], 99 * ETHER, sender=minter)
    assert token.withdrawableDividendsOf(holders[1]) == 0
    assert token.withdrawableDividendsOf(holders[0]) == ETHER


def test_claim_pays_exactly_once(token, minter, holders, outsider):
    holder = holders[0]
    token.mint(holder, ETHER, sender=minter)
    token.depositDividends(sender=outsider, value=3 * ETHER)
    before = holder.balance
    receipt = token.claimDividends(sender=holder)
    assert receipt.events == [token.DividendsClaimed(holder, 3 * ETHER)]
    assert holder.balance == before + 3 * ETHER - receipt.total_fees_paid
    assert token.withdrawableDividendsOf(holder) == 0
    assert token.withdrawnDividendsOf(holder) == 3 * ETHER
    assert token.accumulativeDividendsOf(holder) == 3 * ETHER
    assert token.totalDividendsWithdrawn() == 3 * ETHER
    assert token.balance == 0
    with ape.reverts(token.AOAITokenNothingToClaim, account=holder):
        token.claimDividends(sender=holder)


def test_claim_with_nothing_reverts(token, outsider):
    with ape.reverts(token.AOAITokenNothingToClaim, account=outsider):
        token.claimDividends(sender=outsider)


def test_reentrant_claim_gets_nothing_extra(project, token, minter, holders, outsider, admin):
    attacker = admin.deploy(project.ReentrantClaimer, token)
    token.mint(attacker, ETHER, sender=minter)
    token.mint(holders[0], ETHER, sender=minter)
    token.depositDividends(sender=outsider, value=2 * ETHER)
    with ape.reverts(token.AOAITokenPaymentFailed, account=attacker, amount=ETHER):
        attacker.attack(sender=outsider)
    assert token.withdrawnDividendsOf(attacker) == 0
    assert token.withdrawableDividendsOf(attacker) == ETHER
    assert token.balance == 2 * ETHER


def test_admin_cannot_take_deposited_eth(token, admin, minter, holders, outsider):
    token.mint(holders[0], ETHER, sender=minter)
    token.depositDividends(sender=outsider, value=ETHER)
    token.grantRole(token.MINTER_ROLE(), admin, sender=admin)
    token.mint(admin, 1_000 * ETHER, sender=admin)
    with ape.reverts(token.AOAITokenNothingToClaim, account=admin):
        token.claimDividends(sender=admin)
    assert token.withdrawableDividendsOf(holders[0]) == ETHER


def test_only_admin_grants_minter_role(token, minter, outsider):
    role = token.MINTER_ROLE()
    for caller in (minter, outsider):
        with ape.reverts(token.AccessControlUnauthorizedAccount, account=caller):
            token.grantRole(role, outsider, sender=caller)
    assert not token.hasRole(role, outsider)
