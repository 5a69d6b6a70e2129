"""A real anvil, a real IPFS daemon and the deployed contracts, shared by the agent tests (each test runs
its own job), and helpers to run agents as `python -m agents.cli.agents ...` processes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from agent_helpers import Reader

from agents.devnet.agent_process import agent_command, agent_env
from agents.devnet.network import deploy
from agents.devnet.services import NETWORK_BLOCK_TIME_S, Anvil, IpfsDaemon, free_port, stop_process_group

ROOT = Path(__file__).resolve().parents[2]
AGENT_TIMEOUT = 300


@dataclass
class Net:
    anvil: Anvil
    ipfs: IpfsDaemon
    home: Path
    logs: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def network(self) -> str:
        return f"ethereum:local:{self.anvil.url}"

    def env(self) -> dict[str, str]:
        return agent_env(self.home)

    def agent(self, name: str, *args: str, ipfs: str = "") -> subprocess.Popen[bytes]:
        """Starts ``python -m agents.cli.agents ARGS --network ... --ipfs ...``, logging to logs/NAME.log; on
        the shared daemon unless given another's ``ipfs`` API."""
        command = agent_command(self.network, ipfs or self.ipfs.api_multiaddr, *args)
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            command, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append(proc)
        return proc

    def wait(self, procs: list[subprocess.Popen[bytes]], timeout: float = AGENT_TIMEOUT) -> None:
        for proc in procs:
            proc.wait(timeout=timeout)
        failed = [p.args for p in procs if p.returncode != 0]
        assert not failed, f"agents failed: {failed}; logs in {self.logs}"

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                stop_process_group(proc.pid, timeout=5)


@pytest.fixture(scope="session")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    home = tmp_path_factory.mktemp("aoai-home")
    logs = tmp_path_factory.mktemp("agent-logs")
    old_home = os.environ.get("AOAI_HOME")
    os.environ["AOAI_HOME"] = str(home)
    ipfs = IpfsDaemon(workdir=tmp_path_factory.mktemp("ipfs"), api_port=free_port())
    with Anvil(block_time=NETWORK_BLOCK_TIME_S) as anvil, ipfs:
        deploy(anvil.url)
        network = Net(anvil, ipfs, home, logs)
        try:
            yield network
        finally:
            network.stop_all()
    if old_home is None:
        os.environ.pop("AOAI_HOME", None)
    else:
        os.environ["AOAI_HOME"] = old_home


@pytest.fixture(autouse=True)
def _pinned_home(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """AOAI_HOME is the network's for each test that uses it: another suite's session fixtures in the
    same worker (tests/gateway) may have pointed it elsewhere since."""
    if "net" in request.fixturenames:
        monkeypatch.setenv("AOAI_HOME", str(request.getfixturevalue("net").home))


@pytest.fixture(scope="module")
def own_net(net: Net, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    """The shared anvil and IPFS daemon with contracts of their own: agents that follow every job
    (`--job auto`, verifiers without `--job`) see only this module's jobs."""
    home = tmp_path_factory.mktemp("aoai-own-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AOAI_HOME", str(home))
        deploy(net.anvil.url)
    own = Net(net.anvil, net.ipfs, home, net.logs)
    try:
        yield own
    finally:
        own.stop_all()


@pytest.fixture(scope="session")
def reader(net: Net) -> Reader:
    """Plain web3 reads of the deployed contracts (the test process never signs)."""
    return Reader(net.anvil.url, net.home)
