"""The verifier agent: checks every revealed update, spot-checks trace segments drawn from the round's
verification seed, attests or challenges, recomputes aggregation proposals, sits on dispute panels,
keeps rounds moving (panel draws, resolutions, missed reveals, empty rounds) and claims its rewards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from eth_abi import encode
from eth_utils import keccak
from web3.types import RPCEndpoint

from agents.learning.errors import ContentUnavailable
from agents.node.accounts import derived_secret
from agents.node.agent import REFETCH_SECONDS, Agent
from agents.node.events import Event
from agents.node.journal import Journal
from agents.node.manifest import vote_commitment
from agents.node.protocol import (
    AGGREGATION,
    CHALLENGE,
    PENDING,
    PROPOSAL,
    REVEAL,
    VERIFIER,
    RoundRecord,
    as_dict,
)
from agents.node.sender import Reverted
from agents.node.work import (
    Baseline,
    Inspection,
    Task,
    drawn_segments,
    draws_every_segment,
    inspect,
    segments_ok,
)

OTHERS_GRACE_S = 3.0
"""How long a verifier leaves the other verifiers' shares of a round to them before checking those too."""
FINALITY_GAS_BASE, FINALITY_GAS_PER_UPDATE = 450_000, 60_000
UNAVAILABLE_PATIENCE = 0.5
"""The share of the challenge window (on a panel: of the vote's commit window) a verifier keeps asking for
an update's bundle that nobody serves; still unserved then, the update is faulty (data withheld)."""
UNAVAILABLE = "unavailable"
"""How the reason of an inspection of a bundle nobody served begins."""
ISOLATED = "nobody served its bundle, nor any other update of the round to this node (it may reach nobody)"
CLAIM_BATCH = 10
"""Rewards are claimed ten rounds at a time (one mint), and all that is owed when the agent stops."""

IGNORED = {
    # Lost races: another agent acted first, or the window closed meanwhile; the next tick re-reads views.
    "TrainingRoundsWrongPhase", "TrainingRoundsAlreadyAttested", "TrainingRoundsInvalidSlots",
    "TrainingRoundsTooManyAttestations", "TrainingRoundsSeedAnchored", "TrainingRoundsNotMissed",
    "TrainingRoundsNoProposal", "TrainingRoundsAlreadyAttestedProposal", "TrainingRoundsWrongUpdates",
    "TrainingRoundsProposalMismatch",
    "DisputesPanelDrawn", "DisputesTooEarly", "DisputesNotPending", "DisputesNotResolvable",
    "DisputesCommitClosed", "DisputesRevealClosed", "DisputesAlreadyVoted", "DisputesNothingToReveal",
}  # fmt: skip


def finality_gas(accepted: int) -> int:
    """A gas limit that covers finalizing a round of ``accepted`` updates inside a proposal attestation
    (measured: ~320k + ~45k per update on a job's first round, less later; see bench/gas_protocol.py)."""
    return FINALITY_GAS_BASE + FINALITY_GAS_PER_UPDATE * accepted


def in_turn(index: int, team: Iterable[str], me: str, quorum: int = 1) -> bool:
    """Whether verifier ``me`` is among the ``quorum`` members of ``team`` and itself (n, sorted) from rank
    ``index`` mod n on: the checkers of the index-th thing to check, in turn."""
    members = sorted({a.lower() for a in team} | {me.lower()})
    return (members.index(me.lower()) - index) % len(members) < quorum


def share(arrivals: Sequence[int], team: Iterable[str], me: str, quorum: int = 1) -> list[int]:
    """The slots verifier ``me`` checks, from the slots in the order their updates were published: the
    i-th is :func:`in_turn` i, so each gets its quorum of checkers, nobody checks more than it must, a
    slot's checkers do not change as later updates come, and the last updates of a round (the ones the
    round waits for) go to different checkers."""
    return [slot for i, slot in enumerate(arrivals) if in_turn(i, team, me, quorum)]


def team(previous: RoundRecord | None) -> set[str]:
    """The verifiers a round's checks are split among: those that attested the job's previous round or
    staked while it was open. (With attesters alone, one that came late to a quorum-1 round, having
    checked everything, was left out of the next round's team by the others, who checked everything
    again.)"""
    return previous.attesters | previous.joined if previous else set()


class Verifier(Agent):
    role = "verifier"
    quiet_events = frozenset({"SlotClaimed", "UpdateCommitted", "VerifierRewardClaimed"})
    """Commits leave a verifier nothing to check (the full house comes with ``RoundPhaseAdvanced``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.journal = Journal(self.chain.me, "verifier")
        self.inspections: dict[tuple[int, int], Inspection] = {}
        self.faults: dict[tuple[int, int], int | None] = {}
        self.replays: dict[tuple[int, int, int], bool] = {}
        self.proposal_checks: dict[tuple[int, int], int | None] = {}
        self.seeds: dict[int, bytes] = {}
        self._baselines: dict[tuple[int, int], Baseline] = {}  # (job, generation) -> what updates start from
        self.verifying_since: dict[int, float] = {}  # round id -> when its seed was first there
        self.proposal_since: dict[int, float] = {}  # round id -> when its proposal was first seen
        self.attested_rounds: set[int] = set()
        self.claimed_rounds: set[int] = set()
        self.owed: set[int] = set()  # closed rounds with a reward left to claim

    def start(self) -> None:
        jobs = self.followed_jobs()
        required = max((int(self.chain.job_spec(j)["verifierStake"]) for j in jobs), default=0)
        added = self.chain.ensure_stake(VERIFIER, required)
        self.say(f"staked {added / 1e18:g} ETH" if added else "stake in place")

    def on_event(self, event: Event) -> None:
        a, me = event.args, self.chain.me.lower()
        if event.name == "UpdatesAttested" and a["verifier"].lower() == me:
            self.attested_rounds.add(a["roundId"])
        elif event.name == "VerifierRewardClaimed" and a["verifier"].lower() == me:
            self.claimed_rounds.add(a["roundId"])

    def tick(self) -> None:
        for round_id in self.live_rounds():
            self._round(self.chain.book.rounds[round_id])
        for dispute_id in sorted(self.chain.book.disputes):
            if "resolved" not in self.chain.book.disputes[dispute_id]:
                self._dispute(dispute_id)
        self._claim()

    def forget_closed(self) -> None:
        """Also drops the fetched traces, replay verdicts and baselines of closed rounds (a long trace is
        14 MB; a late dispute fetches and replays again)."""
        super().forget_closed()
        live = self.chain.book.open_rounds()
        self.inspections = {k: v for k, v in self.inspections.items() if k[0] in live}
        generations = {(r.job_id, r.generation) for r in live.values()}
        self._baselines = {k: v for k, v in self._baselines.items() if k in generations}
        self.verifying_since = {k: v for k, v in self.verifying_since.items() if k in live}
        self.proposal_since = {k: v for k, v in self.proposal_since.items() if k in live}
        self.replays = {k: v for k, v in self.replays.items() if k[0] in live}

    def settled(self) -> bool:
        return not self._claimable()

    def _try(self, contract: str, method: str, *args: Any, value: int = 0, gas_floor: int = 0) -> bool:
        try:
            self.chain.send(contract, method, *args, value=value, gas_floor=gas_floor)
            return True
        except Reverted as error:
            if error.name in IGNORED:
                return False
            raise

    # -- updates

    def _inspection(self, record: RoundRecord, slot: int) -> Inspection:
        """The update's inspection (see :func:`inspect`), fetched the first time; store failures
        propagate."""
        key = (record.round_id, slot)
        if key not in self.inspections:
            ctx = self.context(record.job_id)
            state = self.weights(record.job_id, record.generation)
            baseline = self._baselines.get((record.job_id, record.generation))
            if baseline is None:
                baseline = self._baselines[(record.job_id, record.generation)] = Baseline.of(ctx, state)
            inspection = inspect(self.store, ctx, state, record.reveals[slot], baseline)
            if inspection.update is not None:  # the generation this verifier recomputes needs it again
                self._updates[key] = inspection.update
            self.inspections[key] = inspection
        return self.inspections[key]

    def _fetched(self, record: RoundRecord, slot: int, patience_end: Callable[[], int]) -> bool:
        """Whether the update in ``slot`` is inspected, fetching it if it is not. A bundle nobody serves is
        asked for again every REFETCH_SECONDS until chain time ``patience_end()``; after that, it is
        inspected as faulty from segment 0 (unavailable), which a panel upholds unless it is served to them.
        (A daemon that is down propagates its error: the tick is retried.)"""
        key = (record.round_id, slot)
        if key in self.inspections:
            return True
        if not self.fetch_due(key):
            return False
        try:
            self._inspection(record, slot)
        except ContentUnavailable as error:
            if self.chain.now() < patience_end():
                self.fetch_failed(record, key, error)
                return False
            self.inspections[key] = Inspection(0, f"{UNAVAILABLE}: nobody served its bundle ({error})")
        return True

    def _challenge_patience_end(self, record: RoundRecord) -> int:
        """When an update's bundle has been unserved long enough to be challenged: UNAVAILABLE_PATIENCE of
        the challenge window after reveals closed."""
        info = self.chain.round_info(record.round_id)
        return int(info["revealDeadline"] + int(self._config(record).challengePhase) * UNAVAILABLE_PATIENCE)

    def _passed_inspection(self, record: RoundRecord, slot: int) -> bool:
        """Whether the update in ``slot`` was fetched and inspected, and passed."""
        inspection = self.inspections.get((record.round_id, slot))
        return inspection is not None and inspection.fault is None

    def _replayed(self, record: RoundRecord, slot: int, segments: Sequence[int]) -> dict[int, bool]:
        """Whether replaying each of ``segments`` of the update in ``slot`` reproduces its next
        checkpoint."""
        self._replay(record, {slot: segments})
        return {s: self.replays[(record.round_id, slot, s)] for s in segments}

    def _replay(self, record: RoundRecord, wanted: Mapping[int, Sequence[int]]) -> None:
        """Replays the segments of ``wanted`` (by slot) not replayed before, all together, and notes each
        verdict."""
        todo = {
            slot: missing
            for slot, segments in wanted.items()
            if (missing := [s for s in segments if (record.round_id, slot, s) not in self.replays])
        }
        if not todo:
            return
        ctx = self.context(record.job_id)
        state = self.weights(record.job_id, record.generation)
        checks = {
            slot: (self._task(record, slot), self._inspection(record, slot), s) for slot, s in todo.items()
        }
        with self.cpu.hold():
            verdicts = segments_ok(ctx, state, checks)
        for slot, by_segment in verdicts.items():
            for segment, ok in by_segment.items():
                self.replays[(record.round_id, slot, segment)] = ok

    def _task(self, record: RoundRecord, slot: int) -> Task:
        ctx = self.context(record.job_id)
        return Task.of(record.task_seed, record.reveals[slot].trainer, ctx.shard_count)

    def _seed(self, record: RoundRecord) -> bytes | None:
        """The verification seed, computed from the anchor block's hash as soon as that block exists."""
        if record.anchor is None:
            return None
        if record.round_id not in self.seeds:
            block = self.chain.web3.provider.make_request(
                RPCEndpoint("eth_getBlockByNumber"), [hex(record.anchor), False]
            )
            if "error" in block:
                raise ConnectionError(f"anchor block {record.anchor}: {block['error']}")
            if block["result"] is None:
                return None
            anchor = bytes.fromhex(block["result"]["hash"][2:])
            self.seeds[record.round_id] = keccak(encode(["bytes32", "uint256"], [anchor, record.round_id]))
        return self.seeds[record.round_id]

    def _round(self, record: RoundRecord) -> None:
        sure = self.chain.sure_phase(record)
        if sure == AGGREGATION:
            self._aggregation(record, record.accepted_slots)
            return
        if sure == PROPOSAL:
            self._check_proposal(record)
            return
        # Updates are checked as they come (open ones during the commit phase), but for the drawn segments.
        self._replay_every_segment(record, self._inspect_share(record))
        if sure == CHALLENGE:  # every commit revealed: nothing missed to report
            self._verify(record, self.chain.book.excluded_slots(record))
            self._check_proposal(record)
        if sure is not None:
            return  # commits or reveals surely still open, or checks done from the book
        info, now = self.chain.round_info(record.round_id), self.chain.now()
        phase = info["phase"]
        if phase == CHALLENGE or (phase == REVEAL and now > info["revealDeadline"]):
            self._penalize_missed(record, now, info)
            self._verify(record, int(info["challengedSlots"]) | int(info["rejectedSlots"]))
            if phase == CHALLENGE:
                self._check_proposal(record)
        elif phase == AGGREGATION:
            self._aggregation(record, int(info["revealedSlots"]) & ~int(info["rejectedSlots"]))
        elif phase == PROPOSAL and record.proposals:
            self._check_proposal(record)

    def _inspect_share(self, record: RoundRecord) -> list[int]:
        """Fetches, decodes and measures the revealed updates of this verifier's share (all that needs no
        seed), the ones nobody served so far last; returns the share."""
        share = self._share(record)
        for slot in sorted(share, key=lambda s: (record.round_id, s) in self.unserved):
            if slot in record.reveals:
                self._fetched(record, slot, lambda: self._challenge_patience_end(record))
        return share

    def _aggregation(self, record: RoundRecord, accepted: int) -> None:
        """Computes the generation a proposal must match, ready for it (not while an accepted update cannot
        be read: the tick goes on to the disputes); or closes a round with nothing accepted."""
        if accepted:
            if self._checks_proposal(record):
                self.prepare_generation(record, accepted)
        elif self._try("TrainingRounds", "closeEmptyRound", record.round_id):
            self.say(f"closed empty round {record.number}")

    def _replay_every_segment(self, record: RoundRecord, share: Sequence[int]) -> None:
        """For traces so short that every segment is drawn whatever the seed: replays the share's published
        updates before the seed exists, those not replayed yet all together (eight segments at once cost
        little more than four)."""
        ctx = self.context(record.job_id)
        if draws_every_segment(ctx):
            every = list(range(ctx.num_segments))
            ok = [s for s in share if self._passed_inspection(record, s)]
            self._replay(record, dict.fromkeys(ok, every))

    def _penalize_missed(self, record: RoundRecord, now: int, info: dict[str, Any]) -> None:
        if now <= info["revealDeadline"]:
            return
        for slot in sorted(set(record.commits) - set(record.reveals) - record.penalized):
            if self._try("TrainingRounds", "penalizeMissedReveal", record.round_id, slot):
                self.say(f"reported slot {slot}'s missed reveal in round {record.number}")
            record.penalized.add(slot)

    def _share(self, record: RoundRecord) -> list[int]:
        """The published slots this verifier checks first (see :func:`share` and :func:`team`); the book
        holds them in the order of their events."""
        previous = self.chain.book.previous(record)
        quorum = int(self._config(record).attestationQuorum)
        return share(list(record.reveals), team(previous), self.chain.me, quorum)

    def _order(self, record: RoundRecord) -> list[int]:
        """Revealed slots in the order this verifier checks them: its share, then, once the others have had
        :meth:`_grace` to attest theirs, the others' (a verifier may be slow, offline or gone)."""
        first = [s for s in self._share(record) if s in record.reveals]
        since = self.verifying_since.setdefault(record.round_id, time.monotonic())
        if time.monotonic() - since < self._grace(record):
            return first
        return first + [s for s in sorted(record.reveals) if s not in first]

    def _grace(self, record: RoundRecord) -> float:
        """How long the team's other members have for their shares: OTHERS_GRACE_S, at most a quarter of
        the challenge window (unchecked slots are accepted when it closes)."""
        return min(OTHERS_GRACE_S, int(self._config(record).challengePhase) / 4)

    def _config(self, record: RoundRecord) -> Any:
        return self.chain.job_config(record.job_id)

    def _verify(self, record: RoundRecord, excluded: int) -> None:
        """Checks the revealed slots in :meth:`_order` but the ``excluded`` ones (challenged or rejected),
        skipping those other verifiers brought to quorum meanwhile; challenges a faulty one at once, and
        attests what passed before each long replay."""
        seed = self._seed(record)
        if seed is None:
            if self._try("TrainingRounds", "openVerification", record.round_id):
                self.say(f"anchored round {record.number}'s verification seed")
            return
        ctx = self.context(record.job_id)
        self._replay_share(record, seed, excluded)
        for slot in self._order(record):
            key = (record.round_id, slot)
            if excluded >> slot & 1:
                continue
            if key not in self.faults:
                if self._attested_enough(record, slot):
                    continue
                if not self._fetched(record, slot, lambda: self._challenge_patience_end(record)):
                    continue  # nobody served it yet: the others are checked meanwhile
                fault = self.inspections[key].fault
                drawn = drawn_segments(ctx, seed, slot) if fault is None else []
                if any((record.round_id, slot, s) not in self.replays for s in drawn):
                    self._attest(record, excluded)  # what passed so far, before this slot's replays
                replayed = self._replayed(record, slot, drawn)
                self.faults[key] = next((s for s in drawn if not replayed[s]), fault)
                self.crash_point("verification")
            if self.faults[key] is not None:  # until the challenge is on chain (a failed send retries)
                self._challenge(record, slot)
        self._attest(record, excluded)
        self._prepare_generation(record, excluded)

    def _checks_proposal(self, record: RoundRecord) -> bool:
        """Whether this verifier recomputes the round's proposal: the ``quorum`` members of the team next
        :func:`in_turn` after the checkers of the round's updates (at quorum 1 with two verifiers, the one
        that did not check the last update, so it is ready first); the others once the proposal has waited
        :meth:`_grace` for them (a verifier may be slow, offline or gone). Asked once the updates are in."""
        previous = self.chain.book.previous(record)
        quorum = int(self._config(record).attestationQuorum)
        if in_turn(len(record.reveals), team(previous), self.chain.me, quorum):
            return True
        if not record.proposals:
            return False
        since = self.proposal_since.setdefault(record.round_id, time.monotonic())
        return time.monotonic() - since >= self._grace(record)

    def _prepare_generation(self, record: RoundRecord, excluded: int) -> None:
        """Once this verifier's share is checked, if it checks the proposal: the generation of the updates
        still standing, their updates read while their checkers finish (see :meth:`prepare_generation`), so
        the proposal is checked as soon as it comes."""
        if not self._checks_proposal(record):
            return
        mine = [s for s in self._share(record) if s in record.reveals]
        if any(
            not excluded >> s & 1
            and (record.round_id, s) not in self.faults
            and not self._attested_enough(record, s)
            for s in mine
        ):
            return  # still checking its own share
        standing = [
            s for s in sorted(record.reveals)
            if not excluded >> s & 1 and self.faults.get((record.round_id, s)) is None  # unchecked, or passed
        ]  # fmt: skip
        if any((record.round_id, s) in self.unserved for s in standing):
            return  # nothing to build before that update is served or rejected
        self.prepare_generation(record, sum(1 << s for s in standing))

    def _replay_share(self, record: RoundRecord, seed: bytes, excluded: int) -> None:
        """The drawn segments of this verifier's share, all slots together (one batch, not one per slot)."""
        ctx = self.context(record.job_id)
        slots = [
            s for s in self._share(record)
            if s in record.reveals and not excluded >> s & 1 and (record.round_id, s) not in self.faults
            and not self._attested_enough(record, s) and self._passed_inspection(record, s)
        ]  # fmt: skip
        self._replay(record, {s: drawn_segments(ctx, seed, s) for s in slots})

    def _attested_enough(self, record: RoundRecord, slot: int) -> bool:
        """Whether ``slot`` has its quorum of attestations without this verifier's (nothing to add).

        Attestations are counted in the book, synced at the start of the tick: one that landed since
        makes the attestation revert with a reason :data:`IGNORED` holds."""
        quorum = int(self._config(record).attestationQuorum)
        return not record.attested_by(self.chain.me) >> slot & 1 and record.attestations_of(slot) >= quorum

    def _challenge(self, record: RoundRecord, slot: int) -> None:
        key = (record.round_id, slot)
        fault, inspection = self.faults[key], self.inspections[key]
        if self._isolated(record, slot):
            self.say(f"[yellow]not challenging[/] round {record.number} slot {slot}: {ISOLATED}")
            return
        bond = int(self.chain.job_spec(record.job_id)["challengeBond"])
        if self._try("Disputes", "challengeUpdate", record.round_id, slot, fault, value=bond):
            reason = inspection.reason if inspection.fault is not None else "replay differs"
            self.say(f"challenged round {record.number} slot {slot} at segment {fault} ({reason})")

    def _isolated(self, record: RoundRecord, slot: int) -> bool:
        """Whether the update in ``slot`` was inspected as unserved while this verifier's node got no other
        update of the round either: it cannot tell a withheld bundle from its own node reaching nobody, so
        it neither challenges nor votes on it (a bond, or a trainer's stake, is at stake). The inspection
        is dropped then, and the bundle asked for again in REFETCH_SECONDS."""
        key = (record.round_id, slot)
        if not self.inspections[key].reason.startswith(UNAVAILABLE) or self._reaches_network(record, slot):
            return False
        del self.inspections[key]
        self.faults.pop(key, None)
        self.unserved[key] = time.monotonic() + REFETCH_SECONDS
        return True

    def _reaches_network(self, record: RoundRecord, slot: int) -> bool:
        """Whether this verifier's IPFS node got another update of the round (read before, or now): the
        evidence that a bundle it cannot get is withheld, not out of its own node's reach."""
        others = [s for s in sorted(record.reveals) if s != slot]
        for other in others:
            key = (record.round_id, other)
            got = self.inspections.get(key)
            if key in self._updates or (got is not None and not got.reason.startswith(UNAVAILABLE)):
                return True
        for other in others:
            key = (record.round_id, other)
            if self.fetch_due(key):
                try:
                    self.store.read(record.reveals[other].cid, 1)
                    return True
                except ContentUnavailable as error:
                    self.fetch_failed(record, key, error)
        return False

    def _attest(self, record: RoundRecord, excluded: int) -> None:
        round_id = record.round_id
        quorum = int(self._config(record).attestationQuorum)
        done = record.attested_by(self.chain.me)
        good = [
            s for s in sorted(record.reveals)
            if (round_id, s) in self.faults and self.faults[(round_id, s)] is None
            and not (done | excluded) >> s & 1 and record.attestations_of(s) < quorum
        ]  # fmt: skip
        if not good:
            return
        bitmap = sum(1 << s for s in good)
        qualities = [self.inspections[(round_id, s)].quality for s in good]
        if self._send_attestation(record, bitmap, qualities):
            record.attested[self.chain.me.lower()] = done | bitmap  # before the next sync brings the event
            self.attested_rounds.add(round_id)
            self.say(f"attested round {record.number} slots {good} qualities {qualities}")

    def _send_attestation(self, record: RoundRecord, bitmap: int, qualities: list[int]) -> bool:
        """``attest``; with an early proposal live, ``attestAndFinalize`` with its values: if this
        attestation settles the round's updates and the proposal has its quorum by then, it finalizes.
        The book is read on first: a proposal may have come during this tick's replays."""
        self.chain.sync(self.on_event)
        if not record.proposals:
            return self._try("TrainingRounds", "attest", record.round_id, bitmap, qualities)
        proposal = record.proposals[-1]
        values = (proposal["cid"], bytes(proposal["weightsHash"]), list(proposal["metrics"]))
        gas = finality_gas(int(proposal["updates"]).bit_count())
        args = (record.round_id, bitmap, qualities, *values)
        return self._try("TrainingRounds", "attestAndFinalize", *args, gas_floor=gas)

    # -- proposals

    def _proposal_fault(self, record: RoundRecord, proposal: dict[str, Any]) -> int | None:
        """None if the proposal recomputes exactly; else 0 (weights) or 1 + the first wrong metric."""
        key = (record.round_id, int(proposal["nonce"]))
        if key not in self.proposal_checks:
            mine = self.generation_for(record.round_id, int(proposal["updates"]))
            if mine.weights_hash != bytes(proposal["weightsHash"]):
                self.proposal_checks[key] = 0
            else:
                wrong = [
                    i
                    for i, (a, b) in enumerate(zip(mine.metrics, proposal["metrics"], strict=False))
                    if a != b
                ]
                bad_count = len(mine.metrics) != len(proposal["metrics"])
                self.proposal_checks[key] = 1 + wrong[0] if wrong else (1 if bad_count else None)
        return self.proposal_checks[key]

    def _check_proposal(self, record: RoundRecord) -> None:
        """Attests the live proposal if it recomputes exactly, else challenges it; unless there is none, or
        the book shows it disputed, at quorum, or this verifier's one proposal attestation of the round
        spent. (A proposal replaced, or whose window closed, since the book read reverts at the estimate:
        IGNORED.) An early proposal, made while the updates are checked, is checked at once: its quorum is
        then ready when the last update is attested, which finalizes."""
        me, quorum = self.chain.me.lower(), int(self._config(record).attestationQuorum)
        if (
            not record.proposals
            or not self._checks_proposal(record)
            or self.chain.book.proposal_disputed(record)
            or me in record.proposal_attested
            or record.proposal_attestations() >= quorum
        ):
            return
        proposal = record.proposals[-1]
        if not self.read_updates(record, int(proposal["updates"])):
            return  # an early proposal of an unreadable update: its checker has it rejected, which voids it
        fault = self._proposal_fault(record, proposal)
        if fault is None:
            values = (proposal["cid"], bytes(proposal["weightsHash"]), list(proposal["metrics"]))
            # Another verifier's attestation may land first and make this one the quorum's last, which
            # finalizes: the estimate (made before) would not cover that.
            gas = finality_gas(int(proposal["updates"]).bit_count())
            if self._try("TrainingRounds", "attestProposal", record.round_id, *values, gas_floor=gas):
                record.proposal_attested[me] = int(proposal["nonce"])  # before the next sync brings it
                self.say(f"attested the proposal of round {record.number}")
        else:
            bond = int(self.chain.job_spec(record.job_id)["challengeBond"])
            if self._try("Disputes", "challengeProposal", record.round_id, fault, value=bond):
                self.say(f"challenged the proposal of round {record.number} at segment {fault}")

    # -- disputes

    def _judge(self, dispute_id: int, commit_deadline: int) -> bool | None:
        """Whether the challenge is right (vote ``upheld``): the named segment fails on replay, or the
        update's bundle stays unserved for UNAVAILABLE_PATIENCE of the vote's commit window while this
        node got another update of the round (None until then: a member that never gets one stays silent
        and pays the silence penalty, rather than slash a trainer for its own node's isolation)."""
        key = f"vote:{dispute_id}"
        if (vote := self.journal.get(key)) is not None:
            return bool(vote)
        d = self.chain.book.disputes[dispute_id]
        record = self.chain.book.rounds[int(d["roundId"])]
        if d["kind"] == "UpdateChallenged":
            slot, segment = int(d["slot"]), int(d["segment"])
            window = int(self.chain.job_spec(record.job_id)["voteCommitPhase"])
            patience_end = commit_deadline - round(window * (1 - UNAVAILABLE_PATIENCE))
            if not self._fetched(record, slot, lambda: patience_end):
                return None
            if self._isolated(record, slot):  # silent: the vote is this member's to lose, not the others'
                self.say(f"[yellow]not voting[/] on dispute {dispute_id} yet: {ISOLATED}")
                return None
            upheld = not self._replayed(record, slot, [segment])[segment]
        else:
            proposal = d["proposal"]  # the one live when it was challenged
            upheld = proposal is not None and self._proposal_fault(record, proposal) == int(d["segment"])
        self.journal.put(key, upheld)
        return upheld

    def _dispute(self, dispute_id: int) -> None:
        view = as_dict(self.chain.view("Disputes", "dispute", dispute_id))
        if int(view["status"]) != PENDING:
            return
        now, me = self.chain.now(), self.chain.me.lower()
        panel = [p.lower() for p in view["panel"]]
        if not view["drawn"]:
            if now > view["commitDeadline"]:
                self._try("Disputes", "resolve", dispute_id)
            elif self._try("Disputes", "drawPanel", dispute_id):
                self.say(f"drew the panel of dispute {dispute_id}")
            return
        salt = derived_secret(self.chain.account, f"aoai-vote:{self.chain.chain_id}:{dispute_id}")
        commit_open = view["committed"] < len(panel) and now <= view["commitDeadline"]
        vote_state = self.chain.book.votes.get((dispute_id, me))
        if me in panel and vote_state is None and commit_open:
            upheld = self._judge(dispute_id, int(view["commitDeadline"]))
            if upheld is not None and self._try(
                "Disputes", "commitVote", dispute_id, vote_commitment(dispute_id, upheld, salt, self.chain.me)
            ):
                self.say(f"committed a vote on dispute {dispute_id}")
        elif (
            me in panel
            and vote_state == "VoteCommitted"
            and not commit_open
            and now <= view["revealDeadline"]
        ):
            upheld = self._judge(dispute_id, int(view["commitDeadline"]))
            if upheld is not None and self._try("Disputes", "revealVote", dispute_id, upheld, salt):
                self.say(f"voted {'upheld' if upheld else 'rejected'} on dispute {dispute_id}")
        elif (
            not commit_open
            and (view["revealed"] == view["committed"] or now > view["revealDeadline"])
            and self._try("Disputes", "resolve", dispute_id)
        ):
            self.say(f"resolved dispute {dispute_id}")

    # -- rewards

    def _claimable(self) -> list[int]:
        """Closed rounds that owe this verifier a reward (each asked once: what a closed round owes only
        changes when it is claimed)."""
        book = self.chain.book
        for r in sorted(self.attested_rounds - self.claimed_rounds - self.owed):
            if r in book.rounds and book.rounds[r].closed and self.follows(book.rounds[r].job_id):
                if int(self.chain.view("TrainingRounds", "pendingVerifierReward", r, self.chain.me)) > 0:
                    self.owed.add(r)
                else:
                    self.claimed_rounds.add(r)  # nothing accepted was attested: nothing to claim
        return sorted(self.owed)

    def _claim(self) -> None:
        """Claims once CLAIM_BATCH rounds owe a reward, or whatever is owed when the agent is done."""
        rounds = self._claimable()
        if rounds and (len(rounds) >= CLAIM_BATCH or self.finished()):
            self.chain.send("TrainingRounds", "claimVerifierRewards", rounds)
            self.claimed_rounds.update(rounds)
            self.owed.clear()
            self.say(f"claimed verifier rewards of rounds {rounds}")
