"""Constants and helpers shared by the protocol tests: the default job spec, commitments as the contracts
compute them, and `Flow`, which drives rounds through their phases the way honest agents do."""

from dataclasses import dataclass

from eth_abi import encode
from eth_utils import keccak

from agents.chain.jobspec import DEFAULTS as JOB_SPEC_DEFAULTS

ETHER = 10**18
AOAI = 10**18
TRAINER, VERIFIER, AGGREGATOR = 0, 1, 2

# Phases of ITrainingRounds.Phase
NONE, COMMIT, REVEAL, CHALLENGE, AGGREGATION, PROPOSAL, FINALIZED, EMPTY, ABANDONED = range(9)
# Slot status
OPEN, CLAIMED, COMMITTED, PENALIZED = range(4)
# IDisputes.Status
PENDING, UPHELD, REJECTED, DISMISSED = 1, 2, 3, 4

UNBONDING_DELAY = 7 * 24 * 3600
REWARD_SHARE_BPS = 5_000

DEFAULT_SPEC = {
    **JOB_SPEC_DEFAULTS,
    "architectureId": keccak(text="mlp-digits"),
    "configHash": keccak(text="config"),
    "initialWeightsCID": "bafkreiinitialweights",
    "initialWeightsHash": keccak(text="weights-0"),
    "datasetManifestCID": "bafkreidatasetmanifest",
    "hyperparamsHash": keccak(text="hyperparams"),
    "aggregationRule": 1,
    "maxSlots": 8,
}

SPEC_FIELDS = list(DEFAULT_SPEC)


def spec_tuple(**overrides):
    """A JobSpec as the ABI wants it (a tuple in field order), from the defaults and `overrides`."""
    spec = {**DEFAULT_SPEC, **overrides}
    return tuple(spec[name] for name in SPEC_FIELDS)


def commitment_of(cid: str, update_hash: bytes, trace_root: bytes, salt: bytes, trainer) -> bytes:
    """keccak256(abi.encode(updateCID, updateHash, traceRoot, salt, trainer)), as the contract checks it."""
    return keccak(
        encode(
            ["string", "bytes32", "bytes32", "bytes32", "address"],
            [cid, update_hash, trace_root, salt, str(trainer)],
        )
    )


def vote_commitment(dispute_id: int, upheld: bool, salt: bytes, voter) -> bytes:
    return keccak(encode(["uint256", "bool", "bytes32", "address"], [dispute_id, upheld, salt, str(voter)]))


def proposal_digest(cid: str, weights_hash: bytes, metrics) -> bytes:
    return keccak(encode(["string", "bytes32", "int256[]"], [cid, weights_hash, list(metrics)]))


def bits(*slots: int) -> int:
    return sum(1 << s for s in slots)


@dataclass(frozen=True)
class Update:
    """One trainer's update as it commits and reveals it."""

    trainer: object
    slot: int
    cid: str
    update_hash: bytes
    trace_root: bytes
    salt: bytes

    @classmethod
    def make(cls, trainer, slot: int, tag: str = "") -> "Update":
        seed = f"{trainer.address}-{slot}-{tag}"
        return cls(
            trainer=trainer,
            slot=slot,
            cid=f"bafybeiupdate{keccak(text=seed).hex()[:40]}",
            update_hash=keccak(text=f"hash-{seed}"),
            trace_root=keccak(text=f"trace-{seed}"),
            salt=keccak(text=f"salt-{seed}"),
        )

    @property
    def commitment(self) -> bytes:
        return commitment_of(self.cid, self.update_hash, self.trace_root, self.salt, self.trainer)

    def reveal_args(self, round_id: int):
        return (round_id, self.slot, self.cid, self.update_hash, self.trace_root, self.salt)

    def submit_args(self, round_id: int):
        """``claimAndSubmit``'s arguments: the update in the open, no salt."""
        return (round_id, self.slot, self.cid, self.update_hash, self.trace_root)


class Flow:
    """Drives rounds the way honest agents do; each step returns what the next needs."""

    def __init__(self, chain, protocol, verifiers, aggregator):
        self.chain = chain
        self.p = protocol
        self.verifiers = verifiers
        self.aggregator = aggregator

    def advance(self, seconds: int):
        self.chain.pending_timestamp += seconds
        self.chain.mine()

    def commit(self, round_id, trainers, tag=""):
        updates = []
        for slot, trainer in enumerate(trainers):
            update = Update.make(trainer, slot, tag)
            self.p.rounds.claimAndCommit(round_id, slot, update.commitment, sender=trainer)
            updates.append(update)
        return updates

    def submit(self, round_id, trainers, tag=""):
        """Every trainer claims the next slot and submits its update in the open."""
        updates = [Update.make(trainer, slot, tag) for slot, trainer in enumerate(trainers)]
        for update in updates:
            self.p.rounds.claimAndSubmit(*update.submit_args(round_id), sender=update.trainer)
        return updates

    def close_commits(self, round_id):
        """Waits out the commit phase if some slot stayed free (the fast path needs every slot)."""
        if self.p.rounds.phaseOf(round_id) == COMMIT:
            info = self.p.rounds.roundInfo(round_id)
            self.chain.pending_timestamp = info.commitDeadline + 1
            self.chain.mine()

    def reveal(self, round_id, updates):
        for update in updates:
            self.p.rounds.reveal(*update.reveal_args(round_id), sender=update.trainer)
        # The verification seed reads the hash of the last reveal's block: one more block.
        self.chain.mine()

    def attest(self, round_id, slots, verifiers=None):
        for verifier in verifiers or self.verifiers[:1]:
            qualities = [1000 + s for s in range(bin(slots).count("1"))]
            self.p.rounds.attest(round_id, slots, qualities, sender=verifier)

    def propose(self, round_id, slots, tag="g", metrics=(-12_345, 987_000), sender=None):
        cid = f"bafybeigeneration{tag}{round_id}"
        weights_hash = keccak(text=f"weights-{tag}-{round_id}")
        self.p.rounds.propose(
            round_id, cid, weights_hash, list(metrics), slots, sender=sender or self.aggregator
        )
        return cid, weights_hash, list(metrics)

    def finalize(self, round_id, proposal, sender=None):
        info = self.p.rounds.proposalOf(round_id)
        if not info.finalizable:
            self.advance(self.p.rounds.jobConfig(self.p.rounds.jobOf(round_id)).proposalPhase + 1)
        return self.p.rounds.finalize(round_id, *proposal, sender=sender or self.aggregator)

    def full_round(self, round_id, trainers, tag=""):
        """Commit, reveal, attest (quorum 1), propose and finalize with every trainer honest."""
        updates = self.commit(round_id, trainers, tag)
        self.close_commits(round_id)
        self.reveal(round_id, updates)
        slots = bits(*(u.slot for u in updates))
        self.attest(round_id, slots)
        proposal = self.propose(round_id, slots, tag=tag or "g")
        receipt = self.finalize(round_id, proposal)
        return updates, proposal, receipt


# Disputes: a challenge, its panel, and the panel's commit-reveal vote.

VOTE_SALT = b"\x42" * 32


def challenge(disputes, round_id, slot, challenger, segment=3):
    """Challenges the update in ``slot`` at ``segment`` with the default bond; the dispute's id."""
    bond = DEFAULT_SPEC["challengeBond"]
    receipt = disputes.challengeUpdate(round_id, slot, segment, sender=challenger, value=bond)
    return receipt.events.filter(disputes.UpdateChallenged)[0].disputeId


def draw(chain, disputes, dispute_id):
    """Draws the dispute's panel (one block after the challenge, whose hash seeds it); its members."""
    chain.mine()
    disputes.drawPanel(dispute_id, sender=_any(chain))
    return list(disputes.dispute(dispute_id).panel)


def _any(chain):
    return chain.provider.account_manager.test_accounts[0]


def vote(disputes, dispute_id, panel_votes):
    """Each (member, upheld) commits, then each reveals; a member mapped to None stays silent."""
    voting = [(m, v) for m, v in panel_votes if v is not None]
    for member, upheld in voting:
        disputes.commitVote(dispute_id, vote_commitment(dispute_id, upheld, VOTE_SALT, member), sender=member)
    return voting


def reveal_votes(disputes, dispute_id, voting):
    for member, upheld in voting:
        disputes.revealVote(dispute_id, upheld, VOTE_SALT, sender=member)


def account_of(accounts_, address):
    return next(a for a in accounts_ if a.address == address)
