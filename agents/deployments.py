"""Where each network's contract addresses are recorded, so agents and the CLI find them.

One JSON file per chain id under `$AOAI_HOME/deployments/` (default `.aoai/` in the project),
written by `ape run deploy` and read by everything else.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class DeploymentNotFound(LookupError):
    """No contracts were recorded for this chain."""


def aoai_home() -> Path:
    return Path(os.environ.get("AOAI_HOME", PROJECT_ROOT / ".aoai"))


def deployment_path(chain_id: int) -> Path:
    return aoai_home() / "deployments" / f"{chain_id}.json"


def save_deployment(chain_id: int, record: dict[str, object]) -> Path:
    path = deployment_path(chain_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


def load_deployment(chain_id: int) -> dict[str, object]:
    path = deployment_path(chain_id)
    if not path.exists():
        raise DeploymentNotFound(f"no contracts for chain {chain_id} at {path}: run `ape run deploy` first")
    record: dict[str, object] = json.loads(path.read_text())
    return record
