"""Property test of the stake manager's accounting against an exact model.

Random sequences of stakes, unbonding requests, withdrawals (early or late), slashes (of active and of
unbonding stake, with and without a beneficiary), challenge bonds returned or forfeited, payout claims
and time jumps, over three accounts and three roles. After every step the stakes, bonds and credits it
touched equal the model's, calls the model expects to fail revert with the expected error, and the
books hold to the wei:
- stake in = withdrawn + slashed + still staked (active or unbonding);
- every slashed, forfeited or returned wei went to a credit, a payout or the sink;
- the contract's ETH equals what it owes.

The sequences run on an anvil of their own, through web3 (one RPC per transaction, no gas estimation),
each from a snapshot of one deployed stake manager: 200 sequences take well under a minute, whichever
network the rest of the suite uses (on the in-process chain they would take several).
"""

import pytest
from eth_utils import keccak
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from protocol_helpers import ETHER, REWARD_SHARE_BPS
from web3 import Web3
from web3.exceptions import ContractCustomError

from agents.devnet.services import Anvil

DELAY = 1_000
ROLES = (0, 1, 2)
GAS = 300_000
ZERO = "0x" + "00" * 20

who = st.integers(min_value=0, max_value=2)
role = st.sampled_from(ROLES)
amounts = st.one_of(st.integers(min_value=1, max_value=1_000), st.integers(min_value=1, max_value=5 * ETHER))


def selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


NOTHING_UNBONDING = selector("StakeManagerNothingUnbonding(address,uint8)")
STILL_UNBONDING = selector("StakeManagerStillUnbonding(address,uint8,uint64)")
NOTHING_TO_CLAIM = selector("StakeManagerNothingToClaim(address)")


@pytest.fixture(scope="module")
def node():
    with Anvil() as anvil:
        yield anvil


@pytest.fixture
def machine(project, node):
    w3 = Web3(Web3.HTTPProvider(node.url))
    admin, slasher, *rest = w3.eth.accounts
    stakers = rest[:3]
    contract_type = project.StakeManager.contract_type
    abi = [entry.model_dump(by_alias=True, mode="json") for entry in contract_type.abi]
    factory = w3.eth.contract(abi=abi, bytecode=contract_type.deployment_bytecode.bytecode)
    deployed = w3.eth.wait_for_transaction_receipt(
        factory.constructor(admin, admin, DELAY, REWARD_SHARE_BPS).transact({"from": admin})
    )
    stakes = w3.eth.contract(address=deployed.contractAddress, abi=abi)
    slasher_role = stakes.functions.SLASHER_ROLE().call()
    w3.eth.wait_for_transaction_receipt(
        stakes.functions.grantRole(slasher_role, slasher).transact({"from": admin})
    )

    def rpc(method, *params):
        return w3.provider.make_request(method, list(params))["result"]

    # Each block is one second after the previous one, so the model knows every `block.timestamp`.
    rpc("anvil_setBlockTimestampInterval", 1)

    class Clock:
        """The time of the latest block."""

        now = 0

    def send(call, sender, value=0):
        tx = call.transact({"from": sender, "gas": GAS, "value": value})
        receipt = w3.eth.wait_for_transaction_receipt(tx, poll_latency=0.002)
        assert receipt.status == 1, f"{call.fn_name}{call.args} from {sender} reverted"
        Clock.now += 1
        return Clock.now

    def reverts(call, sender, error):
        """The call reverts with `error` (on the latest block, whose time is at most the model's clock)."""
        with pytest.raises(ContractCustomError) as failure:
            call.call({"from": sender})
        assert str(failure.value.data).startswith(error), failure.value.data

    class StakeBooks(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.snapshot = rpc("evm_snapshot")
            Clock.now = w3.eth.get_block("latest").timestamp
            rpc("evm_setNextBlockTimestamp", Clock.now + 1)
            self.active = {(i, r): 0 for i in range(3) for r in ROLES}
            self.unbonding = dict.fromkeys(self.active, 0)
            self.release = dict.fromkeys(self.active, 0)
            self.bonds = [0, 0, 0]
            self.credits = [0, 0, 0]
            self.deposited = self.withdrawn = self.slashed = self.sink = self.paid = 0
            self.locked = self.returned = self.forfeited = 0

        def teardown(self):
            if hasattr(self, "snapshot"):
                rpc("evm_revert", self.snapshot)

        @rule(i=who, r=role, amount=amounts)
        def stake(self, i, r, amount):
            send(stakes.functions.stake(r), stakers[i], value=amount)
            self.active[i, r] += amount
            self.deposited += amount
            self._check_stake(i, r)

        @precondition(lambda self: any(self.active.values()))
        @rule(data=st.data())
        def request_unbond(self, data):
            i, r = data.draw(st.sampled_from([key for key, value in self.active.items() if value]))
            amount = data.draw(st.integers(min_value=1, max_value=self.active[i, r]))
            timestamp = send(stakes.functions.requestUnbond(r, amount), stakers[i])
            self.active[i, r] -= amount
            self.unbonding[i, r] += amount
            self.release[i, r] = timestamp + DELAY
            self._check_stake(i, r)

        @rule(i=who, r=role)
        def withdraw(self, i, r):
            call = stakes.functions.withdraw(r)
            if self.unbonding[i, r] == 0:
                reverts(call, stakers[i], NOTHING_UNBONDING)
                return
            if Clock.now + 1 < self.release[i, r]:
                reverts(call, stakers[i], STILL_UNBONDING)
                return
            send(call, stakers[i])
            self.withdrawn += self.unbonding[i, r]
            self.unbonding[i, r] = 0
            self._check_stake(i, r)

        @rule(seconds=st.integers(min_value=1, max_value=2 * DELAY))
        def wait(self, seconds):
            Clock.now += seconds
            rpc("evm_setNextBlockTimestamp", Clock.now + 1)

        @rule(i=who, r=role, amount=amounts, beneficiary=st.one_of(st.none(), who))
        def slash(self, i, r, amount, beneficiary):
            to = ZERO if beneficiary is None else stakers[beneficiary]
            send(stakes.functions.slash(stakers[i], r, amount, to), slasher)
            from_active = min(amount, self.active[i, r])
            from_unbonding = min(amount - from_active, self.unbonding[i, r])
            taken = from_active + from_unbonding
            self.active[i, r] -= from_active
            self.unbonding[i, r] -= from_unbonding
            self.slashed += taken
            self._split(taken, beneficiary)
            self._check_stake(i, r)

        @rule(i=who, amount=amounts)
        def lock_bond(self, i, amount):
            send(stakes.functions.lockBond(stakers[i]), slasher, value=amount)
            self.bonds[i] += amount
            self.locked += amount
            self._check_money(i)

        @precondition(lambda self: any(self.bonds))
        @rule(data=st.data(), forfeit=st.booleans(), beneficiary=st.one_of(st.none(), who))
        def settle_bond(self, data, forfeit, beneficiary):
            i = data.draw(st.sampled_from([k for k, b in enumerate(self.bonds) if b]))
            amount = data.draw(st.integers(min_value=1, max_value=self.bonds[i]))
            self.bonds[i] -= amount
            if forfeit:
                to = ZERO if beneficiary is None else stakers[beneficiary]
                send(stakes.functions.forfeitBond(stakers[i], amount, to), slasher)
                self.forfeited += amount
                self._split(amount, beneficiary)
            else:
                send(stakes.functions.returnBond(stakers[i], amount), slasher)
                self.returned += amount
                self.credits[i] += amount
            self._check_money(i)

        @rule(i=who)
        def claim(self, i):
            call = stakes.functions.claimPayout()
            if self.credits[i] == 0:
                reverts(call, stakers[i], NOTHING_TO_CLAIM)
                return
            send(call, stakers[i])
            self.paid += self.credits[i]
            self.credits[i] = 0
            self._check_money(i)

        def _split(self, amount, beneficiary):
            reward = 0 if beneficiary is None else amount * REWARD_SHARE_BPS // 10_000
            if beneficiary is not None:
                self.credits[beneficiary] += reward
            self.sink += amount - reward

        def _check_stake(self, i, r):
            active, unbonding, _ = stakes.functions.stakeOf(stakers[i], r).call()
            assert (active, unbonding) == (self.active[i, r], self.unbonding[i, r])

        def _check_money(self, i):
            assert stakes.functions.creditOf(stakers[i]).call() == self.credits[i]
            assert stakes.functions.bondOf(stakers[i]).call() == self.bonds[i]

        @invariant()
        def books_balance(self):
            if not hasattr(self, "snapshot"):
                return
            books = stakes.functions.totals().call()
            deposited, withdrawn, slashed, active, unbonding, locked, bonds = books[:7]
            returned, forfeited, credits, paid, sink, sunk = books[7:]
            model_active, model_unbonding = sum(self.active.values()), sum(self.unbonding.values())
            assert (deposited, withdrawn, slashed) == (self.deposited, self.withdrawn, self.slashed)
            assert (active, unbonding) == (model_active, model_unbonding)
            assert deposited == withdrawn + slashed + active + unbonding
            assert (locked, returned, forfeited) == (self.locked, self.returned, self.forfeited)
            assert bonds == sum(self.bonds) == locked - returned - forfeited
            assert (credits, paid, sink, sunk) == (sum(self.credits), self.paid, self.sink, 0)
            assert slashed + forfeited + returned == credits + paid + sink + sunk
            assert w3.eth.get_balance(stakes.address) == active + unbonding + bonds + credits + sink

    StakeBooks.TestCase.settings = settings(settings.default, stateful_step_count=10)
    return StakeBooks


def test_stake_accounting(machine):
    machine.TestCase().runTest()
