"""A small local journal per account under ``$AOAI_HOME/agents/<address>/``: what an agent published, so a
restart reuses it instead of recomputing. Losing it costs time only (training is deterministic)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agents.deployments import aoai_home


class Journal:
    def __init__(self, address: str, name: str) -> None:
        self.path = aoai_home() / "agents" / address.lower() / f"{name}.json"
        self.data: dict[str, Any] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def put(self, key: str, value: Any) -> None:
        """Stores ``value`` and writes the journal atomically."""
        self.data[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(f"{self.path}.tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)
