"""Property test of the dividend accounting against an exact model with rational shares.

Random sequences of mints, transfers, deposits and claims among several holders; after every step:
- sum of withdrawable <= deposited - withdrawn (the contract's ETH covers every claim);
- accumulated dividends never decrease, and a transfer changes no one's;
- each holder's accumulated dividends equal its exact pro-rata share, at most 1 wei below it (the dust
  of one floor division; the remainder is carried to the next deposit, so it never grows), give or take
  EPSILON for the magnified remainder (below balance / 2**128 wei per deposit);
- a claim pays exactly what was withdrawable, and a second claim pays nothing.
"""

from fractions import Fraction

import ape
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

ETHER = 10**18
DUST_WEI = 1
EPSILON = Fraction(1, 10**9)

amounts = st.integers(min_value=1, max_value=1_000 * ETHER)
deposits = st.one_of(st.integers(min_value=1, max_value=1_000), st.integers(min_value=1, max_value=50 * ETHER))
holder_index = st.integers(min_value=0, max_value=3)


@pytest.fixture(scope="module")
def lens(project, admin):
    return admin.deploy(project.DividendLens)


@pytest.fixture
def machine(deploy_token, lens, minter, holders, outsider):
    class Dividends(RuleBasedStateMachine):
        @initialize()
        def deploy(self):
            self.token = deploy_token()
            self.balances = [0] * len(holders)
            self.exact = [Fraction(0)] * len(holders)
            self.claimed = [0] * len(holders)
            self.deposited = 0
            self.last_accumulated = [0] * len(holders)

        @rule(to=holder_index, amount=amounts)
        def mint(self, to, amount):
            self.token.mint(holders[to], amount, sender=minter)
            self.balances[to] += amount

        @precondition(lambda self: any(self.balances))
        @rule(data=st.data(), to=holder_index)
        def transfer(self, data, to):
            sender = data.draw(st.sampled_from([i for i, b in enumerate(self.balances) if b]))
            amount = data.draw(st.integers(min_value=1, max_value=self.balances[sender]))
            before = self.accumulated()
            self.token.transfer(holders[to], amount, sender=holders[sender])
            self.balances[sender] -= amount
            self.balances[to] += amount
            assert self.accumulated() == before

        @precondition(lambda self: any(self.balances))
        @rule(value=deposits)
        def deposit(self, value):
            self.token.depositDividends(sender=outsider, value=value)
            supply = sum(self.balances)
            self.exact = [e + Fraction(value * b, supply) for e, b in zip(self.exact, self.balances, strict=True)]
            self.deposited += value

        @rule(who=holder_index)
        def claim(self, who):
            owed = self.token.withdrawableDividendsOf(holders[who])
            if owed == 0:
                with ape.reverts(self.token.AOAITokenNothingToClaim):
                    self.token.claimDividends(sender=holders[who])
                return
            receipt = self.token.claimDividends(sender=holders[who])
            assert receipt.events == [self.token.DividendsClaimed(holders[who], owed)]
            self.claimed[who] += owed
            assert self.token.withdrawableDividendsOf(holders[who]) == 0

        def dividends(self):
            accumulated, withdrawn = lens.dividendsOf(self.token, holders)
            return list(accumulated), list(withdrawn)

        def accumulated(self):
            return self.dividends()[0]

        @invariant()
        def accounting_holds(self):
            accumulated, withdrawn = self.dividends()
            assert withdrawn == self.claimed
            withdrawable = [a - c for a, c in zip(accumulated, self.claimed, strict=True)]
            assert sum(withdrawable) <= self.deposited - sum(self.claimed)
            assert self.token.balance == self.deposited - sum(self.claimed)
            for i, acc in enumerate(accumulated):
                assert acc >= self.last_accumulated[i]
                assert self.exact[i] - DUST_WEI - EPSILON < acc <= self.exact[i] + EPSILON
            self.last_accumulated = accumulated

    return Dividends


def test_dividend_accounting(machine):
    machine.TestCase.settings = settings(settings.default, stateful_step_count=10)
    machine.TestCase().runTest()
