"""The protocol as an agent sees it: contract handles, transactions with named reverts, chain time, and a
book of what the contracts' events said (rounds, reveals, generations, proposals, disputes).

Agents learn from the book and decide from it or from views: the book is rebuilt from the deployment block
on every start and read on at every new block, through the agent's own last transaction, and the
contracts refuse a repeated action at its gas estimate, before anything is sent; so neither a restart nor
a lagging book repeats an action.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak

from agents.node.abi import Function
from agents.node.events import Event, LogCursor, abi_dicts
from agents.node.sender import Sender, raise_for_error
from agents.node.work import Revealed

# ITrainingRounds.Phase, SlotStatus, IDisputes.Status, IStakeManager.Role
NONE, COMMIT, REVEAL, CHALLENGE, AGGREGATION, PROPOSAL, FINALIZED, EMPTY, ABANDONED = range(9)
SLOT_OPEN, SLOT_CLAIMED, SLOT_COMMITTED, SLOT_PENALIZED = range(4)
PENDING, UPHELD, REJECTED, DISMISSED = 1, 2, 3, 4
TRAINER, VERIFIER, AGGREGATOR = 0, 1, 2
PROPOSAL_BIT = 1 << 255
ROUND_EVENTS = (
    "RoundPhaseAdvanced", "UpdateCommitted", "UpdateRevealed", "GenerationProposed", "ProposalRejected",
    "ProposalVoided", "UpdateRejected", "RoundFinalized", "RoundClosedEmpty", "RoundAbandoned",
    "VerificationAnchored", "MissedRevealPenalized", "UpdatesAttested", "ProposalAttested",
)  # fmt: skip
EVENT_CONTRACTS = ("JobRegistry", "ModelRegistry", "TrainingRounds", "Disputes", "StakeManager")


def as_dict(value: Any) -> dict[str, Any]:
    """A struct returned by an ape view as a plain dict."""
    if isinstance(value, dict):
        return dict(value)
    if hasattr(value, "items"):
        return dict(value.items())
    if hasattr(value, "_asdict"):
        return dict(value._asdict())
    return dict(vars(value))


@dataclass
class RoundRecord:
    round_id: int
    job_id: int
    number: int
    generation: int
    slot_count: int
    task_seed: bytes
    commit_deadline: int
    phase: int = COMMIT
    commits: dict[int, str] = field(default_factory=dict)
    reveals: dict[int, Revealed] = field(default_factory=dict)
    proposals: list[dict[str, Any]] = field(default_factory=list)
    accepted: dict[int, str] = field(default_factory=dict)
    anchor: int | None = None
    penalized: set[int] = field(default_factory=set)
    rejected: set[int] = field(default_factory=set)
    attested: dict[str, int] = field(default_factory=dict)  # slots each verifier (lowercase) attested
    joined: set[str] = field(default_factory=set)  # verifiers that staked while it was open (lowercase)
    proposal_attested: dict[str, int] = field(default_factory=dict)  # verifier (lowercase) -> nonce
    closed: bool = False
    finalized: bool = False
    abandoned: bool = False  # past its aggregation deadline: no generation, no reward

    def slots_of(self, trainer: str) -> set[int]:
        """The slots ``trainer`` committed in."""
        return {s for s, t in self.commits.items() if t.lower() == trainer.lower()}

    @property
    def attesters(self) -> set[str]:
        """The verifiers that attested updates (lowercase)."""
        return set(self.attested)

    def attested_by(self, verifier: str) -> int:
        """The slots ``verifier`` attested, as a bitmap (the contract's ``attestedBy`` without the
        proposal bit)."""
        return self.attested.get(verifier.lower(), 0)

    def attestations_of(self, slot: int) -> int:
        """How many verifiers attested ``slot`` (the contract's ``attestationsOf``)."""
        return sum(bits >> slot & 1 for bits in self.attested.values())

    def proposal_attestations(self) -> int:
        """How many verifiers attested the live proposal (the last the record holds)."""
        nonce = int(self.proposals[-1]["nonce"]) if self.proposals else None
        return sum(n == nonce for n in self.proposal_attested.values())

    @property
    def accepted_slots(self) -> int:
        """The revealed slots not rejected, as a bitmap (``revealedSlots & ~rejectedSlots``)."""
        return sum(1 << s for s in self.reveals if s not in self.rejected)

    def unseen(self, slots: int) -> list[int]:
        """The slots of the bitmap ``slots`` whose reveal this record has not seen yet (a view of the
        chain read after the last sync can be ahead of it)."""
        return [s for s in range(slots.bit_length()) if slots >> s & 1 and s not in self.reveals]


@dataclass
class Book:
    """Protocol state as the events tell it."""

    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    rounds: dict[int, RoundRecord] = field(default_factory=dict)
    current: dict[int, int] = field(default_factory=dict)
    generations: dict[tuple[int, int], tuple[str, bytes, list[int]]] = field(default_factory=dict)
    disputes: dict[int, dict[str, Any]] = field(default_factory=dict)
    panels: dict[int, list[str]] = field(default_factory=dict)
    votes: dict[tuple[int, str], str] = field(default_factory=dict)

    def apply(self, event: Event) -> None:
        a, name = event.args, event.name
        if name == "JobCreated":
            self.jobs[a["jobId"]] = a["spec"]
        elif name == "RoundOpened":
            record = RoundRecord(
                a["roundId"], a["jobId"], a["number"], a["generation"], a["slotCount"], bytes(a["taskSeed"]),
                int(a["commitDeadline"]),
            )  # fmt: skip
            self.rounds[record.round_id] = record
            self.current[record.job_id] = record.round_id
        elif name == "GenerationRecorded":
            self.generations[(a["jobId"], a["number"])] = (
                a["cid"],
                bytes(a["weightsHash"]),
                list(a["metrics"]),
            )
        elif name in ROUND_EVENTS:
            self._apply_round(name, a)
        elif name == "UpdateChallenged":
            self.disputes[a["disputeId"]] = {"kind": name, **a}
        elif name == "ProposalChallenged":  # with the proposal it challenges (which may be voided later)
            challenged = self.rounds.get(a["roundId"])
            proposal = challenged.proposals[-1] if challenged and challenged.proposals else None
            self.disputes[a["disputeId"]] = {"kind": name, **a, "proposal": proposal}
        elif name == "PanelDrawn":
            self.panels[a["disputeId"]] = [p.lower() for p in a["panel"]]
        elif name in ("VoteCommitted", "VoteRevealed"):
            self.votes[(a["disputeId"], a["voter"].lower())] = name
        elif name == "DisputeResolved" and a["disputeId"] in self.disputes:
            self.disputes[a["disputeId"]]["resolved"] = a["status"]
        elif name == "Staked" and int(a["role"]) == VERIFIER:
            for round_id in self.current.values():
                if not self.rounds[round_id].closed:
                    self.rounds[round_id].joined.add(a["account"].lower())

    def _apply_round(self, name: str, a: dict[str, Any]) -> None:
        record = self.rounds.get(a["roundId"])
        if record is None:
            return
        if name == "RoundPhaseAdvanced":
            record.phase = int(a["phase"])
        elif name == "UpdateCommitted":
            record.commits[a["slot"]] = a["trainer"]
        elif name == "UpdateRevealed":
            record.reveals[a["slot"]] = Revealed(
                a["roundId"],
                a["slot"],
                a["trainer"],
                a["updateCID"],
                bytes(a["updateHash"]),
                bytes(a["traceRoot"]),
            )
        elif name == "GenerationProposed":
            record.proposals.append(a)
        elif name in ("ProposalRejected", "ProposalVoided"):
            record.proposals = [p for p in record.proposals if p["nonce"] != a["nonce"]]
        elif name == "UpdateRejected":
            record.rejected.add(a["slot"])
        elif name == "VerificationAnchored":
            record.anchor = int(a["blockNumber"])
        elif name == "MissedRevealPenalized":
            record.penalized.add(a["slot"])
        elif name == "UpdatesAttested":
            verifier = a["verifier"].lower()
            record.attested[verifier] = record.attested.get(verifier, 0) | int(a["slots"])
        elif name == "ProposalAttested":
            record.proposal_attested[a["verifier"].lower()] = int(a["nonce"])
        else:
            record.closed = True
            record.finalized = name == "RoundFinalized"
            record.abandoned = name == "RoundAbandoned"
            if record.finalized:  # every accepted trainer was minted its reward in this transaction
                slots = int(a["acceptedSlots"])
                record.accepted = {s: t for s, t in record.commits.items() if slots >> s & 1}

    def takes_commit(self, record: RoundRecord, trainer: str) -> bool:
        """Whether ``record`` is in its commit phase with a free slot and no commit from ``trainer`` yet."""
        return (
            not record.closed
            and record.phase == COMMIT
            and len(record.commits) < record.slot_count
            and not record.slots_of(trainer)
        )

    def excluded_slots(self, record: RoundRecord) -> int:
        """The round's challenged or rejected slots, as a bitmap (``challengedSlots | rejectedSlots``):
        none of them can be attested any more."""
        challenged = {
            int(d["slot"])
            for d in self.disputes.values()
            if d["kind"] == "UpdateChallenged" and int(d["roundId"]) == record.round_id
        }
        return sum(1 << s for s in challenged | record.rejected)

    def update_disputed(self, record: RoundRecord) -> bool:
        """Whether a challenge of one of the round's updates awaits its resolution."""
        return self._disputed(record, "UpdateChallenged")

    def proposal_disputed(self, record: RoundRecord) -> bool:
        """Whether a challenge of the round's proposal awaits its resolution."""
        return self._disputed(record, "ProposalChallenged")

    def _disputed(self, record: RoundRecord, kind: str) -> bool:
        return any(
            d["kind"] == kind and int(d["roundId"]) == record.round_id and "resolved" not in d
            for d in self.disputes.values()
        )

    def open_rounds(self) -> dict[int, RoundRecord]:
        """The rounds not closed yet, by id."""
        return {round_id: r for round_id, r in self.rounds.items() if not r.closed}

    def previous(self, record: RoundRecord) -> RoundRecord | None:
        """The round of the same job just before ``record``, if the book has it."""
        return next(
            (r for r in self.rounds.values() if r.job_id == record.job_id and r.number == record.number - 1),
            None,
        )

    def generation_of(self, record: RoundRecord) -> tuple[str, bytes]:
        cid, weights_hash, _ = self.generations[(record.job_id, record.generation)]
        return cid, weights_hash


class Chain:
    """Contracts, account and log cursor of one agent, connected through ape."""

    def __init__(self, account: Any) -> None:
        from ape import chain

        from agents.chain.connection import deployed_contracts, project, rpc_web3
        from agents.chain.heads import HeadWatch, websocket_url
        from agents.deployments import load_deployment

        self.account = account
        self.me = str(account.address)
        self.c = deployed_contracts()
        self.chain = chain
        self.web3 = rpc_web3(chain.provider)
        self.chain_id = int(chain.chain_id)
        record = load_deployment(self.chain_id)
        self.cursor = LogCursor(
            self.web3,
            [(self.c[n].address, getattr(project(), n).contract_type) for n in EVENT_CONTRACTS],
            int(record["block"]),  # type: ignore[call-overload]
        )
        self._functions = {  # prepared once: a call is then one eth_abi encode (and decode) around an RPC
            (n, entry["name"]): (self.c[n].address, Function.of(entry))
            for n in self.c
            for entry in abi_dicts(getattr(project(), n).contract_type)
            if entry.get("type") == "function"
        }
        self.heads = HeadWatch(self.web3, websocket_url(str(chain.provider.uri)))
        self.book = Book()
        self._own_block = 0  # the block of the agent's last transaction: the next sync reads through it
        self._job_configs: dict[int, Any] = {}
        self._errors = {
            "0x" + keccak(text=f"{e.name}({','.join(i.canonical_type for i in e.inputs)})")[:4].hex(): e.name
            for n in self.c
            for e in getattr(project(), n).contract_type.errors
        }
        self.sender = Sender(self.web3, account, self.chain_id, self.heads, self._errors)

    def sync(self, on_event: Callable[[Event], None] | None = None) -> int:
        """Reads new events into the book, through the agent's last transaction at least; returns how
        many."""
        latest = self.heads.latest()
        through = None if latest is None else max(latest[0], self._own_block, self.heads.woken)
        events = self.cursor.poll(through)
        for event in events:
            self.book.apply(event)
            if on_event:
                on_event(event)
        return len(events)

    def wait_for_block(self, timeout: float) -> bool:
        """Blocks until a block the book has not read yet holds an event the agent wakes for (any event,
        but those :meth:`sleep_through` names) (True) or ``timeout`` passed (False)."""
        return self.heads.wait_woken(self.cursor.next_block - 1, timeout)

    def sleep_through(self, quiet: Iterable[str]) -> None:
        """Blocks whose protocol events are all ``quiet`` ones (by name) do not end :meth:`wait_for_block`;
        the book reads them with the next block that does."""
        self.heads.wake_on(self.cursor.log_filter(quiet))

    def now(self) -> int:
        """Chain time as the next block will see it (anvil stamps blocks with wall time)."""
        latest = self.heads.latest()
        stamp = int(self.web3.eth.get_block("latest")["timestamp"]) if latest is None else latest[1]
        return max(stamp, int(time.time()))

    def send(self, contract: str, method: str, *args: Any, value: int = 0, gas_floor: int = 0) -> list[Event]:
        """Sends a transaction from the agent's account and returns the protocol events it emitted; a
        revert raises :class:`Reverted` with its name. ``gas_floor``: see :meth:`Sender.send`."""
        address, function = self._functions[(contract, method)]
        data = function.calldata(self.web3.codec, args)
        receipt = self.sender.send(address, data, value, what=method, gas_floor=gas_floor)
        self._own_block = max(self._own_block, int(receipt["blockNumber"], 16))
        return self.cursor.decode_all(receipt["logs"])

    def view(self, contract: str, method: str, *args: Any) -> Any:
        """A view's result, structs as named tuples; a revert raises :class:`Reverted` with its name."""
        address, function = self._functions[(contract, method)]
        call = {"to": address, "data": function.calldata(self.web3.codec, args)}
        response = self.web3.provider.make_request("eth_call", [call, "latest"])  # type: ignore[arg-type]
        raise_for_error(response, self._errors, method)
        return function.result(self.web3.codec, bytes.fromhex(response["result"][2:]))

    def round_info(self, round_id: int) -> dict[str, Any]:
        return as_dict(self.view("TrainingRounds", "roundInfo", round_id))

    def sure_phase(self, record: RoundRecord) -> int | None:
        """The round's phase when the book and chain time settle it without a view, else None.

        Each timed window closes no earlier than its length after the round opened (``RoundOpened`` gives
        the commit deadline, so the opening): COMMIT while the book saw no full house and chain time is
        inside the commit window; REVEAL from the full house until the last reveal, while chain time is
        within ``revealPhase`` of the opening; CHALLENGE from the last reveal (nothing missed) while it is
        within ``challengePhase``. AGGREGATION once the book saw the updates settled
        (``RoundPhaseAdvanced(Aggregation)`` or ``(Proposal)``: nothing can be challenged any more),
        PROPOSAL while it holds a live proposal after that, until the round closes. (Rounds that move on by
        time, with no event, need a view.)"""
        if record.closed:
            return None
        if record.phase in (AGGREGATION, PROPOSAL):
            return PROPOSAL if record.proposals else AGGREGATION
        config = self.job_config(record.job_id)
        lasts = {COMMIT: config.commitPhase, REVEAL: config.revealPhase, CHALLENGE: config.challengePhase}
        if record.phase not in lasts:
            return None
        return record.phase if self.now() <= self.opened_at(record) + int(lasts[record.phase]) else None

    def proposal_surely_open(self, record: RoundRecord) -> bool:
        """Whether chain time is surely inside the live proposal's window: within ``proposalPhase`` of the
        round's opening (no proposal comes before that)."""
        return self.now() <= self.opened_at(record) + int(self.job_config(record.job_id).proposalPhase)

    def opened_at(self, record: RoundRecord) -> int:
        """Chain time the round opened (its ``openedAt``)."""
        return record.commit_deadline - int(self.job_config(record.job_id).commitPhase)

    def job_config(self, job_id: int) -> Any:
        """TrainingRounds' configuration of a job, fixed when the job was registered (read once)."""
        if job_id not in self._job_configs:
            self._job_configs[job_id] = self.view("TrainingRounds", "jobConfig", job_id)
        return self._job_configs[job_id]

    def job_spec(self, job_id: int) -> dict[str, Any]:
        spec = as_dict(self.view("JobRegistry", "job", job_id))
        return spec

    def ensure_stake(self, role: int, required: int) -> int:
        """Tops up the account's active stake in ``role`` to ``required``; returns what was added."""
        active = int(self.view("StakeManager", "activeStakeOf", self.me, role))
        if active >= required:
            return 0
        missing = required - active
        if int(self.web3.eth.get_balance(self.account.address)) <= missing:
            raise InsufficientFunds(f"{self.me} cannot stake {missing} wei: not enough ETH")
        self.send("StakeManager", "stake", role, value=missing)
        return missing


class InsufficientFunds(RuntimeError):
    """The account cannot pay for its stake."""
