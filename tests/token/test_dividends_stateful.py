"""Property test of the dividend accounting against an exact model with rational shares.

Random sequences of mints, transfers, deposits and claims among several holders; after every step:
- sum of withdrawable <= deposited - withdrawn, and the contract holds exactly deposited - withdrawn;
- accumulated dividends never decrease, and a transfer changes no one's;
- each holder's accumulated dividends equal its exact pro-rata share, at most 1 wei below it (the dust
  of one floor division; the remainder is carried to the next deposit, so it never grows), give or take
  EPSILON for the magnified remainder (below balance / 2**128 wei per deposit);
- a claim pays exactly what was withdrawable, and a second claim pays nothing.

Transactions go through web3 on the same provider as ape (one RPC each, no gas estimation), and each
sequence starts from a chain snapshot: thousands of steps fit in a few minutes. It runs on anvil
(`anvil_only`): on the in-process chain the same sequences take several times longer.
"""

from fractions import Fraction

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from web3.exceptions import ContractCustomError

ETHER = 10**18
DUST_WEI = 1
EPSILON = Fraction(1, 10**9)
GAS = 500_000

amounts = st.integers(min_value=1, max_value=1_000 * ETHER)
deposits = st.one_of(
    st.integers(min_value=1, max_value=1_000), st.integers(min_value=1, max_value=50 * ETHER)
)
holder_index = st.integers(min_value=0, max_value=3)

pytestmark = pytest.mark.anvil_only


def web3_contract(chain, contract):
    abi = [entry.model_dump(by_alias=True, mode="json") for entry in contract.contract_type.abi]
    return chain.provider.web3.eth.contract(address=contract.address, abi=abi)


@pytest.fixture
def machine(chain, project, deploy_token, admin, minter, holders, outsider):
    token = web3_contract(chain, deploy_token())
    lens = web3_contract(chain, admin.deploy(project.DividendLens))
    holder_addresses = [h.address for h in holders]

    def send(call, sender, value=0):
        tx = call.transact({"from": sender.address, "gas": GAS, "value": value})
        receipt = chain.provider.web3.eth.wait_for_transaction_receipt(tx, poll_latency=0.005)
        assert receipt.status == 1, f"{call.fn_name}{call.args} from {sender} reverted"

    class Dividends(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.snapshot = chain.snapshot()
            self.balances = [0] * len(holders)
            self.exact = [Fraction(0)] * len(holders)
            self.claimed = [0] * len(holders)
            self.deposited = 0
            self.accumulated = [0] * len(holders)

        def teardown(self):
            if hasattr(self, "snapshot"):
                chain.restore(self.snapshot)

        @rule(to=holder_index, amount=amounts)
        def mint(self, to, amount):
            send(token.functions.mint(holder_addresses[to], amount), minter)
            self.balances[to] += amount

        @precondition(lambda self: any(self.balances))
        @rule(data=st.data(), to=holder_index)
        def transfer(self, data, to):
            sender = data.draw(st.sampled_from([i for i, b in enumerate(self.balances) if b]))
            amount = data.draw(st.integers(min_value=1, max_value=self.balances[sender]))
            before = self.accumulated
            send(token.functions.transfer(holder_addresses[to], amount), holders[sender])
            self.balances[sender] -= amount
            self.balances[to] += amount
            assert self.read()[0] == before

        @precondition(lambda self: any(self.balances))
        @rule(value=deposits)
        def deposit(self, value):
            send(token.functions.depositDividends(), outsider, value=value)
            supply = sum(self.balances)
            shares = (Fraction(value * b, supply) for b in self.balances)
            self.exact = [e + share for e, share in zip(self.exact, shares, strict=True)]
            self.deposited += value

        @rule(who=holder_index)
        def claim(self, who):
            owed = self.accumulated[who] - self.claimed[who]
            call = token.functions.claimDividends()
            if owed == 0:
                with pytest.raises(ContractCustomError):
                    call.call({"from": holder_addresses[who]})
                return
            assert call.call({"from": holder_addresses[who]}) == owed
            send(call, holders[who])
            self.claimed[who] += owed

        def read(self):
            accumulated, withdrawn, held = lens.functions.dividendsOf(token.address, holder_addresses).call()
            return accumulated, withdrawn, held

        @invariant()
        def accounting_holds(self):
            accumulated, withdrawn, held = self.read()
            assert withdrawn == self.claimed
            assert held == self.deposited - sum(self.claimed)
            withdrawable = [a - c for a, c in zip(accumulated, self.claimed, strict=True)]
            assert sum(withdrawable) <= held
            for i, acc in enumerate(accumulated):
                assert acc >= self.accumulated[i]
                assert self.exact[i] - DUST_WEI - EPSILON < acc <= self.exact[i] + EPSILON
            self.accumulated = accumulated

    Dividends.TestCase.settings = settings(settings.default, stateful_step_count=12)
    return Dividends


def test_dividend_accounting(machine):
    machine.TestCase().runTest()
