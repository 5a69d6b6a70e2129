"""The trainer agent: for every round of its job, train on the task the chain assigned, publish the update
on IPFS, claim a slot and commit in one transaction, then reveal.

Behaviours other than ``honest`` simulate attacks on the network, to test its defences: ``lazy``
publishes its unchanged input with a fabricated trace; ``withhold`` trains honestly but publishes only its
update's CID, never storing the bundle (nobody can check or aggregate it); ``copy`` waits for another
trainer's update of the same round and publishes its trace under its own name (a copy of a sealed round's
update cannot be had before the full house, so a copier among sealed trainers waits out the round); the
crafted updates, label flipping, ``partial`` and ``replay`` come from :mod:`agents.attacks.behaviours`
(see there how colluding attacks estimate the honest updates).
"""

from __future__ import annotations

import random
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn

from agents.attacks.behaviours import ATTACKS, PEER_SHARDS, attack_result
from agents.learning.codec import State
from agents.learning.training import LocalTraining
from agents.node.accounts import derived_secret
from agents.node.agent import Agent
from agents.node.events import Event
from agents.node.journal import Journal
from agents.node.manifest import commitment
from agents.node.protocol import COMMIT, TRAINER, RoundRecord
from agents.node.routing import choose_job
from agents.node.sender import Reverted
from agents.node.work import JobContext, Task, Trained, copied, fabricate, publish, train

BEHAVIOURS = ("honest", "lazy", "copy", "withhold", *ATTACKS)


class Trainer(Agent):
    role = "trainer"
    quiet_events = frozenset(
        {"SlotClaimed", "UpdateCommitted", "UpdateRevealed", "VerificationAnchored", "UpdatesAttested",
         "ProposalAttested", "VerifierRewardClaimed"}
    )  # fmt: skip
    """A trainer acts on a round's opening, its full house (``RoundPhaseAdvanced``), a proposal to prefetch
    and the round's end; others' commits, reveals and attestations leave it nothing to do."""

    def __init__(
        self,
        *args: Any,
        behaviour: str = "honest",
        faked_fraction: float = 0.1,
        auto: bool = False,
        sealed: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}; known: {', '.join(BEHAVIOURS)}")
        self.behaviour = behaviour
        self.faked_fraction = faked_fraction
        self._previous: LocalTraining | None = None
        self.auto = auto
        self.sealed = sealed
        self.journal = Journal(self.chain.me, "trainer")
        self._rng = random.Random(self.chain.me)
        self._routed_at = -1
        if behaviour == "copy":  # others' updates are what it waits for
            self.quiet_events = self.quiet_events - {"UpdateRevealed"}

    def start(self) -> None:
        jobs = self.followed_jobs()
        specs = [self.chain.job_spec(j) for j in jobs]
        if not specs:
            raise RuntimeError("no job to train for")
        added = self.chain.ensure_stake(TRAINER, max(int(s["trainerStake"]) for s in specs))
        self.say(f"staked {added / 1e18:g} ETH" if added else "stake in place")

    def followed_jobs(self) -> list[int]:
        """With ``--job auto`` every job, whichever the trainer was last routed to: with ``--rounds N`` it
        stops once every job has closed N rounds, not when the job it last trained for has."""
        return list(self.chain.book.jobs) if self.auto else super().followed_jobs()

    def tick(self) -> None:
        if self.auto:
            self.job = self._route()
        if self.job is None or (round_id := self.chain.book.current.get(self.job)) is None:
            return
        record = self.chain.book.rounds[round_id]
        unrevealed = sorted(record.slots_of(self.chain.me) - set(record.reveals) - record.penalized)
        if record.closed or not (unrevealed or self.chain.book.takes_commit(record, self.chain.me)):
            if self.rounds is None or record.number < self.rounds:
                self.prefetch_proposal(record)  # the next round's weights
            return  # the book shows nothing left to do here (revealed, or no way in)
        committing = self.chain.sure_phase(record) == COMMIT  # no full house, the deadline not passed
        if unrevealed:
            if not committing:
                self._reveal(record, unrevealed[0])
        elif committing and self._wants(record):
            self._commit(record)

    def _route(self) -> int | None:
        """``--job auto``: a job whose round awaits this trainer's reveal, else the UCB choice (noting the
        block its book had read), else the job it had."""
        book, me = self.chain.book, self.chain.me
        for job_id, round_id in sorted(book.current.items()):
            record = book.rounds[round_id]
            if not record.closed and record.slots_of(me) - set(record.reveals):
                return job_id
        job = choose_job(book, me, self.context, self._wants)
        if job is not None:
            self._routed_at = self.chain.cursor.next_block - 1
        return self.job if job is None else job

    def _wants(self, record: RoundRecord) -> bool:
        return self.rounds is None or record.number <= self.rounds

    def _salt(self, round_id: int) -> bytes:
        return derived_secret(self.chain.account, f"aoai-salt:{self.chain.chain_id}:{round_id}")

    def _prepare(self, record: RoundRecord) -> dict[str, str] | None:
        """The update to commit this round, from the journal or freshly trained and uploaded."""
        key = str(record.round_id)
        if (done := self.journal.get(key)) is not None:
            return dict(done)
        ctx = self.context(record.job_id)
        if self.behaviour == "copy":
            others = [r for r in record.reveals.values() if r.trainer.lower() != self.chain.me.lower()]
            if not others:
                return None  # nothing to copy yet
            trained = copied(self.store, others[-1])
            self.say(f"copying slot {others[-1].slot}'s update in round {record.number}")
        else:
            global_state = self.weights(record.job_id, record.generation)
            task = Task.of(record.task_seed, self.chain.me, ctx.shard_count)
            if self.behaviour == "lazy":
                trained = fabricate(ctx, global_state)
            elif self.behaviour in ATTACKS:
                trained = self._attack(ctx, global_state, task, record)
            else:
                trained = self._train(ctx, global_state, task, record)
                self.crash_point("training")
        withhold = self.behaviour == "withhold"
        cid, update_hash, root = publish(self.store, ctx, record.round_id, self.chain.me, trained, withhold)
        entry = {"cid": cid, "hash": update_hash.hex(), "root": root.hex()}
        self.journal.put(key, entry)
        return entry

    def _train(self, ctx: Any, global_state: Any, task: Task, record: RoundRecord) -> Any:
        columns = (
            TextColumn(f"round {record.number} shard {task.shard}"),
            BarColumn(),
            TextColumn("{task.description}"),
        )
        with Progress(*columns, console=self.console, transient=True) as progress:
            bar = progress.add_task("waiting for a CPU slot", total=ctx.num_segments)

            def advance(done: int, total: int) -> None:
                progress.update(bar, completed=done, description=f"segment {done}/{total}")

            with self.cpu.hold():
                trained = train(ctx, global_state, task, advance)
        self.say(f"trained round {record.number} (gen {record.generation}) on shard {task.shard}")
        return trained

    def _attack(self, ctx: JobContext, global_state: State, task: Task, record: RoundRecord) -> Trained:
        shards = [ctx.shard((task.shard + i) % ctx.shard_count) for i in range(1 + PEER_SHARDS)]
        with self.cpu.hold():
            result = attack_result(
                self.behaviour, ctx.skill, ctx.config, global_state, shards, task.seed, ctx.hp,
                workers=record.slot_count, faked_fraction=self.faked_fraction, previous=self._previous,
            )  # fmt: skip
        self._previous = self._previous or result
        self.say(
            f"attack {self.behaviour}: round {record.number} (gen {record.generation}) shard {task.shard}"
        )
        return Trained(result.checkpoints)

    def _commit(self, record: RoundRecord) -> None:
        """Claims a free slot and submits the update in it: in the open, or, when ``sealed``, as a
        commitment revealed once commits close."""
        entry = self._prepare(record)
        if entry is None:
            return
        values = bytes.fromhex(entry["hash"]), bytes.fromhex(entry["root"])
        args: tuple[str | bytes, ...]
        if self.sealed:
            salt = self._salt(record.round_id)
            method, args = "claimAndCommit", (commitment(entry["cid"], *values, salt, self.chain.me),)
        else:
            method, args = "claimAndSubmit", (entry["cid"], *values)
        self.chain.sync(self.on_event)  # the slots others took while this trainer trained
        slots = [s for s in range(record.slot_count) if s not in record.commits]
        self._rng.shuffle(slots)
        for slot in slots:
            try:
                events = self._claim(record, method, slot, *args)
            except Reverted as error:
                if error.name != "TrainingRoundsSlotUnavailable":
                    raise
                if self.sealed:  # taken since the book's last sync
                    continue
                break  # in the open, a taken slot gives way to the next open one: none is left
            slot = next(int(e.args["slot"]) for e in events if e.name == "UpdateCommitted")
            routed = f"; routed at block {self._routed_at}" if self.auto else ""
            done = "committed" if self.sealed else "submitted"
            self.say(f"{done} round {record.number} of job {record.job_id} in slot {slot}{routed}")
            self.crash_point("commit")
            return
        self.say(f"no open slot in round {record.number}")

    def _claim(self, record: RoundRecord, method: str, slot: int, *args: Any) -> list[Event]:
        """Claims ``slot`` with ``method`` (``claimAndCommit`` or ``claimAndSubmit``), first topping the
        stake up if the chain says it is short (slashed, or the job asks more than the start-up stake);
        returns the transaction's events."""
        try:
            return self.chain.send("TrainingRounds", method, record.round_id, slot, *args)
        except Reverted as error:
            if error.name != "TrainingRoundsInsufficientStake":
                raise
            added = self.chain.ensure_stake(TRAINER, int(self.chain.job_spec(record.job_id)["trainerStake"]))
            self.say(f"staked {added / 1e18:g} ETH more")
            return self.chain.send("TrainingRounds", method, record.round_id, slot, *args)

    def _reveal(self, record: RoundRecord, slot: int) -> None:
        entry = self._prepare(record)
        if entry is None:
            return
        self.chain.send(
            "TrainingRounds", "reveal", record.round_id, slot, entry["cid"], bytes.fromhex(entry["hash"]),
            bytes.fromhex(entry["root"]), self._salt(record.round_id),
        )  # fmt: skip
        self.say(f"revealed round {record.number} slot {slot}: {entry['cid'][:16]}…")
