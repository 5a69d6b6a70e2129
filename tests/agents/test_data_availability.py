"""Data availability in the real network (anvil + IPFS + one process per agent): a trainer that reveals
the CID of a bundle it never stored is challenged and slashed; a verifier whose IPFS node lost the
network risks no bond and slashes nobody for its own isolation; and with no verifier to challenge a
withheld update, the round that cannot be aggregated is abandoned at its deadline and the job goes on.
"""

from __future__ import annotations

import pytest
from agent_helpers import address, aoai, new_job

from agents.devnet.services import IpfsDaemon, free_port
from agents.learning.errors import ContentUnavailable
from agents.learning.weightstore import WeightStore
from agents.node.store import Store

pytestmark = pytest.mark.services

ABANDONED = 8  # ITrainingRounds.Phase


def test_a_trainer_that_withholds_its_bundle_is_challenged_and_slashed(net, reader):
    """A trainer that reveals the CID of a bundle it never stored: nobody can check or aggregate its update.
    The verifiers challenge it once half the challenge window has passed without anyone serving it, the
    panel (the other verifier) upholds once half its commit window has, and the round finalizes with the
    honest update alone."""
    job = new_job(net, slots=2)
    spec = reader.job(job)
    honest, withholder = address(1), address(4)
    slashed_before = reader.call("StakeManager", "slashedOf", withholder)
    common = ["--job", str(job), "--rounds", "1"]
    withhold = ["--behaviour", "withhold"]
    procs = [
        net.agent("w-trainer", "worker", "start", "--account", "TEST::1", *common),
        net.agent("w-withholder", "worker", "start", "--account", "TEST::4", *withhold, *common),
        *(
            net.agent(f"w-verifier{i}", "verifier", "start", "--account", f"TEST::{i}", *common)
            for i in (5, 6)
        ),
        net.agent("w-aggregator", "aggregator", "start", "--account", "TEST::7", *common),
    ]
    net.wait(procs)

    (finalized,) = reader.events("RoundFinalized", jobId=job)
    round_id = finalized["roundId"]
    slots = {e["trainer"].lower(): e for e in reader.events("UpdateRevealed", roundId=round_id)}
    withheld = slots[withholder.lower()]
    with pytest.raises(ContentUnavailable):  # the bundle was never stored anywhere
        WeightStore(net.ipfs.api_multiaddr, timeout=2).read(withheld["updateCID"], 100)
    challenges = reader.events("UpdateChallenged", roundId=round_id)
    assert challenges and {(c["slot"], c["segment"]) for c in challenges} == {(withheld["slot"], 0)}
    for challenge in challenges:  # both verifiers may challenge it: every dispute upheld
        (resolved,) = reader.events("DisputeResolved", disputeId=challenge["disputeId"])
        assert resolved["status"] == 2
    assert reader.events("UpdateRejected", roundId=round_id, trainer=withholder)
    assert finalized["acceptedSlots"] == 1 << slots[honest.lower()]["slot"]
    assert reader.earned_in_job(job, honest) == (1, spec["rewardPerUpdate"])
    assert reader.earned_in_job(job, withholder) == (0, 0)
    slashed = reader.call("StakeManager", "slashedOf", withholder) - slashed_before
    assert slashed == spec["trainerStake"]  # once, however many challenges


def test_a_verifier_whose_node_reaches_nobody_neither_challenges_nor_votes(net, reader, tmp_path):
    """A verifier whose IPFS node lost the network (a daemon of its own, connected to nobody, holding only
    what it fetched before: the job and the round's generation) gets no bundle, nor any evidence that the
    fault is not its own. Beside an honest trainer and a withholder, it challenges neither update (quorum
    2 keeps the window open past its patience). Drawn on the panel of the other verifier's challenge of
    the withholder, it cannot fetch that bundle either and stays silent: it pays the silence penalty, and
    the dispute is dismissed with the challenger's bond returned. Accepted unread, the withheld update
    gets its round abandoned once the dispute's resolution has left the aggregator its window."""
    job = new_job(net, slots=2, attestationQuorum=2, voteCommitPhase=30, voteRevealPhase=10, proposalPhase=10)
    spec = reader.job(job)
    challenger, cut_off, withholder = address(5), address(6), address(4)
    common = ["--job", str(job), "--rounds", "1"]
    with IpfsDaemon(workdir=tmp_path / "alone", api_port=free_port()) as alone:
        # It lost the network after it had fetched the job: its manifest and the round's generation.
        shared, own = Store(net.ipfs.api_multiaddr), Store(alone.api_multiaddr)
        for field in ("datasetManifestCID", "initialWeightsCID"):
            assert own.put(shared.read(spec[field], shared.max_bytes)).cid == spec[field]
        procs = [
            net.agent("c-trainer", "worker", "start", "--account", "TEST::1", *common),
            net.agent(
                "c-withholder", "worker", "start", "--account", "TEST::4", *common, "--behaviour", "withhold"
            ),
            net.agent("c-verifier", "verifier", "start", "--account", "TEST::5", *common),
            net.agent(
                "c-cut-off", "verifier", "start", "--account", "TEST::6", *common, ipfs=alone.api_multiaddr
            ),
            net.agent("c-aggregator", "aggregator", "start", "--account", "TEST::7", *common),
        ]
        net.wait(procs)

    (abandoned,) = reader.events("RoundAbandoned", jobId=job)
    round_id = abandoned["roundId"]
    slots = {e["trainer"].lower(): e["slot"] for e in reader.events("UpdateRevealed", roundId=round_id)}
    assert abandoned["acceptedSlots"] == 0b11
    (challenge,) = reader.events("UpdateChallenged", roundId=round_id)
    assert (challenge["challenger"], challenge["slot"], challenge["segment"]) == (
        challenger,
        slots[withholder.lower()],
        0,
    )
    dispute = challenge["disputeId"]
    assert cut_off in reader.events("PanelDrawn", disputeId=dispute)[0]["panel"]
    assert not reader.events("VoteCommitted", disputeId=dispute)
    (resolved,) = reader.events("DisputeResolved", disputeId=dispute)
    assert resolved["status"] == 4  # dismissed
    (penalized,) = reader.events("PanelMemberPenalized", disputeId=dispute)
    assert (penalized["member"], penalized["amount"]) == (cut_off, spec["panelPenalty"])
    assert {"account": challenger, "amount": spec["challengeBond"]} in [
        {k: e[k] for k in ("account", "amount")} for e in reader.events("BondReturned", account=challenger)
    ]
    assert not reader.events("UpdatesAttested", roundId=round_id, verifier=cut_off)
    for trainer in (address(1), withholder):
        assert reader.earned_in_job(job, trainer) == (0, 0)
    assert "not challenging" in net.log("c-cut-off")


def test_an_unserved_update_nobody_challenged_is_abandoned_and_the_job_goes_on(net, reader):
    """With no verifier running, a withheld update is accepted when the challenge window closes, and
    nobody can aggregate it. The aggregator abandons the round once its aggregation deadline has passed:
    no generation and no reward, and the next round opens from the same generation."""
    job = new_job(net, slots=2, challengePhase=20, proposalPhase=10)
    honest, withholder = address(1), address(4)
    common = ["--job", str(job), "--rounds", "1"]
    withhold = ["--behaviour", "withhold"]
    procs = [
        net.agent("x-trainer", "worker", "start", "--account", "TEST::1", *common),
        net.agent("x-withholder", "worker", "start", "--account", "TEST::4", *withhold, *common),
        net.agent("x-aggregator", "aggregator", "start", "--account", "TEST::7", *common),
    ]
    net.wait(procs)

    (abandoned,) = reader.events("RoundAbandoned", jobId=job)
    round_id = abandoned["roundId"]
    revealed = reader.events("UpdateRevealed", roundId=round_id)
    assert {e["trainer"].lower() for e in revealed} == {honest.lower(), withholder.lower()}
    assert abandoned["acceptedSlots"] == sum(1 << e["slot"] for e in revealed)
    assert not reader.events("UpdateChallenged", roundId=round_id)
    assert not reader.events("GenerationProposed", jobId=job)
    assert not reader.events("RoundFinalized", jobId=job)
    for trainer in (honest, withholder):
        assert reader.earned_in_job(job, trainer) == (0, 0)
    assert reader.call("TrainingRounds", "phaseOf", round_id) == ABANDONED
    (_, opened) = sorted(reader.events("RoundOpened", jobId=job), key=lambda e: e["number"])
    assert (opened["number"], opened["generation"]) == (2, 0)
    assert reader.events("RoundAbandoned", jobId=job)[0]["_block"] == opened["_block"]
    assert "abandoned round 1" in net.log("x-aggregator")
    stats = aoai(net, "stats")
    table = stats.split(f"job {job}: rounds")[1].split(f"job {job}: generations")[0]
    rows = [line.split("│") for line in table.splitlines()]
    states = {cells[1].strip(): cells[3].strip() for cells in rows if len(cells) > 3}
    assert (states["1"], states["2"]) == ("abandoned", "open"), stats
