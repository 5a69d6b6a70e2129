"""The local services: real anvil and IPFS processes, ready when started, gone when stopped."""

from pathlib import Path

import httpx
import pytest

from agents.devnet.services import (
    Anvil,
    IpfsDaemon,
    ServiceError,
    free_port,
    process_alive,
    stop_process_group,
)

pytestmark = pytest.mark.services


def rpc(url, method):
    return httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": []}).json()


def test_anvil_answers_then_stops():
    with Anvil(chain_id=31337) as node:
        assert node.url.startswith("http://127.0.0.1:")
        assert int(rpc(node.url, "eth_chainId")["result"], 16) == 31337
        pid = node.pid
    assert not process_alive(pid)
    with pytest.raises(httpx.ConnectError):
        rpc(node.url, "eth_chainId")


def test_services_stop_when_the_block_raises():
    with pytest.raises(RuntimeError, match="a failing test"), Anvil() as node:
        pid = node.pid
        raise RuntimeError("a failing test")
    assert not process_alive(pid)


def test_ipfs_daemon_is_closed_and_answers():
    with IpfsDaemon() as ipfs:
        config = httpx.post(f"{ipfs.api_url}/api/v0/config/show").json()
        assert config["Bootstrap"] == []
        assert config["Addresses"]["Swarm"] == [f"/ip4/127.0.0.1/tcp/{ipfs.swarm_port}"]
        assert config["Discovery"]["MDNS"]["Enabled"] is False
        added = httpx.post(
            f"{ipfs.api_url}/api/v0/add", params={"cid-version": 1}, files={"file": b"hello"}
        ).json()
        cat = httpx.post(f"{ipfs.api_url}/api/v0/cat", params={"arg": added["Hash"]})
        assert cat.content == b"hello"
        pid = ipfs.pid
    assert not process_alive(pid)


def test_detached_service_is_stopped_by_pid():
    node = Anvil().start()
    pid = node.detach()
    assert process_alive(pid)
    assert int(rpc(node.url, "eth_chainId")["result"], 16) == 31337
    stop_process_group(pid)
    assert not process_alive(pid)


def test_a_busy_port_is_a_clear_error():
    with Anvil() as node, pytest.raises(ServiceError, match=r"port \d+ on 127.0.0.1 is in use"):
        Anvil(port=node.port).start()


def test_free_ports_are_distinct_and_outside_the_ephemeral_range():
    """An outgoing connection takes its local port from the ephemeral range at any moment, so a port
    chosen there could be gone before the service binds it (seen in CI as EADDRINUSE)."""
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    assert not [port for port in ports if low <= port <= high]
