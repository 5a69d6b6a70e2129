"""Live progress from the chain's events: per job its round, phase, who committed, what was challenged
and slashed, and each new generation with its metric; notable events are also printed as lines."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from agents.devnet.reader import Reader
from agents.node.events import Event
from agents.node.manifest import parse_job
from agents.node.protocol import ABANDONED, AGGREGATION, CHALLENGE, COMMIT, EMPTY, FINALIZED, PROPOSAL, REVEAL
from agents.node.store import Store

METRIC_SCALE = 1e6
PHASES = {COMMIT: "commit", REVEAL: "reveal", CHALLENGE: "challenge", AGGREGATION: "aggregation",
          PROPOSAL: "proposal", FINALIZED: "finalized", EMPTY: "empty", ABANDONED: "abandoned"}  # fmt: skip
CLOSED_AS = {"RoundFinalized": "finalized", "RoundClosedEmpty": "closed empty", "RoundAbandoned": "abandoned"}


@dataclass
class JobView:
    job_id: int
    skill: str
    metrics: tuple[str, ...]  # on-chain order of a generation's metrics
    headline: str
    round_id: int = 0
    number: int = 0
    phase: str = "-"
    slots: int = 0
    committed: list[str] = field(default_factory=list)
    challenged: list[str] = field(default_factory=list)
    slashed: list[str] = field(default_factory=list)
    generations: list[tuple[int, float]] = field(default_factory=list)
    opened_at: float = 0.0
    finalized: int = 0  # rounds finalized
    abandoned: int = 0  # rounds abandoned past their aggregation deadline
    closed: int = 0  # rounds closed: finalized, empty or abandoned
    durations: list[float] = field(default_factory=list)

    def headline_of(self, raw: list[int]) -> float:
        return raw[self.metrics.index(self.headline)] / METRIC_SCALE


class Progress:
    """Follows the chain through `reader` (polled by `poll()`), and renders what it saw."""

    def __init__(self, reader: Reader, store: Store, names: dict[str, str], console: Console) -> None:
        self.reader, self.store, self.console = reader, store, console
        self.names = {a.lower(): n for a, n in names.items()}
        self.cursor = reader.cursor()
        self.jobs: dict[int, JobView] = {}
        self.rounds: dict[int, tuple[int, int]] = {}  # round id -> (job id, number)
        self.disputes: dict[int, tuple[int, str]] = {}  # dispute id -> (job id, accused)

    def name(self, address: str) -> str:
        return self.names.get(str(address).lower(), str(address)[:10])

    def poll(self) -> None:
        for event in self.cursor.poll():
            self._apply(event)

    def _apply(self, event: Event) -> None:
        a, name = event.args, event.name
        if name == "JobCreated":
            manifest = parse_job(self.store.get_document(a["spec"]["datasetManifestCID"]))
            from agents.learning.skills.registry import get_skill

            headline = get_skill(manifest.skill).metric
            self.jobs[a["jobId"]] = JobView(a["jobId"], manifest.skill, manifest.metrics, headline)
            self.say(f"job {a['jobId']} created: {manifest.skill}")
            return
        job = self.jobs.get(a.get("jobId", self.rounds.get(a.get("roundId", -1), (-1, 0))[0]))
        if name == "RoundOpened" and job is not None:
            self.rounds[a["roundId"]] = (job.job_id, a["number"])
            job.round_id, job.number, job.slots, job.phase = (
                a["roundId"],
                a["number"],
                a["slotCount"],
                "commit",
            )
            job.committed, job.challenged, job.opened_at = [], [], time.monotonic()
            self.say(
                f"{job.skill} round {job.number} open: {job.slots} slots, from generation {a['generation']}"
            )
        elif job is None:
            self._apply_other(name, a)
        elif name == "UpdateCommitted":
            job.committed.append(self.name(a["trainer"]))
            done = "committed" if any(a["commitment"]) else "submitted"  # a zero commitment: in the open
            self.say(f"{job.skill} round {self._number(a)}: {self.name(a['trainer'])} {done}")
        elif name == "RoundPhaseAdvanced":
            job.phase = PHASES.get(a["phase"], str(a["phase"]))
        elif name == "UpdateChallenged":
            who = self.name(a["accused"])
            job.challenged.append(who)
            self.disputes[a["disputeId"]] = (job.job_id, who)
            self.say(
                f"{job.skill} round {self._number(a)}: {self.name(a['challenger'])} challenged {who}'s update"
            )
        elif name == "UpdateRejected":
            self.say(f"{job.skill} round {self._number(a)}: {self.name(a['trainer'])}'s update rejected")
        elif name == "GenerationProposed":
            job.phase = "proposal"
        elif name == "GenerationRecorded" and a["number"] > 0:
            value = job.headline_of(a["metrics"])
            job.generations.append((a["number"], value))
            self.say(f"[green]{job.skill} generation {a['number']}[/]: {job.headline} {value:.4f}")
        elif name in ("RoundFinalized", "RoundClosedEmpty", "RoundAbandoned"):
            job.closed += 1
            job.finalized += name == "RoundFinalized"
            job.abandoned += name == "RoundAbandoned"
            job.phase = CLOSED_AS[name]
            job.durations.append(time.monotonic() - job.opened_at)
            if name != "RoundFinalized":
                self.say(f"{job.skill} round {self._number(a)} {job.phase}")

    def _apply_other(self, name: str, a: dict[str, Any]) -> None:
        if name == "Slashed":
            who, amount, reward = self.name(a["account"]), a["amount"] / 1e18, a["reward"] / 1e18
            self.say(f"[red]{who} slashed {amount:g} ETH[/] ({reward:g} to {self.name(a['beneficiary'])})")
        elif name == "DisputeResolved":
            verdict = {2: "upheld", 3: "rejected", 4: "dismissed"}.get(a["status"], str(a["status"]))
            job_id, accused = self.disputes.get(a["disputeId"], (0, "?"))
            self.say(f"dispute {a['disputeId']} on {accused}: {verdict}")
            if a["slashed"] and job_id in self.jobs:
                self.jobs[job_id].slashed.append(self.name(a["loser"]))

    def round_name(self, round_id: int) -> str:
        job_id, number = self.rounds[round_id]
        return f"{self.jobs[job_id].skill} {number}"

    def _number(self, a: dict[str, Any]) -> int:
        return self.rounds[a["roundId"]][1]

    def say(self, text: str) -> None:
        self.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {text}", highlight=False)

    def table(self) -> Table:
        table = Table(title="live from the chain")
        for column in (
            "job",
            "round",
            "phase",
            "committed",
            "challenged",
            "slashed (all rounds)",
            "generations",
        ):
            table.add_column(column)
        for job in self.jobs.values():
            slashed = Counter(job.slashed)
            table.add_row(
                f"{job.job_id} {job.skill}",
                str(job.number),
                job.phase,
                f"{len(job.committed)}/{job.slots} " + " ".join(job.committed),
                " ".join(job.challenged) or "-",
                " ".join(f"{who} x{n}" for who, n in slashed.items()) or "-",
                f"{job.headline}: " + (" ".join(f"g{n} {v:.3f}" for n, v in job.generations[-3:]) or "-"),
            )
        return table
