"""The demo's processes: anvil, an IPFS daemon, the agents and the gateway, each in its own process group
with its log in the run folder, and one `stop()` that ends them all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType

from agents.deployments import PROJECT_ROOT
from agents.devnet.agent_process import agent_command, agent_env
from agents.devnet.network import deploy
from agents.devnet.reader import dev_account_address
from agents.devnet.services import NETWORK_BLOCK_TIME_S, Anvil, IpfsDaemon, Service, stop_process_group
from agents.gateway.process import GatewayProcess


class Cast:
    """Everything the demo starts. ``home`` is its own AOAI_HOME, so a user's devnet is never touched."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.home = run_dir / "home"
        self.logs = run_dir / "logs"
        for folder in (self.home, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        self.anvil = Anvil(workdir=run_dir / "anvil", block_time=NETWORK_BLOCK_TIME_S)
        self.ipfs = IpfsDaemon(workdir=run_dir / "ipfs")
        self.gateway: GatewayProcess | None = None
        self.agents: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def network(self) -> str:
        return f"ethereum:local:{self.anvil.url}"

    def env(self) -> dict[str, str]:
        return agent_env(self.home)

    def start_network(self, deployer: int, gateway: int) -> None:
        """anvil and IPFS on free ports, every contract deployed with `ape run deploy --gateway`."""
        os.environ["AOAI_HOME"] = str(self.home)  # for `ape run deploy` and this process's own reads
        self.anvil.start()
        self.record()
        self.ipfs.start()
        self.record()
        output = deploy(self.anvil.url, f"TEST::{deployer}", gateways=[dev_account_address(gateway)])
        (self.logs / "deploy.log").write_text(output)

    def start_agent(self, name: str, *args: str) -> None:
        """`aoai worker|verifier|aggregator start ARGS` as a process logging to logs/NAME.log."""
        command = agent_command(self.network, self.ipfs.api_multiaddr, *args)
        with (self.logs / f"{name}.log").open("ab") as log:
            self.agents[name] = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.record()

    def failed_agents(self) -> dict[str, int]:
        """Agents that exited with an error, and their exit codes."""
        return {n: p.returncode for n, p in self.agents.items() if p.poll() not in (None, 0)}

    def stop_agents(self) -> None:
        """Stops every agent at once (one by one, the last ones could still finish a round meanwhile)."""
        running = [p for p in self.agents.values() if p.poll() is None]
        with ThreadPoolExecutor(max(1, len(running))) as pool:
            list(pool.map(lambda p: stop_process_group(p.pid, timeout=10), running))
        for process in self.agents.values():
            process.wait()

    def start_gateway(self, account: int) -> GatewayProcess:
        """`aoai serve api` (as its own process) settling every second, journal under the run folder."""
        self.gateway = GatewayProcess(
            self.run_dir / "gateway",
            rpc=self.anvil.url,
            ipfs_api=self.ipfs.api_multiaddr,
            account=f"TEST::{account}",
            data_dir=self.run_dir / "gateway" / "journal",
            options=["--settle-interval", "1", "--poll-interval", "0.5"],
        )
        self.gateway.start()
        self.record()
        return self.gateway

    def services(self) -> list[Service]:
        return [s for s in (self.gateway, self.ipfs, self.anvil) if s is not None]

    def pids(self) -> list[int]:
        """Process ids of everything running now (group leaders)."""
        running = [p.pid for p in self.agents.values() if p.poll() is None]
        return running + [s.pid for s in self.services() if s.pid is not None]

    def record(self) -> None:
        """Writes run/processes.json: every process started so far (group leader PID) and its ports."""
        started = {name: {"pid": p.pid, "ports": []} for name, p in self.agents.items()}
        for service in self.services():
            if service.pid is not None:
                started[service.name] = {"pid": service.pid, "ports": service.ports()}
        (self.run_dir / "processes.json").write_text(json.dumps(started, indent=2) + "\n")

    def stop(self) -> None:
        """Stops every process (agents first, the gateway settles on SIGTERM, then IPFS and anvil);
        Ctrl-C and SIGTERM wait meanwhile, so that a second Ctrl-C cannot leave a process behind."""
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.stop_agents()
            for service in self.services():
                service.stop(timeout=30)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so the same `finally` stops everything."""


def raise_on_sigterm() -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
