"""Waiting for the chain's next block without a fixed sleep.

Where the node speaks WebSocket on its RPC address (anvil, geth, reth, most providers), a ``newHeads``
subscription wakes the waiter the moment a block is mined and costs no CPU while idle. Elsewhere (an
HTTP-only endpoint, or a subscription that dropped) it polls ``eth_blockNumber`` every ``poll_seconds``.

A watch given a log filter also subscribes to ``logs`` on the same socket, so an agent can sleep through
blocks that hold nothing it acts on (:meth:`HeadWatch.wait_woken`); without that subscription every
block wakes it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
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
        self.woken = -1  # the newest block known to hold a log of the wake filter (or come unwatched)
        self._wake_filter: dict[str, Any] | None = None
        self._socket: Any = None
        self._logs_subscription: str | None = None

    @property
    def subscribed(self) -> bool:
        return self._socket is not None

    def wake_on(self, log_filter: dict[str, Any]) -> None:
        """From now on only blocks holding a log that matches ``log_filter`` (an ``eth_subscribe("logs")``
        filter: addresses, topics) wake :meth:`wait_woken`."""
        self._wake_filter = log_filter
        self.close()  # the next wait subscribes to heads and logs

    def wait_beyond(self, block: int, timeout: float) -> bool:
        """Blocks until a block above ``block`` exists (True) or ``timeout`` seconds passed (False)."""
        deadline = time.monotonic() + timeout
        if self._subscribe():
            try:
                return self._wait_pushed(lambda: self.head > block, deadline)
            except (OSError, ValueError, KeyError, ConnectionClosed):
                self.close()  # the next wait tries to subscribe again; this one polls
        return self._wait_polled(block, deadline)

    def wait_woken(self, block: int, timeout: float) -> bool:
        """Blocks until a block above ``block`` holds a log matching the :meth:`wake_on` filter (True) or
        ``timeout`` seconds passed (False). Without a log subscription any new block wakes, as do the
        blocks mined before one started (they were not watched)."""
        if self._wake_filter is None or not self._subscribe() or self._logs_subscription is None:
            return self.wait_beyond(block, timeout)
        deadline = time.monotonic() + timeout
        try:
            return self._wait_pushed(lambda: self.woken > block, deadline)
        except (OSError, ValueError, KeyError, ConnectionClosed):
            self.close()
            return self._wait_polled(block, deadline)

    def latest(self) -> tuple[int, int] | None:
        """(number, timestamp) of the newest head pushed so far, reading every notification already queued
        without waiting; None without a live subscription (ask the node instead)."""
        if self._socket is None or self.timestamp == 0:
            return None
        try:
            self._wait_pushed(lambda: False, time.monotonic())  # returns as soon as nothing more is queued
        except (OSError, ValueError, KeyError, ConnectionClosed):
            self.close()
            return None
        return self.head, self.timestamp

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
            self._logs_subscription = None

    def _subscribe(self) -> bool:
        if self._socket is not None or self.ws_url is None:
            return self._socket is not None
        try:
            socket = connect(self.ws_url, open_timeout=CONNECT_SECONDS, max_size=2**20)
        except (OSError, TimeoutError, InvalidHandshake):
            self.ws_url = None  # no WebSocket here: poll from now on
            return False
        try:
            if _subscription(socket, 1, "newHeads") is None:
                raise ValueError("newHeads subscription refused")
            if self._wake_filter is not None:  # refused: every block wakes
                self._logs_subscription = _subscription(socket, 2, "logs", self._wake_filter)
        except (OSError, TimeoutError, ValueError, ConnectionClosed):
            socket.close()
            self.ws_url = None
            return False
        self._socket = socket
        self.head = max(self.head, int(self.web3.eth.block_number))  # blocks mined before the subscription
        self.woken = max(self.woken, self.head)
        return True

    def _wait_pushed(self, done: Callable[[], bool], deadline: float) -> bool:
        while not done():
            remaining = deadline - time.monotonic()
            try:
                message = json.loads(self._socket.recv(timeout=max(0.0, remaining)))
            except TimeoutError:
                return False
            params = message.get("params", {})
            result = params.get("result", {})
            if self._logs_subscription is not None and params.get("subscription") == self._logs_subscription:
                self.woken = max(self.woken, int(result["blockNumber"], 16))
            elif result.get("number") is not None and int(result["number"], 16) > self.head:
                self.head, self.timestamp = int(result["number"], 16), int(result["timestamp"], 16)
                fee = result.get("baseFeePerGas")
                self.base_fee = None if fee is None else int(fee, 16)
        return True

    def _wait_polled(self, block: int, deadline: float) -> bool:
        while True:
            self.head = int(self.web3.eth.block_number)
            if self.head > block:
                self.woken = max(self.woken, self.head)  # unwatched blocks wake
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(self.poll_seconds, remaining))


def _subscription(socket: Any, request_id: int, *params: Any) -> str | None:
    """Subscribes on ``socket``; the subscription's id, or None if the node refused it. Notifications of an
    earlier subscription that come before the answer are dropped (the caller reads the head afterwards)."""
    socket.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "eth_subscribe", "params": params}))
    deadline = time.monotonic() + CONNECT_SECONDS
    while True:
        answer = json.loads(socket.recv(timeout=max(0.0, deadline - time.monotonic())))
        if answer.get("id") == request_id:
            return None if "result" not in answer else str(answer["result"])
