"""Waiting for the chain's next block without a fixed sleep.

Where the node speaks WebSocket on its RPC address (anvil, geth, reth, most providers), a ``newHeads``
subscription wakes the waiter the moment a block is mined and costs no CPU while idle. Elsewhere (an
HTTP-only endpoint, or a subscription that dropped) it polls ``eth_blockNumber`` every ``poll_seconds``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from web3 import Web3
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect

POLL_SECONDS = 0.1
CONNECT_SECONDS = 2.0


def websocket_url(rpc_url: str) -> str | None:
    """The WebSocket address of an HTTP(S) RPC endpoint on the same host and port, if it has one."""
    for http, ws in (("http://", "ws://"), ("https://", "wss://")):
        if rpc_url.startswith(http):
            return ws + rpc_url.removeprefix(http)
    return None


class HeadWatch:
    """Tells when the chain's head has passed a given block."""

    def __init__(self, web3: Web3, ws_url: str | None, poll_seconds: float = POLL_SECONDS) -> None:
        """``ws_url``: where to subscribe to new heads (None: poll only)."""
        self.web3 = web3
        self.ws_url = ws_url
        self.poll_seconds = poll_seconds
        self.head = -1
        self.timestamp = 0
        self.base_fee: int | None = None  # of the newest pushed head (EIP-1559 chains)
        self._socket: Any = None

    @property
    def subscribed(self) -> bool:
        return self._socket is not None

    def wait_beyond(self, block: int, timeout: float) -> bool:
        """Blocks until a block above ``block`` exists (True) or ``timeout`` seconds passed (False)."""
        deadline = time.monotonic() + timeout
        if self._subscribe():
            try:
                return self._wait_pushed(block, deadline)
            except (OSError, ValueError, KeyError, ConnectionClosed):
                self.close()  # the next wait tries to subscribe again; this one polls
        return self._wait_polled(block, deadline)

    def latest(self) -> tuple[int, int] | None:
        """(number, timestamp) of the newest head pushed so far, reading every notification already queued
        without waiting; None without a live subscription (ask the node instead)."""
        if self._socket is None or self.timestamp == 0:
            return None
        try:
            self._wait_pushed(2**63, time.monotonic())  # returns as soon as nothing more is queued
        except (OSError, ValueError, KeyError, ConnectionClosed):
            self.close()
            return None
        return self.head, self.timestamp

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _subscribe(self) -> bool:
        if self._socket is not None or self.ws_url is None:
            return self._socket is not None
        try:
            socket = connect(self.ws_url, open_timeout=CONNECT_SECONDS, max_size=2**20)
        except (OSError, TimeoutError, InvalidHandshake):
            self.ws_url = None  # no WebSocket here: poll from now on
            return False
        try:
            request = {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}
            socket.send(json.dumps(request))
            if "result" not in json.loads(socket.recv(timeout=CONNECT_SECONDS)):
                raise ValueError("newHeads subscription refused")
        except (OSError, TimeoutError, ValueError, ConnectionClosed):
            socket.close()
            self.ws_url = None
            return False
        self._socket = socket
        self.head = max(self.head, int(self.web3.eth.block_number))  # blocks mined before the subscription
        return True

    def _wait_pushed(self, block: int, deadline: float) -> bool:
        while self.head <= block:
            remaining = deadline - time.monotonic()
            try:
                message = json.loads(self._socket.recv(timeout=max(0.0, remaining)))
            except TimeoutError:
                return False
            header = message.get("params", {}).get("result", {})
            if header.get("number") is not None and int(header["number"], 16) > self.head:
                self.head, self.timestamp = int(header["number"], 16), int(header["timestamp"], 16)
                fee = header.get("baseFeePerGas")
                self.base_fee = None if fee is None else int(fee, 16)
        return True

    def _wait_polled(self, block: int, deadline: float) -> bool:
        while True:
            self.head = int(self.web3.eth.block_number)
            if self.head > block:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(self.poll_seconds, remaining))
