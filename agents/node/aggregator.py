"""The aggregator agent: as soon as a round's updates are all published (Challenge) and none is disputed,
aggregate them with the job's rule, evaluate the new generation on held-out data, upload it and propose
it, while the verifiers still check the updates (an early proposal: void if one of them is rejected);
else when the round reaches Aggregation. Finalize once the proposal has its quorum or its window has
closed. A rejected or voided proposal (anyone's) leaves the round open to a new one. A round whose
accepted updates cannot all be read (no verifier had the faulty one rejected) is abandoned once its
aggregation deadline has passed, so that the job goes on.
"""

from __future__ import annotations

from typing import Any

from agents.node.agent import Agent
from agents.node.protocol import (
    AGGREGATION,
    AGGREGATOR,
    CHALLENGE,
    COMMIT,
    PROPOSAL,
    REVEAL,
    RoundRecord,
    as_dict,
)
from agents.node.sender import Reverted
from agents.node.work import Generation

IGNORED = {
    "TrainingRoundsWrongPhase", "TrainingRoundsWrongUpdates", "TrainingRoundsNoProposal",
    "TrainingRoundsNotFinalizable", "TrainingRoundsProposalPending", "TrainingRoundsNotStalled",
}  # fmt: skip


class Aggregator(Agent):
    role = "aggregator"
    quiet_events = frozenset({"SlotClaimed", "UpdateCommitted", "UpdatesAttested", "VerifierRewardClaimed"})
    """The aggregator reads updates as they are revealed and proposes on the move to Challenge or
    Aggregation (``RoundPhaseAdvanced``); commits and attestations leave it nothing to do."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._uploaded: dict[bytes, str] = {}  # CIDs of computed generations, by keccak256

    def start(self) -> None:
        jobs = self.followed_jobs()
        required = max((int(self.chain.job_spec(j)["aggregatorStake"]) for j in jobs), default=0)
        added = self.chain.ensure_stake(AGGREGATOR, required)
        self.say(f"staked {added / 1e18:g} ETH" if added else "stake in place")

    def tick(self) -> None:
        for round_id in self.live_rounds():
            self._round(self.chain.book.rounds[round_id])

    def _try(self, method: str, *args: Any) -> bool:
        try:
            self.chain.send("TrainingRounds", method, *args)
            return True
        except Reverted as error:
            if error.name in IGNORED:
                return False
            raise

    def _round(self, record: RoundRecord) -> None:
        sure = self.chain.sure_phase(record)
        if sure in (
            COMMIT,
            REVEAL,
        ):  # read each update as it comes, not all at once when the verifiers need it
            self.read_updates(record, sum(1 << s for s in record.reveals))
            return
        if sure in (CHALLENGE, AGGREGATION):
            built = self._prepare_or_propose(record, record.accepted_slots, due=self._may_propose(record))
            if not built and sure == AGGREGATION:
                self._abandon_if_stalled(record, self.chain.round_info(record.round_id))
            return
        quorum = int(self.chain.job_config(record.job_id).attestationQuorum)
        if (
            sure == PROPOSAL
            and self.chain.proposal_surely_open(record)
            and record.proposal_attestations() < quorum
        ):
            return  # the verifiers are checking it, and its window cannot have closed yet
        info = self.chain.round_info(record.round_id)
        phase, now = info["phase"], self.chain.now()
        if phase in (CHALLENGE, AGGREGATION):
            due = self._may_propose(record) and int(info["openDisputes"]) == 0
            accepted = int(info["revealedSlots"]) & ~int(info["rejectedSlots"])
            built = self._prepare_or_propose(record, accepted, due)
            if not built and phase == AGGREGATION:
                self._abandon_if_stalled(record, info)
        elif phase == PROPOSAL and record.proposals:
            view = as_dict(self.chain.view("TrainingRounds", "proposalOf", record.round_id))
            if view["finalizable"] or (not view["disputed"] and now > view["deadline"]):
                self._finalize(record)

    def _may_propose(self, record: RoundRecord) -> bool:
        """Whether the book shows the round open to a proposal from the updates it holds: none live, and
        no challenge of an update or of a voided proposal pending (its outcome changes what to propose,
        or the contract waits for it)."""
        book = self.chain.book
        disputed = book.update_disputed(record) or book.proposal_disputed(record)
        return not record.proposals and not disputed

    def _prepare_or_propose(self, record: RoundRecord, accepted: int, due: bool) -> bool:
        """Builds the generation of the ``accepted`` updates and proposes it if ``due``, else uploads it
        ahead (the proposal then waits only for its transaction); nothing while one of them cannot be read
        (the verifiers will have it rejected, which would void the proposal). False when some accepted
        update could not be read or decoded."""
        if not accepted or record.unseen(accepted):
            return True
        generation = self.prepare_generation(record, accepted)
        if generation is None:
            return False
        if due:
            self._propose(record, accepted)
        else:
            self._upload(generation)
        return True

    def _abandon_if_stalled(self, record: RoundRecord, info: dict[str, Any]) -> None:
        """Abandons a round in Aggregation (``info``: its ``roundInfo``) past its aggregation deadline, one
        of whose accepted updates cannot be read: nobody can propose it, so the job goes on from the same
        generation, with no reward for the round."""
        if info["phase"] != AGGREGATION or self.chain.now() <= int(info["aggregationDeadline"]):
            return
        if self._try("abandonRound", record.round_id):
            self.say(
                f"[yellow]abandoned round {record.number}[/]: an accepted update cannot be read; the job "
                f"goes on from generation {record.generation}"
            )

    def _upload(self, generation: Generation) -> str:
        """The generation's CID, uploading it the first time."""
        if generation.weights_hash not in self._uploaded:
            stored = self.store.put(generation.data)
            assert stored.keccak256 == generation.weights_hash
            self._uploaded[generation.weights_hash] = stored.cid
        return self._uploaded[generation.weights_hash]

    def forget_closed(self) -> None:
        super().forget_closed()
        computed = {g.weights_hash for g in self._generations.values()}
        self._uploaded = {h: cid for h, cid in self._uploaded.items() if h in computed}

    def _propose(self, record: RoundRecord, accepted: int) -> None:
        generation = self.generation_for(record.round_id, accepted)
        cid = self._upload(generation)
        self.crash_point("aggregation")
        if self._try("propose", record.round_id, cid, generation.weights_hash, generation.metrics, accepted):
            slots = [s for s in range(256) if accepted >> s & 1]
            self.say(f"proposed generation {record.generation + 1} from slots {slots}: {generation.metrics}")
            self.crash_point("proposal")

    def _finalize(self, record: RoundRecord) -> None:
        proposal = record.proposals[-1]
        args = (record.round_id, proposal["cid"], bytes(proposal["weightsHash"]), list(proposal["metrics"]))
        if self._try("finalize", *args):
            self.say(f"finalized round {record.number}: generation {record.generation + 1}")
