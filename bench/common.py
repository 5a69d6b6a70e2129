"""What every benchmark shares: targets, the results file, and a real anvil to send transactions to."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent / "results"
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}


@dataclass(frozen=True)
class Target:
    """A figure and the bound it must meet, e.g. Target("claim gas", 52_000, "<=", 60_000)."""

    what: str
    value: float
    op: str
    bound: float

    @property
    def met(self) -> bool:
        return _COMPARE[self.op](self.value, self.bound)

    def as_json(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "value": self.value,
            "target": f"{self.op} {self.bound:g}",
            "met": self.met,
        }


def report(name: str, figures: dict[str, Any], targets: list[Target], console: Console | None = None) -> Path:
    """Prints the targets as a table and writes bench/results/NAME.json."""
    console = console or Console()
    table = Table(title=f"{name}: targets")
    for column in ("what", "value", "target", "met"):
        table.add_column(column)
    for target in targets:
        table.add_row(
            target.what,
            f"{target.value:,.4g}",
            f"{target.op} {target.bound:,g}",
            "[green]yes[/]" if target.met else "[red]no[/]",
        )
    console.print(table)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"figures": figures, "targets": [t.as_json() for t in targets]}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    console.print(f"wrote {path}")
    return path


@contextmanager
def anvil_network() -> Iterator[Any]:
    """A fresh anvil, with ape connected to it; yields ape's test accounts (funded)."""
    from ape import accounts, networks

    from agents.devnet.services import Anvil

    with Anvil() as node, networks.parse_network_choice(f"ethereum:local:{node.url}"):
        yield accounts.test_accounts
