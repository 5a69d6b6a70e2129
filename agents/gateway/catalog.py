"""The catalogue of servable models: every finalized generation of every job the gateway can run.

Built from the model registry's `GenerationRecorded` logs, read with a block cursor (`Catalog.poll`), so a
restarted gateway rebuilds it from the chain and a new generation is seen at the next poll. A job is
servable when its on-chain `configHash` is the config hash of a known skill's default model config.

Metrics on chain are `int256[]` scaled by 1e6, in the order of `Skill.reported_metrics` (the order
`aoai job create` writes into the job manifest and aggregators report in). "Best" ranks generations by
the headline metric in its direction (`HIGHER_IS_BETTER`); a generation without it (the genesis) ranks
after every measured one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agents.gateway.chain import ChainReader, GenerationEvent
from agents.learning.skills.registry import SKILLS, Skill

METRIC_SCALE = 1_000_000
HIGHER_IS_BETTER = {"accuracy": True, "loss": False, "perplexity": False}
LOG_RANGE = 5_000

Selector = Literal["best", "latest"] | int


class UnknownJob(LookupError):
    pass


class UnknownGeneration(LookupError):
    pass


@dataclass
class Generation:
    """One finalized generation, and what the gateway found when it loaded its weights."""

    job_id: int
    number: int
    round_id: int
    cid: str
    weights_hash: bytes
    metrics: dict[str, float]
    refused: str | None = None
    """Why its weights are not served (hash mismatch, undecodable); None while nothing is known against it."""


@dataclass
class Job:
    job_id: int
    skill: Skill
    config: Mapping[str, Any]
    generations: dict[int, Generation] = field(default_factory=dict)

    def headline(self, generation: Generation) -> float | None:
        return generation.metrics.get(self.skill.metric)

    def ranked(self, selector: Selector) -> list[Generation]:
        """Generations in order of preference for `selector` ("best", "latest"), refused ones left out."""
        usable = [g for g in self.generations.values() if g.refused is None]
        by_number = sorted(usable, key=lambda g: g.number, reverse=True)
        if selector == "latest":
            return by_number
        sign = 1 if HIGHER_IS_BETTER.get(self.skill.metric, False) else -1
        measured = [g for g in by_number if self.headline(g) is not None]
        unmeasured = [g for g in by_number if self.headline(g) is None]
        # sorted() is stable: among equal scores the later generation stays first.
        return sorted(measured, key=lambda g: -sign * (self.headline(g) or 0.0)) + unmeasured

    def generation(self, number: int) -> Generation:
        try:
            return self.generations[number]
        except KeyError:
            raise UnknownGeneration(f"job {self.job_id} has no finalized generation {number}") from None


def skill_for(config_hash: bytes, skills: Iterable[Skill] = SKILLS.values()) -> Skill | None:
    """The skill whose default model config hashes to the job's on-chain `configHash`."""
    for skill in skills:
        if bytes.fromhex(skill.config_hash()) == config_hash:
            return skill
    return None


def decode_metrics(skill: Skill, raw: tuple[int, ...]) -> dict[str, float]:
    return {name: value / METRIC_SCALE for name, value in zip(skill.reported_metrics, raw, strict=False)}


class Catalog:
    """Jobs and generations from the chain; `poll` reads the logs since the last poll. Thread-safe."""

    def __init__(self, reader: ChainReader, *, start_block: int = 0, confirmations: int = 0) -> None:
        self._reader = reader
        self._next_block = start_block
        self._confirmations = confirmations
        self._jobs: dict[int, Job] = {}
        self._unsupported: set[int] = set()
        self._lock = threading.Lock()

    @property
    def next_block(self) -> int:
        return self._next_block

    def poll(self) -> list[Generation]:
        """Reads new `GenerationRecorded` logs up to the head (less `confirmations`); returns the new
        generations of servable jobs."""
        head = self._reader.head() - self._confirmations
        added: list[Generation] = []
        while self._next_block <= head:
            to_block = min(head, self._next_block + LOG_RANGE - 1)
            for event in self._reader.generation_events(self._next_block, to_block):
                generation = self._add(event)
                if generation is not None:
                    added.append(generation)
            self._next_block = to_block + 1
        return added

    def jobs(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.job_id)

    def job(self, key: str | int) -> Job:
        """A job by id, or by skill name when exactly one job runs that skill."""
        with self._lock:
            if isinstance(key, int) or key.isdigit():
                job = self._jobs.get(int(key))
                if job is None:
                    raise UnknownJob(f"no servable job {key}")
                return job
            matching = [j for j in self._jobs.values() if j.skill.name == key]
        if not matching:
            raise UnknownJob(f"no servable job named {key!r}")
        if len(matching) > 1:
            ids = ", ".join(str(j.job_id) for j in sorted(matching, key=lambda j: j.job_id))
            raise UnknownJob(f"several jobs run {key!r} ({ids}): name one by id")
        return matching[0]

    def refuse(self, generation: Generation, reason: str) -> None:
        with self._lock:
            generation.refused = reason

    def _add(self, event: GenerationEvent) -> Generation | None:
        if event.job_id in self._unsupported:
            return None
        with self._lock:
            job = self._jobs.get(event.job_id)
        if job is None:
            skill = skill_for(self._reader.config_hash(event.job_id))
            if skill is None:
                self._unsupported.add(event.job_id)
                return None
            job = Job(event.job_id, skill, dict(skill.default_config))
        generation = Generation(
            job_id=event.job_id,
            number=event.number,
            round_id=event.round_id,
            cid=event.cid,
            weights_hash=event.weights_hash,
            metrics=decode_metrics(job.skill, event.metrics),
        )
        with self._lock:
            job = self._jobs.setdefault(job.job_id, job)
            if event.number in job.generations:
                return None
            job.generations[event.number] = generation
        return generation
