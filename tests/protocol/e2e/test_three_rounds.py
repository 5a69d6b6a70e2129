"""End to end: one job, three rounds, four trainers, eight verifiers, one aggregator.

Round 1: everyone honest. Round 2: trainer 3 cheats; verifier 0 challenges it and the panel upholds the
challenge (trainer 3 slashed, its update neither aggregated nor rewarded). Round 3: verifier 2 wrongly
challenges trainer 0's honest update; the panel rejects the challenge (verifier 2 slashed, its bond
forfeited). Every ETH balance, stake, credit and AOAI balance is checked to the wei, the vault's books
balance, and the rounds are rebuilt from events alone and compared with the views.

Meant for anvil: `ape test tests/protocol/e2e --network ethereum:local:foundry`; it also runs on the
in-process chain.
"""

from collections import defaultdict

import pytest
from eth_abi import encode
from eth_utils import keccak
from protocol_helpers import (
    DEFAULT_SPEC,
    ETHER,
    FINALIZED,
    SPEC_FIELDS,
    TRAINER,
    UNBONDING_DELAY,
    VERIFIER,
    Update,
    bits,
    vote_commitment,
)

pytestmark = pytest.mark.e2e

SALT = b"\x07" * 32
STAKE = 2 * ETHER
SLOTS = 4
SPEC = {**DEFAULT_SPEC, "minSlots": SLOTS, "maxSlots": SLOTS, "attestationQuorum": 2}
REWARD, VREWARD, FEE = SPEC["rewardPerUpdate"], SPEC["verifierRewardPerUpdate"], SPEC["aggregatorReward"]
BOND, T_STAKE, V_STAKE = SPEC["challengeBond"], SPEC["trainerStake"], SPEC["verifierStake"]


@pytest.fixture(scope="session")
def panel_pool(verifier_pool, extra_accounts):
    return extra_accounts


class Scenario:
    def __init__(self, chain, protocol, trainers, verifiers, extra, aggregator, job_id):
        self.chain, self.p = chain, protocol
        self.trainers, self.verifiers, self.aggregator = trainers, verifiers, aggregator
        self.everyone = list(trainers) + list(verifiers) + list(extra) + [aggregator]
        self.job_id = job_id
        self.fees = defaultdict(int)

    def send(self, method, *args, sender, value=0):
        receipt = method(*args, sender=sender, value=value)
        self.fees[sender.address] += receipt.total_fees_paid
        return receipt

    def train(self, round_id, tag):
        updates = [Update.make(t, slot, tag) for slot, t in enumerate(self.trainers)]
        for u in updates:
            self.send(self.p.rounds.claimAndCommit, round_id, u.slot, u.commitment, sender=u.trainer)
        for u in updates:
            self.send(self.p.rounds.reveal, *u.reveal_args(round_id), sender=u.trainer)
        self.chain.mine()
        return updates

    def attest(self, round_id, slots, verifiers):
        for v in verifiers:
            qualities = [1_000 * (i + 1) for i in range(bin(slots).count("1"))]
            self.send(self.p.rounds.attest, round_id, slots, qualities, sender=v)

    def dispute(self, round_id, slot, challenger, upheld):
        d = self.p.disputes
        receipt = self.send(d.challengeUpdate, round_id, slot, 2, sender=challenger, value=BOND)
        dispute_id = receipt.events.filter(d.UpdateChallenged)[0].disputeId
        self.chain.mine()
        self.send(d.drawPanel, dispute_id, sender=challenger)
        panel = [next(a for a in self.everyone if a.address == m) for m in d.dispute(dispute_id).panel]
        assert len(panel) == SPEC["panelSize"] and challenger not in panel
        for member in panel:
            commitment = vote_commitment(dispute_id, upheld, SALT, member)
            self.send(d.commitVote, dispute_id, commitment, sender=member)
        for member in panel:
            self.send(d.revealVote, dispute_id, upheld, SALT, sender=member)
        self.send(d.resolve, dispute_id, sender=challenger)
        return dispute_id

    def aggregate(self, round_id, accepted, attesters):
        rounds = self.p.rounds
        cid, weights_hash, metrics = f"bafybeie2e{round_id}", bytes([round_id]) * 32, [-1_500_000, 912_000]
        self.send(rounds.propose, round_id, cid, weights_hash, metrics, accepted, sender=self.aggregator)
        for v in attesters:
            self.send(rounds.attestProposal, round_id, cid, weights_hash, metrics, sender=v)
        # The quorum's last attestation finalized the round.
        assert rounds.phaseOf(round_id) == FINALIZED
        return cid, weights_hash, metrics


def test_three_rounds(chain, protocol, create_job, trainers, verifiers, aggregator, panel_pool, admin):
    p = protocol
    start_block = chain.blocks.head.number
    job_id, first_round = create_job(**{k: SPEC[k] for k in ("minSlots", "maxSlots", "attestationQuorum")})
    everyone = list(trainers) + list(verifiers) + list(panel_pool) + [aggregator]
    eth_before = {a.address: a.balance for a in everyone}
    books_before = p.stakes.totals()
    s = Scenario(chain, p, trainers, verifiers, panel_pool, aggregator, job_id)
    v0, v1, v2 = verifiers[:3]
    cheat, wronged = trainers[3], trainers[0]
    generations = []

    # Round 1: honest.
    r1 = first_round
    s.train(r1, "r1")
    s.attest(r1, bits(0, 1, 2, 3), [v0, v1])
    generations.append(s.aggregate(r1, bits(0, 1, 2, 3), [v0, v1]))

    # Round 2: trainer 3 cheats and loses the challenge.
    r2 = p.rounds.currentRound(job_id)
    assert r2 != r1 and p.rounds.roundInfo(r2).slotCount == SLOTS
    s.train(r2, "r2")
    s.attest(r2, bits(0, 1, 2), [v0, v1])
    s.dispute(r2, 3, v0, upheld=True)
    assert p.rounds.trainerState(r2, cheat).rejected
    generations.append(s.aggregate(r2, bits(0, 1, 2), [v0, v1]))

    # Round 3: verifier 2 wrongly challenges trainer 0 and loses.
    r3 = p.rounds.currentRound(job_id)
    s.train(r3, "r3")
    s.dispute(r3, 0, v2, upheld=False)
    s.attest(r3, bits(0, 1, 2, 3), [v0, v1])
    generations.append(s.aggregate(r3, bits(0, 1, 2, 3), [v0, v1]))

    for r in (r1, r2, r3):
        assert p.rounds.phaseOf(r) == FINALIZED
    s.send(p.rounds.claimVerifierRewards, [r1, r2, r3], sender=v0)
    s.send(p.rounds.claimVerifierRewards, [r1, r2, r3], sender=v1)

    # AOAI to the wei: 11 accepted updates, 3 fees, verifier pools 40 + 30 + 40 split evenly by v0 and v1.
    token = p.token
    for trainer in trainers[:3]:
        assert token.balanceOf(trainer) == 3 * REWARD
    assert token.balanceOf(cheat) == 2 * REWARD
    assert token.balanceOf(aggregator) == 3 * FEE
    assert token.balanceOf(v0) == token.balanceOf(v1) == (4 + 3 + 4) * VREWARD // 2
    assert token.balanceOf(v2) == 0
    assert token.totalSupply() == 11 * REWARD + 3 * FEE + 11 * VREWARD

    # Stakes and credits to the wei.
    stakes = p.stakes
    assert stakes.activeStakeOf(cheat, TRAINER) == STAKE - T_STAKE
    assert stakes.activeStakeOf(v2, VERIFIER) == STAKE - V_STAKE
    assert stakes.creditOf(v0) == T_STAKE // 2 + BOND
    assert stakes.creditOf(wronged) == V_STAKE // 2 + BOND // 2
    sink = (T_STAKE - T_STAKE // 2) + (V_STAKE - V_STAKE // 2) + (BOND - BOND // 2)
    books = stakes.totals()
    assert books.sinkPending - books_before.sinkPending == sink
    assert books.slashed - books_before.slashed == T_STAKE + V_STAKE
    score = p.rounds.scoreOf(cheat)
    assert (score.accepted, score.rejected, score.earned, score.slashed) == (2, 1, 2 * REWARD, T_STAKE)

    # Payouts, the sink, and the cheat leaves with what is left of its stake.
    s.send(stakes.claimPayout, sender=v0)
    s.send(stakes.claimPayout, sender=wronged)
    s.send(stakes.flushSink, sender=admin)
    assert token.totalDividendsDeposited() == books.sinkPending
    s.send(stakes.requestUnbond, TRAINER, STAKE - T_STAKE, sender=cheat)
    chain.pending_timestamp += UNBONDING_DELAY
    s.send(stakes.withdraw, TRAINER, sender=cheat)
    expected_eth = {a.address: 0 for a in everyone}
    expected_eth[v0.address] += T_STAKE // 2
    expected_eth[v2.address] -= BOND
    expected_eth[wronged.address] += V_STAKE // 2 + BOND // 2
    expected_eth[cheat.address] += STAKE - T_STAKE
    for account in everyone:
        assert (
            account.balance
            == eth_before[account.address] + expected_eth[account.address] - s.fees[account.address]
        ), account
    final = stakes.totals()
    assert final.deposited == final.withdrawn + final.slashed + final.active + final.unbonding
    assert final.bondsLocked == final.bonds + final.bondsReturned + final.bondsForfeited
    assert final.slashed + final.bondsForfeited + final.bondsReturned == (
        final.credits + final.paidOut + final.sinkPending + final.sunk
    )
    assert stakes.balance == final.active + final.unbonding + final.bonds + final.credits + final.sinkPending
    assert final.active + final.unbonding == books_before.active + books_before.unbonding - 2 * ETHER - (
        STAKE - T_STAKE
    )

    # Lineage: three generations, each the child of the previous one, CIDs hash-match.
    models = p.models
    assert models.generationCount(job_id) == 4
    for number, (cid, weights_hash, metrics) in enumerate(generations, start=1):
        record = models.generation(job_id, number)
        assert (record.parentJobId, record.parentNumber) == (job_id, number - 1)
        assert record.weightsHash == weights_hash
        assert record.metricsHash == keccak(encode(["int256[]"], [metrics]))
        assert record.cidHash == keccak(text=cid)

    # Restartable agents: the rounds rebuilt from events alone match the views.
    rebuilt = rebuild_from_events(p, start_block, chain.blocks.head.number)
    for r in (r1, r2, r3):
        info = p.rounds.roundInfo(r)
        assert rebuilt["revealed"][r] == info.revealedSlots
        assert rebuilt["rejected"][r] == info.rejectedSlots
        assert rebuilt["accepted"][r] == info.revealedSlots & ~info.rejectedSlots
    assert rebuilt["generation_cids"] == [g[0] for g in generations]
    for trainer in trainers:
        score = p.rounds.scoreOf(trainer)
        assert rebuilt["accepted_by"][trainer.address] == score.accepted
        assert rebuilt["earned_by"][trainer.address] == score.earned


def rebuild_from_events(p, start, stop):
    """What an agent restarting from block `start` reconstructs from logs, without calling a view."""
    rounds = p.rounds
    state = {
        "revealed": defaultdict(int),
        "rejected": defaultdict(int),
        "accepted": defaultdict(int),
        "accepted_by": defaultdict(int),
        "earned_by": defaultdict(int),
        "generation_cids": [],
    }
    for log in rounds.UpdateRevealed.range(start, stop + 1):
        state["revealed"][log.roundId] |= 1 << log.slot
    for log in rounds.UpdateRejected.range(start, stop + 1):
        state["rejected"][log.roundId] |= 1 << log.slot
    trainer_of = {}
    for log in rounds.UpdateRevealed.range(start, stop + 1):
        trainer_of[log.roundId, log.slot] = log.trainer
    reward = {
        log.jobId: log.spec[SPEC_FIELDS.index("rewardPerUpdate")]
        for log in p.jobs.JobCreated.range(0, stop + 1)
    }
    for log in rounds.RoundFinalized.range(start, stop + 1):
        state["accepted"][log.roundId] = log.acceptedSlots
        for slot in range(256):
            if log.acceptedSlots >> slot & 1:
                trainer = trainer_of[log.roundId, slot]
                state["accepted_by"][trainer] += 1
                state["earned_by"][trainer] += reward[log.jobId]
    for log in p.models.GenerationRecorded.range(start, stop + 1):
        if log.number > 0:
            state["generation_cids"].append(log.cid)
    return state
