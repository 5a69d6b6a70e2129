"""Unit tests of Billing: every function, event and revert path."""

from fractions import Fraction

import ape
import pytest
from eth_account.messages import encode_typed_data
from eth_hash.auto import keccak

from agents.billing.typed_data import SECP256K1_N, Eip712Domain
from agents.billing.vouchers import Voucher, billing_domain, billing_domain_of, sign_voucher

ETHER = 10**18
NOTICE = 3_600  # the notice period `deploy_billing` sets


def send(method, *args, **kwargs):
    """Sends a transaction; returns what the function returned and the receipt. The in-process chain does not
    trace transactions, so the value comes from an eth_call on the same state just before."""
    value = method.call(*args, **kwargs)
    return value, method(*args, **kwargs)


def test_deployment(billing, token, admin, gateway, chain):
    assert billing.token() == token.address
    assert billing.noticePeriod() == NOTICE
    assert billing.hasRole(billing.DEFAULT_ADMIN_ROLE(), admin)
    assert billing.hasRole(billing.GATEWAY_ROLE(), gateway)
    assert not billing.hasRole(billing.GATEWAY_ROLE(), admin)
    assert billing.protocolFee() == (ape.utils.ZERO_ADDRESS, 0)
    assert billing.MAX_PROTOCOL_FEE_BPS() == 1_000
    assert billing.pendingRevenue() == 0
    assert billing_domain_of(billing) == billing_domain(chain.chain_id, billing.address)


def test_constructor_rejects_zero_token_and_bad_notice(project, admin, token):
    with ape.reverts(project.Billing.BillingZeroToken):
        admin.deploy(project.Billing, admin, ape.utils.ZERO_ADDRESS, NOTICE)
    month = 30 * 24 * 3600
    for notice in (0, month + 1):
        with ape.reverts(project.Billing.BillingInvalidNoticePeriod, noticePeriod=notice, max=month):
            admin.deploy(project.Billing, admin, token, notice)
    assert admin.deploy(project.Billing, admin, token, month).noticePeriod() == month


def test_voucher_digest_matches_contract_and_eth_account(billing, domain, user, gateway):
    voucher = Voucher(user.address, gateway.address, 123 * ETHER)
    standard = encode_typed_data(full_message=voucher.typed_data(domain))
    assert voucher.digest(domain) == keccak(b"\x19" + standard.version + standard.header + standard.body)
    assert voucher.digest(domain) == bytes(billing.hashVoucher(voucher.as_tuple()))
    assert billing.VOUCHER_TYPEHASH() == keccak(
        b"Voucher(address user,address gateway,uint256 cumulativeAmount)"
    )


def test_deposit(billing, user):
    receipt = billing.deposit(sender=user, value=2 * ETHER)
    assert receipt.events == [billing.CreditDeposited(user, 2 * ETHER, 2 * ETHER)]
    receipt = billing.deposit(sender=user, value=ETHER)
    assert receipt.events == [billing.CreditDeposited(user, ETHER, 3 * ETHER)]
    assert billing.creditOf(user) == 3 * ETHER
    assert billing.spendableCreditOf(user) == 3 * ETHER
    assert billing.redeemableCreditOf(user) == 3 * ETHER
    assert billing.balance == 3 * ETHER


def test_zero_deposit_reverts(billing, user):
    with ape.reverts(billing.BillingZeroAmount):
        billing.deposit(sender=user, value=0)


def test_redeem_pays_holders(billing, token, with_holder, user, gateway, signed):
    billing.deposit(sender=user, value=5 * ETHER)
    voucher, signature = signed(user, 2 * ETHER)
    value, receipt = send(billing.redeem, voucher, signature, sender=gateway)
    assert value == 2 * ETHER
    assert receipt.events == [
        billing.VoucherRedeemed(user, gateway, 2 * ETHER, 2 * ETHER, 0),
        billing.RevenueDistributed(2 * ETHER),
        token.DividendsDeposited(billing, 2 * ETHER),
    ]
    assert billing.creditOf(user) == 3 * ETHER
    assert billing.redeemed(user, gateway) == 2 * ETHER
    assert token.withdrawableDividendsOf(with_holder) == 2 * ETHER
    assert billing.balance == 3 * ETHER


def test_cumulative_voucher_pays_only_the_difference(billing, with_holder, user, gateway, signed):
    billing.deposit(sender=user, value=5 * ETHER)
    first = signed(user, ETHER)
    second = signed(user, 3 * ETHER)
    billing.redeem(*first, sender=gateway)
    value, _ = send(billing.redeem, *second, sender=gateway)
    assert value == 2 * ETHER
    assert billing.redeemed(user, gateway) == 3 * ETHER
    assert billing.creditOf(user) == 2 * ETHER


def test_replayed_or_older_voucher_pays_nothing(billing, token, with_holder, user, gateway, signed):
    billing.deposit(sender=user, value=5 * ETHER)
    older = signed(user, ETHER)
    latest = signed(user, 3 * ETHER)
    billing.redeem(*latest, sender=gateway)
    for voucher in (latest, older):
        value, receipt = send(billing.redeem, *voucher, sender=gateway)
        assert value == 0
        assert receipt.events == []
    assert billing.redeemed(user, gateway) == 3 * ETHER
    assert billing.creditOf(user) == 2 * ETHER
    assert token.totalDividendsDeposited() == 3 * ETHER


def test_only_gateways_redeem(billing, admin, outsider, user, signed):
    billing.deposit(sender=user, value=ETHER)
    role = billing.GATEWAY_ROLE()
    for caller in (admin, outsider, user):
        voucher, signature = signed(user, ETHER, to=caller.address)
        with ape.reverts(billing.AccessControlUnauthorizedAccount, account=caller, neededRole=role):
            billing.redeem(voucher, signature, sender=caller)
        with ape.reverts(billing.AccessControlUnauthorizedAccount, account=caller, neededRole=role):
            billing.redeemBatch([voucher], [signature], sender=caller)
    assert billing.creditOf(user) == ETHER


def test_voucher_for_another_gateway_reverts(billing, admin, accounts, user, gateway, signed):
    other = accounts[4]
    billing.grantRole(billing.GATEWAY_ROLE(), other, sender=admin)
    billing.deposit(sender=user, value=ETHER)
    voucher, signature = signed(user, ETHER)
    with ape.reverts(billing.BillingWrongGateway, index=0, gateway=gateway):
        billing.redeem(voucher, signature, sender=other)
    # Rewriting the gateway field breaks the signature.
    with ape.reverts(billing.BillingInvalidSignature, index=0, user=user):
        billing.redeem((user.address, other.address, ETHER), signature, sender=other)
    assert billing.redeemed(user, other) == 0
    assert billing.creditOf(user) == ETHER


def test_signature_by_someone_else_reverts(billing, users, gateway, domain):
    victim, thief = users
    billing.deposit(sender=victim, value=ETHER)
    forged = sign_voucher(thief, domain, gateway.address, ETHER)
    voucher = (victim.address, gateway.address, ETHER)
    with ape.reverts(billing.BillingInvalidSignature, index=0, user=victim):
        billing.redeem(voucher, forged.signature, sender=gateway)
    assert billing.creditOf(victim) == ETHER


def test_tampered_amount_and_malformed_signatures_revert(billing, user, gateway, signed):
    billing.deposit(sender=user, value=5 * ETHER)
    (owner, to, amount), signature = signed(user, ETHER)
    bad_signatures = [
        signature[:64],  # too short
        signature + b"\x00",  # too long
        signature[:64] + bytes([55 - signature[64]]),  # the other recovery id: another signer
        signature[:64] + bytes([signature[64] - 27]),  # v of 0 or 1: refused by ecrecover
        b"\x00" * 65,  # r = s = 0
    ]
    with ape.reverts(billing.BillingInvalidSignature, index=0, user=user):
        billing.redeem((owner, to, 5 * ETHER), signature, sender=gateway)
    for bad in bad_signatures:
        with ape.reverts(billing.BillingInvalidSignature, index=0, user=user):
            billing.redeem((owner, to, amount), bad, sender=gateway)


def test_high_s_signature_reverts(billing, user, gateway, signed):
    """The malleable twin (n - s, flipped v) of a valid signature is refused, as OpenZeppelin's ECDSA does."""
    billing.deposit(sender=user, value=ETHER)
    voucher, signature = signed(user, ETHER)
    s = int.from_bytes(signature[32:64], "big")
    twin = signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])
    with ape.reverts(billing.BillingInvalidSignature, index=0, user=user):
        billing.redeem(voucher, twin, sender=gateway)


def test_voucher_from_another_domain_reverts(billing, chain, user, gateway):
    """A voucher signed for another chain or another Billing contract is worthless here."""
    billing.deposit(sender=user, value=ETHER)
    for domain in (
        billing_domain(chain.chain_id + 1, billing.address),
        billing_domain(chain.chain_id, gateway.address),
        Eip712Domain("ActuallyOpenAI Billing", "2", chain.chain_id, billing.address),
    ):
        foreign = sign_voucher(user, domain, gateway.address, ETHER)
        with ape.reverts(billing.BillingInvalidSignature, index=0, user=user):
            billing.redeem(foreign.voucher.as_tuple(), foreign.signature, sender=gateway)


def test_voucher_above_credit_pays_the_credit_and_the_rest_later(billing, with_holder, user, gateway, signed):
    billing.deposit(sender=user, value=ETHER)
    voucher, signature = signed(user, 3 * ETHER)
    value, receipt = send(billing.redeem, voucher, signature, sender=gateway)
    assert value == ETHER
    assert receipt.events[0] == billing.VoucherRedeemed(user, gateway, 3 * ETHER, ETHER, 2 * ETHER)
    assert billing.creditOf(user) == 0
    assert billing.redeemed(user, gateway) == ETHER

    value, receipt = send(billing.redeem, voucher, signature, sender=gateway)
    assert value == 0
    assert receipt.events == [billing.VoucherRedeemed(user, gateway, 3 * ETHER, 0, 2 * ETHER)]

    billing.deposit(sender=user, value=5 * ETHER)
    value, receipt = send(billing.redeem, voucher, signature, sender=gateway)
    assert value == 2 * ETHER
    assert billing.redeemed(user, gateway) == 3 * ETHER
    assert billing.creditOf(user) == 3 * ETHER


def test_gateways_share_credit_without_overdraft(
    billing, admin, accounts, with_holder, user, gateway, signed
):
    other = accounts[4]
    billing.grantRole(billing.GATEWAY_ROLE(), other, sender=admin)
    billing.deposit(sender=user, value=3 * ETHER)
    billing.redeem(*signed(user, 2 * ETHER), sender=gateway)
    value, _ = send(billing.redeem, *signed(user, 2 * ETHER, to=other.address), sender=other)
    assert value == ETHER
    assert billing.redeemed(user, gateway) == 2 * ETHER
    assert billing.redeemed(user, other) == ETHER
    assert billing.creditOf(user) == 0


def test_redeem_batch(billing, token, with_holder, users, gateway, signed):
    alice, bob = users
    billing.deposit(sender=alice, value=5 * ETHER)
    billing.deposit(sender=bob, value=ETHER)
    batch = [signed(alice, 2 * ETHER), signed(bob, 3 * ETHER), signed(alice, ETHER)]
    vouchers, signatures = zip(*batch, strict=True)
    value, receipt = send(billing.redeemBatch, list(vouchers), list(signatures), sender=gateway)
    assert value == 3 * ETHER
    assert receipt.events == [
        billing.VoucherRedeemed(alice, gateway, 2 * ETHER, 2 * ETHER, 0),
        billing.VoucherRedeemed(bob, gateway, 3 * ETHER, ETHER, 2 * ETHER),
        billing.RevenueDistributed(3 * ETHER),
        token.DividendsDeposited(billing, 3 * ETHER),
    ]
    assert billing.creditOf(alice) == 3 * ETHER
    assert billing.creditOf(bob) == 0
    assert token.withdrawableDividendsOf(with_holder) == 3 * ETHER


def test_empty_or_stale_batch_changes_nothing(billing, token, with_holder, user, gateway, signed):
    value, receipt = send(billing.redeemBatch, [], [], sender=gateway)
    assert value == 0
    assert receipt.events == []
    billing.deposit(sender=user, value=ETHER)
    voucher, signature = signed(user, ETHER)
    billing.redeemBatch([voucher], [signature], sender=gateway)
    value, receipt = send(billing.redeemBatch, [voucher, voucher], [signature, signature], sender=gateway)
    assert value == 0
    assert receipt.events == []
    assert token.totalDividendsDeposited() == ETHER


def test_batch_with_mismatched_lengths_reverts(billing, user, gateway, signed):
    voucher, signature = signed(user, ETHER)
    with ape.reverts(billing.BillingLengthMismatch, vouchers=1, signatures=2):
        billing.redeemBatch([voucher], [signature, signature], sender=gateway)


def test_batch_with_one_bad_signature_reverts_whole(billing, users, gateway, signed):
    alice, bob = users
    billing.deposit(sender=alice, value=ETHER)
    billing.deposit(sender=bob, value=ETHER)
    good = signed(alice, ETHER)
    forged = (bob.address, gateway.address, ETHER), signed(alice, ETHER)[1]
    with ape.reverts(billing.BillingInvalidSignature, index=1, user=bob):
        billing.redeemBatch([good[0], forged[0]], [good[1], forged[1]], sender=gateway)
    assert billing.redeemed(alice, gateway) == 0
    assert billing.creditOf(alice) == ETHER


def test_withdrawal_after_notice(billing, user, chain):
    billing.deposit(sender=user, value=3 * ETHER)
    assert billing.requestWithdrawal.call(2 * ETHER, sender=user) >= chain.blocks.head.timestamp + NOTICE
    receipt = billing.requestWithdrawal(2 * ETHER, sender=user)
    unlocks_at = receipt.timestamp + NOTICE
    assert receipt.events == [billing.WithdrawalRequested(user, 2 * ETHER, unlocks_at)]
    assert billing.withdrawalRequestOf(user) == (2 * ETHER, unlocks_at)
    assert billing.spendableCreditOf(user) == ETHER
    assert billing.redeemableCreditOf(user) == 3 * ETHER

    chain.pending_timestamp = unlocks_at - 1
    with ape.reverts(billing.BillingWithdrawalLocked, user=user, unlocksAt=unlocks_at):
        billing.withdraw(sender=user)

    chain.pending_timestamp = unlocks_at
    before = user.balance
    receipt = billing.withdraw(sender=user)
    assert receipt.events == [billing.CreditWithdrawn(user, 2 * ETHER)]
    assert user.balance == before + 2 * ETHER - receipt.total_fees_paid
    assert billing.creditOf(user) == ETHER
    assert billing.withdrawalRequestOf(user) == (0, 0)
    assert billing.balance == ETHER

    with ape.reverts(billing.BillingNoWithdrawalRequested, user=user):
        billing.withdraw(sender=user)


def test_withdraw_without_request_reverts(billing, user):
    billing.deposit(sender=user, value=ETHER)
    with ape.reverts(billing.BillingNoWithdrawalRequested, user=user):
        billing.withdraw(sender=user)


def test_request_withdrawal_reverts_on_zero_or_above_credit(billing, user):
    billing.deposit(sender=user, value=ETHER)
    with ape.reverts(billing.BillingZeroAmount):
        billing.requestWithdrawal(0, sender=user)
    with ape.reverts(billing.BillingInsufficientCredit, user=user, credit=ETHER, amount=ETHER + 1):
        billing.requestWithdrawal(ETHER + 1, sender=user)


def test_new_request_replaces_and_restarts_notice(billing, user, chain):
    billing.deposit(sender=user, value=3 * ETHER)
    billing.requestWithdrawal(ETHER, sender=user)
    chain.mine(deltatime=NOTICE)
    receipt = billing.requestWithdrawal(2 * ETHER, sender=user)
    assert billing.withdrawalRequestOf(user) == (2 * ETHER, receipt.timestamp + NOTICE)
    with ape.reverts(billing.BillingWithdrawalLocked):
        billing.withdraw(sender=user)


def test_cancel_withdrawal(billing, user):
    billing.deposit(sender=user, value=ETHER)
    with ape.reverts(billing.BillingNoWithdrawalRequested, user=user):
        billing.cancelWithdrawal(sender=user)
    billing.requestWithdrawal(ETHER, sender=user)
    receipt = billing.cancelWithdrawal(sender=user)
    assert receipt.events == [billing.WithdrawalCancelled(user)]
    assert billing.withdrawalRequestOf(user) == (0, 0)
    assert billing.spendableCreditOf(user) == ETHER
    with ape.reverts(billing.BillingNoWithdrawalRequested, user=user):
        billing.withdraw(sender=user)


def test_gateway_redeems_during_notice_and_withdrawal_gets_the_rest(
    billing, with_holder, user, gateway, signed, chain
):
    billing.deposit(sender=user, value=3 * ETHER)
    billing.requestWithdrawal(3 * ETHER, sender=user)
    value, _ = send(billing.redeem, *signed(user, 2 * ETHER), sender=gateway)
    assert value == 2 * ETHER
    chain.mine(deltatime=NOTICE)
    value, _ = send(billing.withdraw, sender=user)
    assert value == ETHER
    assert billing.creditOf(user) == 0


def test_withdrawal_pays_nothing_when_vouchers_took_all(billing, with_holder, user, gateway, signed, chain):
    billing.deposit(sender=user, value=ETHER)
    billing.requestWithdrawal(ETHER, sender=user)
    billing.redeem(*signed(user, ETHER), sender=gateway)
    chain.mine(deltatime=NOTICE)
    value, receipt = send(billing.withdraw, sender=user)
    assert value == 0
    assert receipt.events == [billing.CreditWithdrawn(user, 0)]
    assert billing.withdrawalRequestOf(user) == (0, 0)


def test_after_notice_the_requested_credit_is_reserved(billing, with_holder, user, gateway, signed, chain):
    billing.deposit(sender=user, value=3 * ETHER)
    billing.requestWithdrawal(2 * ETHER, sender=user)
    chain.mine(deltatime=NOTICE)
    assert billing.redeemableCreditOf(user) == ETHER
    value, receipt = send(billing.redeem, *signed(user, 3 * ETHER), sender=gateway)
    assert value == ETHER
    assert receipt.events[0] == billing.VoucherRedeemed(user, gateway, 3 * ETHER, ETHER, 2 * ETHER)
    value, _ = send(billing.withdraw, sender=user)
    assert value == 2 * ETHER
    assert billing.creditOf(user) == 0


def test_reentrant_withdraw_gets_nothing_extra(project, billing, admin, outsider, chain):
    attacker = admin.deploy(project.ReentrantWithdrawer, billing)
    attacker.depositAndRequest(sender=outsider, value=ETHER)
    billing.deposit(sender=outsider, value=ETHER)
    chain.mine(deltatime=NOTICE)
    with ape.reverts(billing.BillingPaymentFailed, to=attacker, amount=ETHER):
        attacker.attack(sender=outsider)
    assert billing.creditOf(attacker) == ETHER
    assert billing.withdrawalRequestOf(attacker)[0] == ETHER
    assert billing.balance == 2 * ETHER


def test_protocol_fee(billing, token, with_holder, admin, treasury, user, gateway, signed):
    receipt = billing.setProtocolFee(treasury, 500, sender=admin)
    assert receipt.events == [billing.ProtocolFeeSet(treasury, 500)]
    assert billing.protocolFee() == (treasury.address, 500)
    billing.deposit(sender=user, value=10 * ETHER)
    receipt = billing.redeem(*signed(user, 4 * ETHER), sender=gateway)
    fee = 4 * ETHER * 500 // 10_000
    assert receipt.events == [
        billing.VoucherRedeemed(user, gateway, 4 * ETHER, 4 * ETHER, 0),
        billing.ProtocolFeeAccrued(treasury, fee),
        billing.RevenueDistributed(4 * ETHER - fee),
        token.DividendsDeposited(billing, 4 * ETHER - fee),
    ]
    assert billing.protocolFeesOf(treasury) == fee
    assert token.totalDividendsDeposited() == 4 * ETHER - fee

    # A new treasury gets future fees only; the old one keeps what accrued.
    billing.setProtocolFee(admin, 1_000, sender=admin)
    billing.redeem(*signed(user, 5 * ETHER), sender=gateway)
    assert billing.protocolFeesOf(admin) == ETHER // 10
    assert billing.protocolFeesOf(treasury) == fee

    before = treasury.balance
    value, receipt = send(billing.claimProtocolFees, sender=treasury)
    assert value == fee
    assert receipt.events == [billing.ProtocolFeeClaimed(treasury, fee)]
    assert treasury.balance == before + fee - receipt.total_fees_paid
    with ape.reverts(billing.BillingNothingToClaim, treasury=treasury):
        billing.claimProtocolFees(sender=treasury)
    assert billing.balance == 10 * ETHER - 5 * ETHER + ETHER // 10


def test_fee_rounds_down_in_favour_of_holders(
    billing, token, with_holder, admin, treasury, user, gateway, signed
):
    billing.setProtocolFee(treasury, 1_000, sender=admin)
    billing.deposit(sender=user, value=ETHER)
    billing.redeem(*signed(user, 19), sender=gateway)
    assert billing.protocolFeesOf(treasury) == 1
    assert token.totalDividendsDeposited() == 18


def test_set_protocol_fee_reverts(billing, admin, outsider, treasury):
    with ape.reverts(billing.AccessControlUnauthorizedAccount, account=outsider):
        billing.setProtocolFee(outsider, 100, sender=outsider)
    with ape.reverts(billing.BillingFeeTooHigh, feeBps=1_001, maxBps=1_000):
        billing.setProtocolFee(treasury, 1_001, sender=admin)
    with ape.reverts(billing.BillingZeroTreasury):
        billing.setProtocolFee(ape.utils.ZERO_ADDRESS, 1, sender=admin)
    billing.setProtocolFee(ape.utils.ZERO_ADDRESS, 0, sender=admin)
    assert billing.protocolFee() == (ape.utils.ZERO_ADDRESS, 0)


def test_revenue_waits_while_no_aoai_exists(billing, token, minter, holders, outsider, user, gateway, signed):
    billing.deposit(sender=user, value=5 * ETHER)
    receipt = billing.redeem(*signed(user, ETHER), sender=gateway)
    assert receipt.events == [
        billing.VoucherRedeemed(user, gateway, ETHER, ETHER, 0),
        billing.RevenueDeferred(ETHER, ETHER),
    ]
    receipt = billing.redeem(*signed(user, 3 * ETHER), sender=gateway)
    assert receipt.events[-1] == billing.RevenueDeferred(2 * ETHER, 3 * ETHER)
    assert billing.pendingRevenue() == 3 * ETHER
    with ape.reverts(billing.BillingNoHolders):
        billing.flushRevenue(sender=outsider)

    token.mint(holders[0], ETHER, sender=minter)
    value, receipt = send(billing.flushRevenue, sender=outsider)
    assert value == 3 * ETHER
    assert receipt.events == [
        billing.RevenueDistributed(3 * ETHER),
        token.DividendsDeposited(billing, 3 * ETHER),
    ]
    assert billing.pendingRevenue() == 0
    assert token.withdrawableDividendsOf(holders[0]) == 3 * ETHER
    with ape.reverts(billing.BillingNoPendingRevenue):
        billing.flushRevenue(sender=outsider)


def test_next_redeem_carries_pending_revenue(billing, token, minter, holders, user, gateway, signed):
    billing.deposit(sender=user, value=5 * ETHER)
    billing.redeem(*signed(user, ETHER), sender=gateway)
    token.mint(holders[0], ETHER, sender=minter)
    receipt = billing.redeem(*signed(user, 3 * ETHER), sender=gateway)
    assert receipt.events[-2:] == [
        billing.RevenueDistributed(3 * ETHER),
        token.DividendsDeposited(billing, 3 * ETHER),
    ]
    assert billing.pendingRevenue() == 0
    assert token.withdrawableDividendsOf(holders[0]) == 3 * ETHER


@pytest.mark.parametrize("revenue", [3 * ETHER, 10**18 + 7, 1_000_003])
def test_revenue_reaches_holders_pro_rata(billing, token, minter, holders, users, gateway, signed, revenue):
    """Three AOAI holders claim exactly their share of the redeemed revenue, within 1 wei each."""
    balances = [1 * ETHER, 2 * ETHER, 7 * ETHER]
    holders = holders[:3]
    for holder, balance in zip(holders, balances, strict=True):
        token.mint(holder, balance, sender=minter)
    alice, bob = users
    billing.deposit(sender=alice, value=revenue)
    billing.deposit(sender=bob, value=revenue)
    first = revenue // 3
    batch = [signed(alice, first), signed(bob, revenue - first)]
    vouchers, signatures = zip(*batch, strict=True)
    billing.redeemBatch(list(vouchers), list(signatures), sender=gateway)
    billing.redeem(*signed(alice, revenue), sender=gateway)
    total_revenue = revenue + (revenue - first)
    assert token.totalDividendsDeposited() == total_revenue

    supply = sum(balances)
    for holder, balance in zip(holders, balances, strict=True):
        owed = token.withdrawableDividendsOf(holder)
        before = holder.balance
        value, receipt = send(token.claimDividends, sender=holder)
        assert value == owed
        assert holder.balance == before + owed - receipt.total_fees_paid
        exact = Fraction(total_revenue * balance, supply)
        assert exact - 1 <= owed <= exact
