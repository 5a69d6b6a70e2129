"""The agents' own transaction path against the real anvil: events returned from the receipt, reverts
named before signing (no nonce spent) and after mining (a lost race), the nonce kept across sends and
counted again after a transaction the node dropped."""

from __future__ import annotations

import threading
import time

import pytest
from agent_helpers import address, chain_in_new_job, new_job
from web3 import Web3

from agents.chain.connection import connected
from agents.chain.heads import HeadWatch, websocket_url
from agents.devnet.services import Anvil
from agents.node.accounts import load_account
from agents.node.protocol import TRAINER, Chain
from agents.node.sender import Reverted, Sender

pytestmark = pytest.mark.services


def test_send_returns_events_and_names_reverts_before_signing(net):
    with chain_in_new_job(net, "TEST::3", slots=2) as (chain, job, round_id):
        chain.ensure_stake(TRAINER, int(chain.job_spec(job)["trainerStake"]))
        nonce = chain.web3.eth.get_transaction_count(chain.me)
        with pytest.raises(Reverted) as raised:
            chain.send("TrainingRounds", "claimAndCommit", round_id, 0, bytes(32))
        assert raised.value.name == "TrainingRoundsZeroCommitment"
        assert chain.web3.eth.get_transaction_count(chain.me) == nonce  # nothing was sent
        events = chain.send("TrainingRounds", "claimAndCommit", round_id, 1, b"\x02" * 32)
        assert [(e.name, e.args["slot"], e.args["trainer"]) for e in events] == [
            ("UpdateCommitted", 1, chain.me)
        ]
        assert chain.web3.eth.get_transaction_count(chain.me) == nonce + 1
        assert chain.view("TrainingRounds", "openSlots", round_id) == [0]
        with pytest.raises(TypeError, match="takes 3 arguments"):
            chain.send("TrainingRounds", "claimAndCommit", round_id, 0)


def test_the_book_reads_through_the_agents_own_transaction(net, monkeypatch):
    """Even when the head subscription has not yet pushed the block of the agent's transaction, the next
    sync reads it: an agent deciding from its book never acts as if its own commit had not happened."""
    with chain_in_new_job(net, "TEST::3", slots=2) as (chain, job, round_id):
        chain.ensure_stake(TRAINER, int(chain.job_spec(job)["trainerStake"]))
        chain.sync()
        behind = chain.cursor.next_block - 1, int(time.time())
        [event] = chain.send("TrainingRounds", "claimAndCommit", round_id, 1, b"\x02" * 32)
        assert event.block > behind[0]
        monkeypatch.setattr(chain.heads, "latest", lambda: behind)  # the new head not pushed yet
        chain.sync()
        assert chain.book.rounds[round_id].slots_of(chain.me) == {1}
        assert not chain.book.takes_commit(chain.book.rounds[round_id], chain.me)


def test_a_gas_floor_raises_the_limit_above_the_estimate(net):
    """A call that may cost more once mined than estimated (a proposal attestation that turns out to be the
    quorum's last, which finalizes) goes out with at least its floor; without one, estimate x margin."""
    with chain_in_new_job(net, "TEST::3", slots=2) as (chain, job, round_id):
        chain.ensure_stake(TRAINER, int(chain.job_spec(job)["trainerStake"]))
        [plain] = chain.send("TrainingRounds", "claimAndCommit", round_id, 0, b"\x01" * 32)
        [floored] = chain.send("StakeManager", "stake", TRAINER, value=1, gas_floor=900_000)
        plain_limit, floored_limit = (chain.web3.eth.get_transaction(e.tx)["gas"] for e in (plain, floored))
        used = chain.web3.eth.get_transaction_receipt(plain.tx)["gasUsed"]
        assert used < plain_limit < 900_000 and floored_limit == 900_000


def test_a_race_lost_after_the_estimate_is_named_from_the_mined_block(net, monkeypatch):
    job = new_job(net, slots=2)
    with connected(net.network):
        chains = [Chain(load_account(f"TEST::{i}")) for i in (4, 5)]
        for chain in chains:
            chain.sync()
            chain.ensure_stake(TRAINER, int(chain.job_spec(job)["trainerStake"]))
        round_id = chains[0].book.current[job]
        both_estimated = threading.Barrier(2, timeout=60)
        for chain in chains:  # neither sends before both estimates found slot 0 free

            def request(method: str, params: list, _send=chain.sender._request):  # type: ignore[no-untyped-def]
                response = _send(method, params)
                if method == "eth_estimateGas":
                    both_estimated.wait()
                return response

            monkeypatch.setattr(chain.sender, "_request", request)
        outcomes: dict[int, object] = {}

        def claim(i: int) -> None:
            try:
                commitment = bytes([i + 1]) * 32
                outcomes[i] = chains[i].send("TrainingRounds", "claimAndCommit", round_id, 0, commitment)
            except Reverted as error:
                outcomes[i] = error

        threads = [threading.Thread(target=claim, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        won = [i for i in (0, 1) if isinstance(outcomes[i], list)]
        lost = [outcomes[i] for i in (0, 1) if isinstance(outcomes[i], Reverted)]
        assert len(won) == 1 and len(lost) == 1
        assert lost[0].name == "TrainingRoundsSlotUnavailable"  # type: ignore[attr-defined]
        events = outcomes[won[0]]
        assert [(e.name, e.args["slot"], e.args["trainer"]) for e in events] == [  # type: ignore[attr-defined]
            ("UpdateCommitted", 0, chains[won[0]].me)
        ]
        assert chains[0].view("TrainingRounds", "openSlots", round_id) == [1]


def test_a_transaction_the_node_drops_fails_at_once_and_the_next_send_recounts_the_nonce():
    with Anvil() as anvil:  # its own node: mining is switched off and back on
        web3 = Web3(Web3.HTTPProvider(anvil.url))
        account = load_account("TEST::9")
        heads = HeadWatch(web3, websocket_url(anvil.url))
        sender = Sender(web3, account, anvil.chain_id, heads, errors={})
        rpc = web3.provider.make_request
        to = address(8)
        rpc("evm_setAutomine", [False])
        outcome: list[BaseException] = []

        def send() -> None:
            try:
                sender.send(to, "0x", value=1)
            except ConnectionError as error:
                outcome.append(error)

        thread = threading.Thread(target=send)
        thread.start()
        while int(rpc("txpool_status", [])["result"]["pending"], 16) < 1:
            time.sleep(0.05)
        rpc("anvil_dropAllTransactions", [])
        rpc("evm_mine", [])  # a block passes without it
        thread.join(timeout=30)
        assert len(outcome) == 1 and "dropped" in str(outcome[0])
        rpc("evm_setAutomine", [True])
        receipt = sender.send(to, "0x", value=1)  # nonce read again: the dropped one is not skipped
        assert int(receipt["status"], 16) == 1 and web3.eth.get_balance(to) == 10**23 + 1
        heads.close()
