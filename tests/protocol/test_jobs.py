"""Unit tests of JobRegistry, ModelRegistry's genesis and TrainingRounds.startJob: roles, validation of a
spec, lineage across jobs, and the wiring the deploy script sets up."""

import importlib.util
from pathlib import Path

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak
from protocol_helpers import COMMIT, DEFAULT_SPEC, SPEC_FIELDS, UNBONDING_DELAY, spec_tuple


def test_deploy_wires_every_role(protocol, admin):
    p = protocol
    assert p.token.hasRole(p.token.MINTER_ROLE(), p.rounds)
    assert p.stakes.hasRole(p.stakes.SLASHER_ROLE(), p.rounds)
    assert p.stakes.hasRole(p.stakes.SLASHER_ROLE(), p.disputes)
    assert p.models.hasRole(p.models.REGISTRAR_ROLE(), p.jobs)
    assert p.models.hasRole(p.models.REGISTRAR_ROLE(), p.rounds)
    assert p.rounds.hasRole(p.rounds.DISPUTES_ROLE(), p.disputes)
    assert p.jobs.hasRole(p.jobs.JOB_ADMIN_ROLE(), admin)
    assert not p.token.hasRole(p.token.MINTER_ROLE(), admin)


def test_create_job_records_spec_and_genesis(jobs, models, admin):
    receipt = jobs.createJob(spec_tuple(), sender=admin)
    job_id = jobs.jobCount()
    stored = jobs.job(job_id)
    for name in SPEC_FIELDS:
        assert getattr(stored, name) == DEFAULT_SPEC[name], name
    created = receipt.events.filter(jobs.JobCreated)
    assert len(created) == 1 and created[0].jobId == job_id and created[0].creator == admin
    assert list(created[0].spec) == [DEFAULT_SPEC[name] for name in SPEC_FIELDS]
    recorded = receipt.events.filter(models.GenerationRecorded)
    assert len(recorded) == 1
    assert recorded[0].jobId == job_id and recorded[0].number == 0
    assert recorded[0].cid == DEFAULT_SPEC["initialWeightsCID"]
    assert models.generationCount(job_id) == 1
    genesis = models.generation(job_id, 0)
    assert not genesis.hasParent
    assert genesis.weightsHash == DEFAULT_SPEC["initialWeightsHash"]
    assert genesis.cidHash == keccak(text=DEFAULT_SPEC["initialWeightsCID"])
    assert genesis.roundId == 0


def test_create_job_needs_job_admin(jobs, outsider):
    with ape.reverts(
        jobs.AccessControlUnauthorizedAccount, account=outsider, neededRole=jobs.JOB_ADMIN_ROLE()
    ):
        jobs.createJob(spec_tuple(), sender=outsider)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"shardCount": 0}, "shardCount"),
        ({"minSlots": 0}, "minSlots"),
        ({"minSlots": 9, "maxSlots": 8}, "minSlots"),
        ({"maxSlots": 256}, "maxSlots"),
        ({"attestationQuorum": 0}, "attestationQuorum"),
        ({"panelSize": 2}, "panelSize"),
        ({"panelSize": 17}, "panelSize"),
        ({"trainerStake": 0}, "trainerStake"),
        ({"verifierStake": 0}, "verifierStake"),
        ({"aggregatorStake": 0}, "aggregatorStake"),
        ({"challengeBond": 0}, "challengeBond"),
        ({"panelPenalty": 2 * 10**18}, "panelPenalty"),
        ({"missedRevealPenalty": 2 * 10**18}, "missedRevealPenalty"),
        ({"claimTtl": 0}, "claimTtl"),
        ({"claimTtl": 3601}, "claimTtl"),
        ({"revealPhase": 0}, "revealPhase"),
        ({"challengePhase": 0}, "challengePhase"),
        ({"proposalPhase": 0}, "proposalPhase"),
        ({"voteRevealPhase": 0}, "votePhase"),
    ],
)
def test_invalid_spec_reverts(jobs, admin, overrides, reason):
    with ape.reverts(jobs.JobRegistryInvalidSpec, reason=reason):
        jobs.createJob(spec_tuple(**overrides), sender=admin)


def test_phases_longer_than_unbonding_revert(jobs, admin):
    """Every slashable act must be judged before a stake can leave: a round that could outlast the
    unbonding delay is refused."""
    spec = spec_tuple(challengePhase=UNBONDING_DELAY)
    exposure = jobs.exposureOf(spec)
    assert exposure == 3600 + 600 + UNBONDING_DELAY + 600 + 600
    with ape.reverts(
        jobs.JobRegistryExposureExceedsUnbonding, exposure=exposure, unbondingDelay=UNBONDING_DELAY
    ):
        jobs.createJob(spec, sender=admin)


def test_unknown_job_reverts(jobs, rounds, admin):
    with ape.reverts(jobs.JobRegistryUnknownJob, jobId=7):
        jobs.job(7)
    with ape.reverts(jobs.JobRegistryUnknownJob, jobId=7):
        rounds.startJob(7, sender=admin)


def test_lineage_across_jobs(jobs, models, admin, job_id, flow, trainers, round_id):
    """A job can start from a finalized generation of another job, and only with that generation's hash."""
    flow.full_round(round_id, trainers[:3])
    parent = models.generation(job_id, 1)
    with ape.reverts(jobs.JobRegistryUnknownParent, parentJobId=job_id, parentGeneration=2):
        jobs.createJob(spec_tuple(parentJobId=job_id, parentGeneration=2), sender=admin)
    with ape.reverts(
        jobs.JobRegistryParentHashMismatch,
        expected=parent.weightsHash,
        actual=DEFAULT_SPEC["initialWeightsHash"],
    ):
        jobs.createJob(spec_tuple(parentJobId=job_id, parentGeneration=1), sender=admin)
    jobs.createJob(
        spec_tuple(
            parentJobId=job_id,
            parentGeneration=1,
            initialWeightsHash=parent.weightsHash,
            initialWeightsCID=f"bafybeigenerationg{round_id}",
        ),
        sender=admin,
    )
    child = jobs.jobCount()
    genesis = models.generation(child, 0)
    assert genesis.hasParent
    assert (genesis.parentJobId, genesis.parentNumber) == (job_id, 1)
    assert genesis.weightsHash == parent.weightsHash


def test_model_registry_only_registrar(models, admin, outsider):
    role = models.REGISTRAR_ROLE()
    with ape.reverts(models.AccessControlUnauthorizedAccount, account=admin, neededRole=role):
        models.recordGenesis(5, False, 0, 0, "cid", b"\x01" * 32, sender=admin)
    with ape.reverts(models.AccessControlUnauthorizedAccount, account=outsider, neededRole=role):
        models.recordGeneration(1, 1, "cid", b"\x01" * 32, [], sender=outsider)


def test_model_registry_rules(models, admin, outsider):
    models.grantRole(models.REGISTRAR_ROLE(), admin, sender=admin)
    with ape.reverts(models.ModelRegistryNoGenesis, jobId=9):
        models.recordGeneration(9, 1, "cid", b"\x01" * 32, [], sender=admin)
    models.recordGenesis(9, False, 0, 0, "cid0", b"\x01" * 32, sender=admin)
    with ape.reverts(models.ModelRegistryGenesisExists, jobId=9):
        models.recordGenesis(9, False, 0, 0, "cid0", b"\x01" * 32, sender=admin)
    with ape.reverts(models.ModelRegistryUnknownGeneration, jobId=9, number=4):
        models.recordGenesis(10, True, 9, 4, "cid0", b"\x01" * 32, sender=admin)
    receipt = models.recordGeneration(9, 3, "cid1", b"\x02" * 32, [5, -6], sender=admin)
    assert receipt.events == [models.GenerationRecorded(9, 1, 3, 9, 0, "cid1", b"\x02" * 32, [5, -6])]
    record = models.generation(9, 1)
    assert (record.parentJobId, record.parentNumber, record.hasParent, record.roundId) == (9, 0, True, 3)
    assert record.metricsHash == keccak(encode(["int256[]"], [[5, -6]]))
    assert record.recordedAt == receipt.timestamp
    assert models.weightsHashOf(9, 1) == b"\x02" * 32
    with ape.reverts(models.ModelRegistryUnknownGeneration, jobId=9, number=2):
        models.generation(9, 2)
    with ape.reverts(models.ModelRegistryUnknownGeneration, jobId=9, number=2):
        models.weightsHashOf(9, 2)


def test_start_job_opens_first_round_once(jobs, rounds, admin, outsider):
    jobs.createJob(spec_tuple(), sender=admin)
    job_id = jobs.jobCount()
    assert rounds.currentRound(job_id) == 0
    with ape.reverts(rounds.TrainingRoundsUnknownJob, jobId=job_id):
        rounds.jobConfig(job_id)
    receipt = rounds.startJob(job_id, sender=outsider)
    round_id = rounds.currentRound(job_id)
    info = rounds.roundInfo(round_id)
    assert receipt.events == [
        rounds.RoundOpened(
            round_id,
            job_id,
            1,
            0,
            DEFAULT_SPEC["minSlots"],
            info.taskSeed,
            receipt.timestamp + DEFAULT_SPEC["commitPhase"],
        )
    ]
    assert info.phase == COMMIT
    assert info.slotCount == DEFAULT_SPEC["minSlots"]
    assert rounds.jobConfig(job_id).trainerStake == DEFAULT_SPEC["trainerStake"]
    with ape.reverts(rounds.TrainingRoundsJobStarted, jobId=job_id):
        rounds.startJob(job_id, sender=outsider)


def test_jobs_live_side_by_side(create_job, rounds, staked, trainers):
    first_job, first_round = create_job()
    second_job, second_round = create_job(shardCount=4, minSlots=2)
    assert first_round != second_round
    assert rounds.jobOf(first_round) == first_job
    assert rounds.jobOf(second_round) == second_job
    assert rounds.roundInfo(second_round).slotCount == 2
    shard, _ = rounds.taskOf(second_round, trainers[0])
    assert shard < 4


def test_create_job_script_spec_is_accepted(jobs, rounds, admin):
    """The defaults of scripts/create_job.py, with a few fields from JSON, make a valid job."""
    path = Path(__file__).resolve().parents[2] / "scripts" / "create_job.py"
    loader = importlib.util.spec_from_file_location("aoai_create_job_script", path)
    script = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(script)
    overrides = {"initialWeightsCID": "bafy0", "initialWeightsHash": "0x" + "ab" * 32, "maxSlots": 5}
    spec = script.spec_from(overrides)
    receipt = jobs.createJob(spec, sender=admin)
    job_id = receipt.events.filter(jobs.JobCreated)[0].jobId
    assert jobs.job(job_id).initialWeightsHash == bytes.fromhex("ab" * 32)
    assert jobs.job(job_id).maxSlots == 5
