"""Property test of Billing against an exact model.

Random sequences of deposits, vouchers signed with increasing cumulative amounts for two gateways, batched
redeems of any mix of new and old vouchers, withdrawal requests, cancellations, withdrawals and time
jumps, with a random protocol fee. After every step:
- a gateway never received more than the largest amount a user signed for it, and never more than was
  redeemable when it redeemed (each redeem pays exactly min(new authorization, redeemable credit));
- for each user, credit + everything redeemed from it + everything withdrawn == everything deposited,
  to the wei;
- the contract holds exactly the users' credit plus unclaimed protocol fees; all revenue reached the token.
Events are checked against the model at each step and the chain's whole state at the end of each example
(reading it after every step would triple the run time on the in-process chain).
"""

import ape
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from agents.billing.vouchers import billing_domain, sign_voucher

ETHER = 10**18
NOTICE = 3_600

amounts = st.one_of(st.integers(min_value=1, max_value=1_000), st.integers(min_value=1, max_value=5 * ETHER))
user_index = st.integers(min_value=0, max_value=1)
gateway_index = st.integers(min_value=0, max_value=1)


@pytest.fixture
def machine(chain, deploy_billing, admin, minter, holders, users, gateway, accounts, treasury):
    gateways = [gateway, accounts[4]]
    token, billing = deploy_billing(NOTICE)
    billing.grantRole(billing.GATEWAY_ROLE(), gateways[1], sender=admin)
    token.mint(holders[0], ETHER, sender=minter)
    domain = billing_domain(chain.chain_id, billing.address)

    class BillingModel(RuleBasedStateMachine):
        """Checks every event against the model as it goes, and all the chain's state at the end."""

        @initialize(fee_bps=st.sampled_from([0, 1, 250, 1_000]))
        def start(self, fee_bps):
            self.snapshot = chain.snapshot()
            if fee_bps:
                billing.setProtocolFee(treasury, fee_bps, sender=admin)
            self.fee_bps = fee_bps
            self.deposited = [0, 0]
            self.withdrawn = [0, 0]
            self.credit = [0, 0]
            self.request = [(0, 0), (0, 0)]  # (amount, unlocksAt)
            self.redeemed = {(u, g): 0 for u in range(2) for g in range(2)}
            self.signed = {(u, g): [] for u in range(2) for g in range(2)}  # every voucher signed, in order
            self.revenue = 0
            self.fees = 0

        def redeemable(self, u, now):
            amount, unlocks_at = self.request[u]
            if amount == 0 or now < unlocks_at:
                return self.credit[u]
            return self.credit[u] - min(amount, self.credit[u])

        @rule(u=user_index, amount=amounts)
        def deposit(self, u, amount):
            receipt = billing.deposit(sender=users[u], value=amount)
            self.deposited[u] += amount
            self.credit[u] += amount
            assert receipt.events == [billing.CreditDeposited(users[u], amount, self.credit[u])]

        @rule(u=user_index, g=gateway_index, increment=amounts)
        def sign(self, u, g, increment):
            history = self.signed[(u, g)]
            latest = history[-1].voucher.cumulative_amount if history else 0
            history.append(sign_voucher(users[u], domain, gateways[g].address, latest + increment))

        @precondition(lambda self: any(self.signed.values()))
        @rule(data=st.data(), g=gateway_index)
        def redeem(self, data, g):
            candidates = [v for (u, gw), history in self.signed.items() if gw == g for v in history]
            if not candidates:
                return
            batch = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=4))
            receipt = billing.redeemBatch(
                [v.voucher.as_tuple() for v in batch], [v.signature for v in batch], sender=gateways[g]
            )
            expected_events = []
            total = 0
            for signed in batch:
                u = users.index(signed.voucher.user)
                cumulative = signed.voucher.cumulative_amount
                already = self.redeemed[(u, g)]
                if cumulative <= already:
                    continue
                owed = cumulative - already
                amount = min(owed, self.redeemable(u, receipt.timestamp))
                self.redeemed[(u, g)] += amount
                self.credit[u] -= amount
                total += amount
                expected_events.append(
                    billing.VoucherRedeemed(users[u], gateways[g], cumulative, amount, owed - amount)
                )
            fee = total * self.fee_bps // 10_000
            self.fees += fee
            self.revenue += total - fee
            if fee:
                expected_events.append(billing.ProtocolFeeAccrued(treasury, fee))
            if total:
                expected_events += [
                    billing.RevenueDistributed(total - fee),
                    token.DividendsDeposited(billing, total - fee),
                ]
            assert receipt.events == expected_events

        @rule(u=user_index, share=st.integers(min_value=1, max_value=100))
        def request_withdrawal(self, u, share):
            amount = self.credit[u] * share // 100
            if amount == 0:
                with ape.reverts(billing.BillingZeroAmount):
                    billing.requestWithdrawal(0, sender=users[u])
                return
            receipt = billing.requestWithdrawal(amount, sender=users[u])
            self.request[u] = (amount, receipt.timestamp + NOTICE)

        @precondition(lambda self: any(amount for amount, _ in self.request))
        @rule(u=user_index)
        def cancel_withdrawal(self, u):
            if self.request[u][0] == 0:
                with ape.reverts(billing.BillingNoWithdrawalRequested):
                    billing.cancelWithdrawal(sender=users[u])
                return
            billing.cancelWithdrawal(sender=users[u])
            self.request[u] = (0, 0)

        @rule(u=user_index)
        def withdraw(self, u):
            amount, unlocks_at = self.request[u]
            if amount == 0:
                with ape.reverts(billing.BillingNoWithdrawalRequested):
                    billing.withdraw(sender=users[u])
                return
            if chain.pending_timestamp < unlocks_at:
                with ape.reverts(billing.BillingWithdrawalLocked):
                    billing.withdraw(sender=users[u])
                return
            receipt = billing.withdraw(sender=users[u])
            paid = min(amount, self.credit[u])
            assert receipt.events == [billing.CreditWithdrawn(users[u], paid)]
            self.credit[u] -= paid
            self.withdrawn[u] += paid
            self.request[u] = (0, 0)

        @rule(seconds=st.sampled_from([60, NOTICE // 2, NOTICE, 2 * NOTICE]))
        def wait(self, seconds):
            chain.mine(deltatime=seconds)

        @invariant()
        def model_accounting_holds(self):
            for u in range(2):
                redeemed = 0
                for g in range(2):
                    history = self.signed[(u, g)]
                    assert self.redeemed[(u, g)] <= (history[-1].voucher.cumulative_amount if history else 0)
                    redeemed += self.redeemed[(u, g)]
                assert self.credit[u] >= 0
                assert self.credit[u] + redeemed + self.withdrawn[u] == self.deposited[u]

        def teardown(self):
            """The chain agrees with the model, to the wei; then the chain goes back for the next example."""
            if not hasattr(self, "snapshot"):
                return
            try:
                for u in range(2):
                    assert billing.creditOf(users[u]) == self.credit[u]
                    assert billing.withdrawalRequestOf(users[u]) == self.request[u]
                    for g in range(2):
                        assert billing.redeemed(users[u], gateways[g]) == self.redeemed[(u, g)]
                assert billing.protocolFeesOf(treasury) == self.fees
                assert billing.pendingRevenue() == 0
                assert token.totalDividendsDeposited() == self.revenue
                assert billing.balance == sum(self.credit) + self.fees
            finally:
                chain.restore(self.snapshot)

    # Every step is a transaction on the in-process chain (about 60 a second): an eighth of the profile's
    # examples keeps the default run near a minute; HYPOTHESIS_PROFILE=deep runs 1,250.
    profile = settings()
    BillingModel.TestCase.settings = settings(
        profile, max_examples=max(1, profile.max_examples // 8), stateful_step_count=20
    )
    return BillingModel


def test_billing_accounting(machine):
    machine.TestCase().runTest()
