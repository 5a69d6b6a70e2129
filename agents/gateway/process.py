"""A gateway as its own process (`python -m agents.gateway api`, i.e. `aoai serve api`), for tests and
benchmarks; `stop()` is a SIGTERM (the gateway settles before exiting), `kill()` a SIGKILL."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx

from agents.deployments import PROJECT_ROOT
from agents.devnet.services import NODE_BIN, Service, free_port


class GatewayProcess(Service):
    name = "gateway"
    startup_timeout = 180.0

    def __init__(
        self,
        workdir: Path,
        *,
        rpc: str,
        ipfs_api: str,
        account: str,
        data_dir: Path,
        options: Sequence[str] = (),
    ) -> None:
        super().__init__(workdir)
        self.port = free_port()
        self.rpc, self.ipfs_api, self.account, self.data_dir = rpc, ipfs_api, account, data_dir
        self.options = list(options)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        path = f"{NODE_BIN}:{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
        return {**os.environ, "PATH": path}

    def command(self) -> list[str]:
        # From the project directory, where ape reads its config (the chain id of `ethereum:local:<url>`).
        return [
            "env", "-C", str(PROJECT_ROOT), sys.executable, "-m", "agents.gateway", "api",
            "--network", f"ethereum:local:{self.rpc}",
            "--account", self.account,
            "--ipfs-api", self.ipfs_api,
            "--port", str(self.port),
            "--data-dir", str(self.data_dir),
            "--log-level", "warning",
            *self.options,
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
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None
