"""The agents' JSON-RPC transport: one kept-alive connection, against a real anvil, reopened when the node
closed it, and a clear ConnectionError for a node that is gone or answers with an HTTP error."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from web3 import Web3

from agents.chain.connection import rpc_web3
from agents.chain.keepalive import KeepAliveProvider
from agents.devnet.services import Anvil, free_port


class Node:
    """What :func:`rpc_web3` reads of ape's provider."""

    def __init__(self, uri: str) -> None:
        self.uri = uri


@pytest.mark.services
def test_calls_share_one_connection_and_web3_works_over_it():
    with Anvil() as anvil:
        web3 = rpc_web3(Node(anvil.url))
        assert isinstance(web3.provider, KeepAliveProvider)
        account = web3.eth.accounts[0]
        before = web3.eth.block_number
        web3.provider.make_request("evm_mine", [])
        assert web3.eth.block_number == before + 1
        assert web3.eth.get_balance(account) > 0
        error = web3.provider.make_request("eth_call", [{"to": account, "data": "0xzz"}, "latest"])
        assert "error" in error  # a JSON-RPC error is the node's answer, not a transport failure
        connection = web3.provider.connection._local.connection
        web3.eth.get_block("latest")
        assert web3.provider.connection._local.connection is connection


def test_a_proxy_from_the_environment_keeps_the_requests_transport(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    web3 = rpc_web3(Node("http://10.1.2.3:8545"))
    assert not isinstance(web3.provider, KeepAliveProvider)
    assert web3.provider.endpoint_uri == "http://10.1.2.3:8545"


@contextmanager
def node(close_after_each: bool, status: int = 200) -> Iterator[tuple[str, list[str]]]:
    """A JSON-RPC node answering ``eth_chainId`` that may drop each connection after its answer (as a
    node closes idle ones) or answer with an HTTP error; yields its URL and the connections it saw."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(f"{self.client_address[1]}")
            body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": "0x7a69"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = close_after_each

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_connection_the_node_closed_is_reopened_and_the_call_answered():
    with node(close_after_each=True) as (url, seen):
        web3 = Web3(KeepAliveProvider(url))
        assert [web3.eth.chain_id for _ in range(3)] == [31337] * 3
    assert len(set(seen)) == 3  # each call on a new connection: the two stale ones were reopened


def test_a_kept_connection_serves_every_call():
    with node(close_after_each=False) as (url, seen):
        web3 = Web3(KeepAliveProvider(url))
        assert [web3.eth.chain_id for _ in range(3)] == [31337] * 3
    assert len(seen) == 3 and len(set(seen)) == 1


def test_a_node_that_is_gone_or_fails_raises_connection_error():
    gone = KeepAliveProvider(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ConnectionError, match=r"127\.0\.0\.1"):
        gone.make_request("eth_chainId", [])
    with (
        node(close_after_each=False, status=502) as (url, _),
        pytest.raises(ConnectionError, match="HTTP 502"),
    ):
        KeepAliveProvider(url).make_request("eth_chainId", [])
    with pytest.raises(ValueError, match="not an HTTP"):
        KeepAliveProvider("ws://127.0.0.1:8546")
