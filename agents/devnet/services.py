"""Local services for tests, scripts and the CLI: a real anvil and a real IPFS daemon.

Both run closed (loopback only, no bootstrap, no preload) on free ports, are ready when
`start()` returns, and are stopped by PID, process group included, also when a test fails.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = PROJECT_ROOT / "node_modules" / ".bin"


class ServiceError(RuntimeError):
    """A local service did not start, or died."""


def _ephemeral_ports() -> range:
    """The ports the kernel hands to outgoing connections (Linux's ``ip_local_port_range``)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


_handed_out: set[int] = set()
_port_draw = random.SystemRandom()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now and that this process has not handed
    out before. It lies outside the kernel's ephemeral range: a port from that range (what binding port 0
    gives) can be taken by any outgoing connection between this choice and the service's bind."""
    ephemeral = _ephemeral_ports()
    unused = [port for port in range(10000, 65536) if port not in _handed_out]
    candidates = [port for port in unused if port not in ephemeral] or unused  # or: every port is ephemeral
    for port in _port_draw.sample(candidates, min(len(candidates), 200)):
        if not port_in_use(port):
            _handed_out.add(port)
            return port
    raise ServiceError("no free TCP port on 127.0.0.1")


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def node_tool(name: str) -> str:
    """Path of an npm-installed executable of the project (anvil, jsipfs)."""
    local = NODE_BIN / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise ServiceError(f"{name} is not installed: run `make setup` in {PROJECT_ROOT}")
    return found


def process_alive(pid: int) -> bool:
    """Whether `pid` still runs (a child of ours that exited is reaped, not counted)."""
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        waited = 0  # not our child: ask the kernel instead
    if waited == pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_process_group(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group led by `pid`, then SIGKILL it if it outlives `timeout`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not process_alive(pid):
                return
            time.sleep(0.05)


class Service(ABC):
    """A child process with a readiness check and a clean, group-wide stop."""

    name = "service"
    startup_timeout = 60.0

    def __init__(self, workdir: Path | None = None) -> None:
        self._owns_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"aoai-{self.name}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @abstractmethod
    def command(self) -> list[str]:
        """The command line that runs the service in the foreground."""

    @abstractmethod
    def is_ready(self) -> bool:
        """Whether the service answers requests yet."""

    @abstractmethod
    def ports(self) -> list[int]:
        """The loopback ports the service listens on."""

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> Self:
        if self.process is not None:
            return self
        busy = [port for port in self.ports() if port_in_use(port)]
        if busy:
            raise ServiceError(f"cannot start {self.name}: port {busy[0]} on 127.0.0.1 is in use")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.environment(),
                cwd=self.workdir,
                start_new_session=True,
            )
        self._wait(self.is_ready, f"{self.name} to accept requests")
        return self

    def _wait(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceError(f"{self.name} exited with {self.process.returncode}: {self.log_tail()}")
            if condition():
                return
            time.sleep(0.1)
        self.stop()
        raise ServiceError(f"timed out waiting for {what}: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """Stops the process group, and removes the working directory if this service made it."""
        if self.process is None:
            return
        process, self.process = self.process, None
        stop_process_group(process.pid, timeout)
        process.wait()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def detach(self) -> int:
        """Leaves the process running after this object is gone; returns its PID for `stop_process_group`."""
        if self.process is None:
            raise ServiceError(f"{self.name} is not running")
        pid, self.process = self.process.pid, None
        return pid

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _rpc_ok(url: str, payload: dict[str, object] | None, method: str = "POST") -> bool:
    try:
        response = httpx.request(method, url, json=payload, timeout=1.0)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


NETWORK_BLOCK_TIME_S = 1
"""Block interval of a local network's anvil: besides mining each transaction at once, it seals an empty
block this often, as a real chain does, so that what waits for a later block (a dispute panel drawn from
the hash of the block after its challenge, a deadline) comes without anyone transacting."""


class Anvil(Service):
    """A foundry anvil node on automine, funded with ape's (= anvil's) test mnemonic; with
    ``block_time``, also an empty block every ``block_time`` seconds (anvil's mixed mining)."""

    name = "anvil"

    def __init__(
        self,
        port: int | None = None,
        chain_id: int = 31337,
        workdir: Path | None = None,
        block_time: int | None = None,
    ) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.chain_id = chain_id
        self.block_time = block_time

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            node_tool("anvil"),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--accounts", "20",
            "--balance", "100000",
            "--hardfork", "prague",
            "--state", str(self.workdir / "state.json"),
            *(["--block-time", str(self.block_time), "--mixed-mining"] if self.block_time else []),
        ]  # fmt: skip

    def ports(self) -> list[int]:
        return [self.port]

    def is_ready(self) -> bool:
        return _rpc_ok(self.url, {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})

    def restart(self, down_for: float = 0.0) -> None:
        """Stops the node, which dumps its state (blocks, receipts, accounts) to ``state.json`` as it exits,
        waits ``down_for`` seconds, and starts it again from that state on the same port: a node restart."""
        if self.process is None:
            raise ServiceError("anvil is not running")
        process, self.process = self.process, None
        stop_process_group(process.pid, timeout=60.0)  # time to write the dump
        process.wait()
        if not (self.workdir / "state.json").exists():
            raise ServiceError(f"anvil left no state to restart from: {self.log_tail()}")
        time.sleep(down_for)
        self.start()


class IpfsDaemon(Service):
    """A js-ipfs daemon speaking the Kubo RPC API, closed to the outside world."""

    name = "ipfs"

    def __init__(self, workdir: Path | None = None, api_port: int | None = None) -> None:
        super().__init__(workdir)
        self.repo = self.workdir / "repo"
        self.api_port = api_port or free_port()
        self.gateway_port = free_port()
        self.swarm_port = free_port()
        self.rpc_port = free_port()
        self.peer_id = ""

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def api_multiaddr(self) -> str:
        return f"/ip4/127.0.0.1/tcp/{self.api_port}/http"

    @property
    def swarm_multiaddr(self) -> str:
        return f"/ip4/127.0.0.1/tcp/{self.swarm_port}/p2p/{self.peer_id}"

    def environment(self) -> dict[str, str]:
        return {**os.environ, "IPFS_PATH": str(self.repo)}

    def command(self) -> list[str]:
        # Each added or read megabyte is garbage to js-ipfs, and V8's default collector marks its heap in
        # hundreds of small steps, helped by threads that wait on each other; on a machine whose cores
        # are all training, one atomic single-threaded mark costs a fraction of that: a third less daemon
        # CPU per round of bench/round_overhead.py's "long" workload (1.4 -> 0.9 core-seconds).
        cli = Path(node_tool("jsipfs")).resolve()
        gc = ["--single-threaded-gc", "--no-incremental-marking"]
        return [node_tool("node"), *gc, str(cli), "daemon", "--enable-preload=false"]

    def start(self) -> Self:
        if self.process is None:
            self._init_repo()
        return super().start()

    def _init_repo(self) -> None:
        config_path = self.repo / "config"
        if not config_path.exists():
            subprocess.run(
                [node_tool("jsipfs"), "init", "--profile=test", "--empty-repo"],
                env=self.environment(),
                check=True,
                capture_output=True,
                timeout=120,
            )
        config = json.loads(config_path.read_text())
        config["Addresses"] = {
            "Swarm": [f"/ip4/127.0.0.1/tcp/{self.swarm_port}"],
            "API": self.api_multiaddr.removesuffix("/http"),
            "Gateway": f"/ip4/127.0.0.1/tcp/{self.gateway_port}",
            "RPC": f"/ip4/127.0.0.1/tcp/{self.rpc_port}",
            "Delegates": [],
            "Announce": [],
            "NoAnnounce": [],
        }
        config["Bootstrap"] = []
        config["Discovery"] = {"MDNS": {"Enabled": False}, "webRTCStar": {"Enabled": False}}
        config["Routing"] = {"Type": "none"}
        config_path.write_text(json.dumps(config, indent=2))
        self.peer_id = config["Identity"]["PeerID"]

    def ports(self) -> list[int]:
        return [self.api_port, self.gateway_port, self.swarm_port, self.rpc_port]

    def is_ready(self) -> bool:
        return _rpc_ok(f"{self.api_url}/api/v0/id", None)
