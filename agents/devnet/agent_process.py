"""How an agent runs as its own process on a local network: the command and its environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from agents.devnet.services import NODE_BIN

AGENT_ENTRY = "from agents.cli.agents import agents_cli; agents_cli()"


def agent_command(network: str, ipfs_api: str, *args: str) -> list[str]:
    """`aoai ARGS --network NETWORK --ipfs IPFS_API` (worker/verifier/aggregator start ...) in this Python."""
    return [sys.executable, "-c", AGENT_ENTRY, *args, "--network", network, "--ipfs", ipfs_api]


def agent_env(home: Path) -> dict[str, str]:
    """This environment with AOAI_HOME set, the project's node tools and this venv first on PATH, and
    unbuffered, wide output for log files."""
    path = f"{NODE_BIN}:{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    return {**os.environ, "AOAI_HOME": str(home), "PATH": path, "PYTHONUNBUFFERED": "1", "COLUMNS": "160"}
