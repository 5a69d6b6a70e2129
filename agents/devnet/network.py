"""A whole local network on this machine: anvil, an IPFS daemon, and the contracts deployed on it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from agents.deployments import PROJECT_ROOT, aoai_home
from agents.devnet.services import (
    NETWORK_BLOCK_TIME_S,
    NODE_BIN,
    Anvil,
    IpfsDaemon,
    ServiceError,
    process_alive,
    stop_process_group,
)

DEPLOYER = "TEST::0"


@dataclass
class DevnetRecord:
    """What `devnet up` started, for `devnet down` and for every command that looks for the network."""

    rpc: str
    ipfs_api: str
    pids: list[int]
    workdir: str


def record_path() -> Path:
    return aoai_home() / "devnet.json"


def read_record() -> DevnetRecord | None:
    path = record_path()
    return DevnetRecord(**json.loads(path.read_text())) if path.exists() else None


def deploy(rpc: str, account: str = DEPLOYER, gateways: Sequence[str] = ()) -> str:
    """Runs the project's own `ape run deploy` against `rpc` (Billing's GATEWAY_ROLE to each of
    `gateways`); returns its output."""
    env = {**os.environ, "PATH": f"{NODE_BIN}:{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [
            "ape",
            "run",
            "deploy",
            "--network",
            f"ethereum:local:{rpc}",
            "--account",
            account,
            *(arg for gateway in gateways for arg in ("--gateway", gateway)),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise ServiceError(f"ape run deploy failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def up(anvil_port: int = 8545, ipfs_port: int = 5001) -> DevnetRecord:
    """Starts anvil and IPFS in the background, deploys the contracts, and records the network."""
    if (existing := read_record()) is not None:
        if any(process_alive(pid) for pid in existing.pids):
            raise ServiceError(f"a devnet is already up at {existing.rpc}: `aoai devnet down` first")
        down()  # the record of a devnet whose processes are gone
    workdir = aoai_home() / "devnet"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    anvil = Anvil(port=anvil_port, workdir=workdir / "anvil", block_time=NETWORK_BLOCK_TIME_S).start()
    try:
        ipfs = IpfsDaemon(workdir=workdir / "ipfs", api_port=ipfs_port).start()
    except BaseException:
        anvil.stop()
        raise
    record = DevnetRecord(anvil.url, ipfs.api_multiaddr, [anvil.detach(), ipfs.detach()], str(workdir))
    record_path().write_text(json.dumps(asdict(record), indent=2))
    try:
        deploy(record.rpc)
    except BaseException:
        down()
        raise
    return record


def down() -> DevnetRecord | None:
    """Stops what `up` started; returns what was stopped, or None if nothing was up."""
    record = read_record()
    if record is None:
        return None
    for pid in record.pids:
        stop_process_group(pid)
    record_path().unlink()
    return record
