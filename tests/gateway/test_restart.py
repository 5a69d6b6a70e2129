"""A gateway process killed after serving paid requests loses none of the revenue they signed: the next
process resumes from its voucher journal, refuses replays of the old totals, and settles everything."""

import os
import signal
import sys
from pathlib import Path

import httpx
from conftest import PRICE, ROOT, digits

from agents.devnet.services import NODE_BIN, Service, free_port
from agents.gateway.client import GatewayClient, GatewayError, Ledger

ETHER = 10**18


class GatewayProcess(Service):
    """`python -m agents.gateway api` (the `aoai serve api` command) as its own uvicorn process."""

    name = "gateway"
    startup_timeout = 180.0

    def __init__(self, workdir: Path, data_dir: Path, rpc: str, ipfs_api: str) -> None:
        super().__init__(workdir)
        self.port = free_port()
        self.data_dir, self.rpc, self.ipfs_api = data_dir, rpc, ipfs_api

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        path = f"{NODE_BIN}:{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
        return {**os.environ, "PATH": path}

    def command(self) -> list[str]:
        # From the project directory, where ape reads its config (chain id of `ethereum:local:<url>`).
        return [
            "env", "-C", str(ROOT), sys.executable, "-m", "agents.gateway", "api",
            "--network", f"ethereum:local:{self.rpc}",
            "--account", "TEST::7",
            "--ipfs-api", self.ipfs_api,
            "--port", str(self.port),
            "--data-dir", str(self.data_dir),
            "--price", str(PRICE),
            "--settle-every", "1000",
            "--settle-interval", "3600",
        ]  # fmt: skip

    def ports(self) -> list[int]:
        return [self.port]

    def is_ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, no settlement."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None


def test_a_killed_gateway_loses_no_signed_revenue(tmp_path, services, protocol, actors, vision, aoai_home):
    billing, gateway_account, user = protocol.billing, actors.gateway, actors.users[1]
    billing.deposit(sender=user, value=ETHER // 100)
    before = billing.redeemed(user, gateway_account)
    ledger = Ledger(tmp_path / "ledger.json")
    images, _ = digits(vision.test, 4, offset=20)
    data_dir = tmp_path / "journal"
    assert (Path(os.environ["AOAI_HOME"]) / "deployments").exists()

    first = GatewayProcess(tmp_path / "first", data_dir, services.anvil.url, services.ipfs.api_multiaddr)
    try:
        first.start()
        client = GatewayClient.connect(first.url, user, billing=billing, ledger=ledger)
        for image in images[:3]:
            assert client.classify("vision", image)["generation"] == 1
        first.kill()
    finally:
        first.stop()
    assert billing.redeemed(user, gateway_account) == before, "nothing was settled before the kill"

    second = GatewayProcess(tmp_path / "second", data_dir, services.anvil.url, services.ipfs.api_multiaddr)
    try:
        second.start()
        # A client that forgot its total is refused: the new process holds the old vouchers.
        forgetful = GatewayClient.connect(second.url, user, billing=billing)
        try:
            forgetful.classify("vision", images[3])
        except GatewayError as error:
            assert error.status == 402 and f"already holds {3 * PRICE} wei" in error.detail
        else:
            raise AssertionError("the restarted gateway accepted a voucher below what it holds")
        client = GatewayClient.connect(second.url, user, billing=billing, ledger=ledger)
        assert client.cumulative_amount == before + 3 * PRICE
        client.classify("vision", images[3])
    finally:
        second.stop(timeout=120)  # SIGTERM: uvicorn shuts down, the gateway settles
    assert billing.redeemed(user, gateway_account) == before + 4 * PRICE
