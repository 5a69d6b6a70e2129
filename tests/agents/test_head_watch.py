"""The agents' wake-up on new blocks, against the real anvil: a WebSocket subscription where the node has
one, `eth_blockNumber` polls where it has none (here: a port nobody listens on, or no WebSocket at all)."""

from __future__ import annotations

import threading

import pytest
from web3 import Web3

from agents.chain.heads import HeadWatch, websocket_url
from agents.devnet.services import Anvil, free_port

pytestmark = pytest.mark.services


def test_head_watch_wakes_on_a_block_and_times_out_without_one():
    with Anvil() as anvil:  # automine only: no block comes unless the test mines one
        _wakes_and_times_out(anvil.url)


def _wakes_and_times_out(url: str) -> None:
    web3 = Web3(Web3.HTTPProvider(url))
    dead = websocket_url(f"http://127.0.0.1:{free_port()}")
    for ws_url, subscribes in ((websocket_url(url), True), (dead, False), (None, False)):
        watch = HeadWatch(web3, ws_url)
        head = web3.eth.block_number
        assert watch.wait_beyond(head - 1, 0.0)  # already past: no wait
        assert not watch.wait_beyond(head, 0.3)  # nothing mined meanwhile
        assert watch.subscribed is subscribes
        miner = threading.Timer(0.2, web3.provider.make_request, ("evm_mine", []))
        miner.start()
        assert watch.wait_beyond(head, 60.0)
        miner.join()
        assert watch.head == web3.eth.block_number == head + 1
        # Without waiting: the newest head already pushed, with its timestamp (None when not subscribed).
        web3.provider.make_request("evm_mine", [])
        block = web3.eth.get_block("latest")
        for _ in range(50):
            if watch.latest() == (block["number"], block["timestamp"]) or not subscribes:
                break
            threading.Event().wait(0.05)
        assert watch.latest() == ((block["number"], block["timestamp"]) if subscribes else None)
        watch.close()


# A contract that emits one log, its topic the call's first 32 bytes (runtime: PUSH1 0 CALLDATALOAD PUSH1 0
# PUSH1 0 LOG1 STOP, behind init code that returns it).
EMITTER = "0x6009600c60003960096000f3" + "600035600060" + "00a100"
LOUD, QUIET = "0x" + "11" * 32, "0x" + "22" * 32


def test_wait_woken_sleeps_through_blocks_without_a_log_of_the_filter():
    with Anvil() as anvil:
        web3 = Web3(Web3.HTTPProvider(anvil.url))
        sender = web3.eth.accounts[0]
        emitter = web3.eth.wait_for_transaction_receipt(
            web3.eth.send_transaction({"from": sender, "data": EMITTER})
        )["contractAddress"]

        def emit(topic: str) -> None:
            web3.eth.send_transaction({"from": sender, "to": emitter, "data": topic})

        for ws_url, filtered in ((websocket_url(anvil.url), True), (None, False)):
            watch = HeadWatch(web3, ws_url)
            watch.wake_on({"address": [emitter], "topics": [[LOUD]]})
            head = web3.eth.block_number
            assert not watch.wait_woken(head, 0.0)  # subscribes (or polls): nothing new yet
            emit(QUIET)
            assert watch.wait_woken(head, 0.3) is not filtered  # polling: any block wakes
            assert watch.wait_beyond(head, 0.0)  # the head still moved
            loud = threading.Timer(0.2, emit, (LOUD,))
            loud.start()
            assert watch.wait_woken(head + 1, 60.0)
            loud.join()
            assert watch.woken == web3.eth.block_number == head + 2
            watch.close()


def test_websocket_url_of_rpc_endpoints():
    assert websocket_url("http://127.0.0.1:8545") == "ws://127.0.0.1:8545"
    assert websocket_url("https://node.example/v1/key") == "wss://node.example/v1/key"
    assert websocket_url("/tmp/geth.ipc") is None
