"""The loop every agent runs: read new events into the book, do what is due, wait for the next block with
an event the agent may act on (or ``IDLE_TICK_SECONDS``, for what falls due with time: deadlines), repeat.

A failed step (IPFS down, node hiccup, a race lost to another agent) is logged and retried on the next
tick: decisions are re-derived from the views each time, so retrying is always safe.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from typing import Any

import torch
from rich.console import Console
from web3.exceptions import CannotHandleRequest

from agents.learning.codec import State
from agents.learning.errors import ContentUnavailable, LearningError, WeightStoreError
from agents.node.cpu_slots import CpuSlots
from agents.node.events import Event
from agents.node.manifest import ManifestError
from agents.node.protocol import Chain, RoundRecord
from agents.node.sender import Reverted
from agents.node.store import Store
from agents.node.work import Generation, JobContext, Revealed, Task, aggregate_generation, read_update

IDLE_TICK_SECONDS = 1.0
REFETCH_SECONDS = 10.0
"""How long an agent leaves an update whose bundle nobody served before asking the store again (each ask
holds it up for the store's timeout)."""
RETRY_SECONDS = 0.5
MAX_FAILED_TICKS = 600
CRASH_EXIT = 70

log = logging.getLogger("aoai.agent")


class StopAgent(Exception):
    """Raised by a tick when the agent has done what it was asked."""


class BookBehind(ConnectionError):
    """The chain's state is ahead of the events synced so far: retried after the next sync."""


class Agent:
    """Base of the trainer, verifier and aggregator: a chain, an IPFS store, and job contexts."""

    role = "agent"
    quiet_events: frozenset[str] = frozenset()
    """Events that never give this role something to do: a block holding only these does not wake it (the
    book reads them with the next block that does; what falls due with time waits for the idle tick)."""

    def __init__(
        self,
        chain: Chain,
        store: Store,
        job: int | None = None,
        rounds: int | None = None,
        console: Console | None = None,
        crash_after: str | None = None,
    ) -> None:
        self.crash_after = crash_after
        self.chain = chain
        self.store = store
        self.job = job
        self.rounds = rounds
        self.console = console or Console(stderr=True)
        self._contexts: dict[int, JobContext] = {}
        self._weights: dict[bytes, State] = {}  # generations' weights by keccak256
        self._unfetchable: set[bytes] = set()  # proposals' hashes whose prefetch failed
        self._updates: dict[tuple[int, int], State] = {}
        self.unreadable: set[tuple[int, int]] = set()  # (round, slot) of updates a prefetch could not read
        self.unserved: dict[tuple[int, int], float] = {}  # (round, slot) nobody served -> when to ask again
        self._generations: dict[tuple[int, int], Generation] = {}
        self.cpu = CpuSlots.for_host()
        torch.set_num_threads(1)

    # -- helpers shared by the agents

    def say(self, message: str) -> None:
        self.console.print(f"[bold]{self.role}[/] {self.chain.me[:8]} {message}", highlight=False)

    def context(self, job_id: int) -> JobContext:
        if job_id not in self._contexts:
            spec = self.chain.book.jobs.get(job_id) or self.chain.job_spec(job_id)
            self._contexts[job_id] = JobContext.load(job_id, spec, self.store)
        return self._contexts[job_id]

    def weights(self, job_id: int, generation: int) -> State:
        """A generation's weights: the ones this agent computed or prefetched with the keccak256 the chain
        recorded, else from IPFS, checked against it."""
        cid, weights_hash, _ = self.chain.book.generations[(job_id, generation)]
        return self._weights_of(job_id, cid, weights_hash)

    def prefetch_proposal(self, record: RoundRecord) -> None:
        """The weights of ``record``'s live proposal, fetched while verifiers check it: if it is finalized,
        the round it opens starts without waiting for IPFS. A proposal that cannot be fetched or decoded is
        left alone (the verifiers challenge it; if it stands, :meth:`weights` fetches it again)."""
        if record.closed or not record.proposals:
            return
        proposal = record.proposals[-1]
        weights_hash = bytes(proposal["weightsHash"])
        if weights_hash in self._weights or weights_hash in self._unfetchable:
            return
        try:
            self._weights_of(record.job_id, proposal["cid"], weights_hash)
        except (WeightStoreError, LearningError) as error:
            self._unfetchable.add(weights_hash)
            self.say(f"[yellow]not prefetched[/]: the proposal of round {record.number}: {error}")

    def _weights_of(self, job_id: int, cid: str, weights_hash: bytes) -> State:
        if weights_hash not in self._weights:
            self._weights[weights_hash] = self.context(job_id).decode_weights(
                self.store.get(cid, weights_hash)
            )
        return self._weights[weights_hash]

    def update_state(self, revealed: Revealed) -> State:
        """The update behind a revealed bundle (hash-checked, safely decoded; see :func:`read_update`)."""
        key = (revealed.round_id, revealed.slot)
        if key not in self._updates:
            record = self.chain.book.rounds[revealed.round_id]
            generation = self.weights(record.job_id, record.generation)
            self._updates[key] = read_update(self.store, self.context(record.job_id), generation, revealed)
        return self._updates[key]

    def generation_for(self, round_id: int, slots: int) -> Generation:
        """Generation g+1 from the updates in the bitmap ``slots``, weighted by their shards' sizes."""
        if (round_id, slots) in self._generations:
            return self._generations[(round_id, slots)]
        record = self.chain.book.rounds[round_id]
        if unseen := record.unseen(slots):
            raise BookBehind(f"round {record.number}: the reveals of slots {unseen} are not synced yet")
        ctx = self.context(record.job_id)
        chosen = [record.reveals[s] for s in sorted(record.reveals) if slots >> s & 1]
        sizes = [len(ctx.shard(Task.of(record.task_seed, r.trainer, ctx.shard_count).shard)) for r in chosen]
        updates = [self.update_state(r) for r in chosen]
        generation = aggregate_generation(ctx, self.weights(record.job_id, record.generation), updates, sizes)
        self._generations[(round_id, slots)] = generation
        self._weights[generation.weights_hash] = generation.state  # the next round's, once it is finalized
        return generation

    def read_updates(self, record: RoundRecord, slots: int) -> bool:
        """Reads ahead the revealed updates in the bitmap ``slots``; whether each could be read and decoded.
        One whose content is malformed is noted and not read again here (its checker challenges it); one the
        store failed to fetch (a daemon restarting) is read again on the next call, or, if nobody served
        it, once REFETCH_SECONDS have passed (see :meth:`fetch_due`)."""
        keys = [(record.round_id, s) for s in sorted(record.reveals) if slots >> s & 1]
        fetched = True
        for key in keys:
            if key in self._updates or key in self.unreadable:
                continue
            if not self.fetch_due(key):
                fetched = False
                continue
            try:
                self.update_state(record.reveals[key[1]])
            except (ManifestError, LearningError) as error:
                self.unreadable.add(key)
                self.say(f"[yellow]not prefetched[/]: round {record.number} slot {key[1]}: {error}")
            except WeightStoreError as error:
                fetched = False
                self.fetch_failed(record, key, error)
        return fetched and not any(key in self.unreadable for key in keys)

    def fetch_due(self, key: tuple[int, int]) -> bool:
        """Whether the update ``key`` (round, slot) may be fetched now: not one nobody served a moment ago."""
        return time.monotonic() >= self.unserved.get(key, 0.0)

    def fetch_failed(self, record: RoundRecord, key: tuple[int, int], error: WeightStoreError) -> None:
        """Notes a failed fetch of the update ``key``; one nobody served is not asked for again before
        REFETCH_SECONDS (a daemon restarting is asked again on the next tick)."""
        if isinstance(error, ContentUnavailable):
            self.unserved[key] = time.monotonic() + REFETCH_SECONDS
        self.say(f"[yellow]not fetched yet[/]: round {record.number} slot {key[1]}: {error}")

    def prepare_generation(self, record: RoundRecord, slots: int) -> Generation | None:
        """The generation of the updates in the bitmap ``slots``, built ahead while they are being checked
        (the usual outcome); None while one of them cannot be read or decoded (once that one is out of
        ``slots``, the rest is built)."""
        if not slots or not self.read_updates(record, slots):
            return None
        return self.generation_for(record.round_id, slots)

    def forget_closed(self) -> None:
        """Drops the updates and generations cached for closed rounds, and the weights of generations no
        open round builds on or proposes: a long-running agent's memory stays flat (a late need fetches
        again)."""
        book = self.chain.book
        live = book.open_rounds()
        self._updates = {k: v for k, v in self._updates.items() if k[0] in live}
        self.unreadable = {k for k in self.unreadable if k[0] in live}
        self.unserved = {k: v for k, v in self.unserved.items() if k[0] in live}
        self._generations = {k: v for k, v in self._generations.items() if k[0] in live}
        bases = {
            book.generations[b][1]
            for r in live.values()
            if (b := (r.job_id, r.generation)) in book.generations
        }
        proposed = {bytes(p["weightsHash"]) for r in live.values() for p in r.proposals}
        computed = {g.weights_hash for g in self._generations.values()}
        self._weights = {h: w for h, w in self._weights.items() if h in bases | proposed | computed}
        self._unfetchable &= proposed

    def follows(self, job_id: int) -> bool:
        return self.job is None or job_id == self.job

    def live_rounds(self) -> list[int]:
        """Open rounds of the followed jobs (the current round of each)."""
        book = self.chain.book
        return [r for j, r in sorted(book.current.items()) if self.follows(j) and not book.rounds[r].closed]

    def followed_jobs(self) -> list[int]:
        """The jobs the agent works for: its ``--job``, else every job."""
        return [self.job] if self.job is not None else list(self.chain.book.jobs)

    def finished(self) -> bool:
        """With ``rounds``: whether rounds 1..N of every followed job are closed."""
        if self.rounds is None:
            return False
        book = self.chain.book
        jobs = self.followed_jobs()
        return bool(jobs) and all(
            any(r.job_id == j and r.number >= self.rounds and r.closed for r in book.rounds.values())
            for j in jobs
        )

    # -- the loop

    def start(self) -> None:
        """Called once, after the first sync (stake, announce)."""

    def on_event(self, event: Event) -> None:
        """Called for every event, history included."""

    def tick(self) -> None:
        """Do whatever is due now."""

    def run(self) -> None:
        self.chain.sleep_through(self.quiet_events)
        self.chain.sync(self.on_event)
        self.start()
        failures = 0
        while True:
            try:
                self.chain.sync(self.on_event)
                self.tick()
                self.forget_closed()
                failures = 0
                if self.finished() and self.settled():
                    self.say("done")
                    return
                self.chain.wait_for_block(IDLE_TICK_SECONDS)
            except StopAgent:
                return
            except (WeightStoreError, Reverted, ConnectionError, OSError, CannotHandleRequest) as error:
                failures += 1
                self.say(f"[yellow]retrying[/]: {error}")
            except Exception:
                failures += 1
                self.say(f"[red]error[/]: {traceback.format_exc()}")
            if failures > MAX_FAILED_TICKS:
                raise RuntimeError(f"{self.role} gave up after {failures} failed ticks")
            if failures:
                time.sleep(min(5.0, RETRY_SECONDS * (1 + failures)))

    def crash_point(self, point: str) -> None:
        """Test hook (``--crash-after POINT``): die at once, as a killed process would, at ``point``."""
        if self.crash_after == point:
            self.say(f"crashing after {point}")
            self.console.file.flush()
            os._exit(CRASH_EXIT)

    def settled(self) -> bool:
        """Whether nothing owed to the agent is left to collect before it stops."""
        return True


def short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 14 else text[:10] + "…"
