"""Creates a training job ("skill") from a JSON spec and starts its first round.

    ape run create_job --network ethereum:local:node --account NAME --spec job.json

The JSON object names JobSpec fields (see contracts/interfaces/IJobRegistry.sol); hashes are 0x-prefixed
hex. Fields left out take the defaults below: a small job whose rounds fit the default unbonding delay.
Addresses come from the deployment record that `ape run deploy` wrote for this chain.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from ape import Contract, chain
from ape.cli import ConnectedProviderCommand, account_option
from hexbytes import HexBytes

from agents.deployments import load_deployment

ETHER = 10**18

DEFAULTS: dict[str, object] = {
    "architectureId": "0x" + "00" * 32,
    "configHash": "0x" + "00" * 32,
    "initialWeightsCID": "",
    "initialWeightsHash": "0x" + "00" * 32,
    "datasetManifestCID": "",
    "hyperparamsHash": "0x" + "00" * 32,
    "shardCount": 16,
    "aggregationRule": 0,
    "parentJobId": 0,
    "parentGeneration": 0,
    "rewardPerUpdate": 100 * ETHER,
    "verifierRewardPerUpdate": 10 * ETHER,
    "aggregatorReward": 50 * ETHER,
    "trainerStake": ETHER,
    "verifierStake": ETHER,
    "aggregatorStake": 2 * ETHER,
    "challengeBond": ETHER // 10,
    "panelPenalty": ETHER // 20,
    "missedRevealPenalty": ETHER // 5,
    "minSlots": 3,
    "maxSlots": 16,
    "attestationQuorum": 1,
    "panelSize": 3,
    "claimTtl": 600,
    "commitPhase": 3600,
    "revealPhase": 600,
    "challengePhase": 1800,
    "proposalPhase": 1800,
    "voteCommitPhase": 600,
    "voteRevealPhase": 600,
}
BYTES32_FIELDS = ("architectureId", "configHash", "initialWeightsHash", "hyperparamsHash")


def spec_from(overrides: dict[str, object]) -> tuple:
    """The JobSpec tuple, in field order, from the defaults and `overrides`."""
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise click.BadParameter(f"unknown JobSpec fields: {sorted(unknown)}")
    spec = {**DEFAULTS, **overrides}
    for name in BYTES32_FIELDS:
        spec[name] = HexBytes(str(spec[name]))
    return tuple(spec[name] for name in DEFAULTS)


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--spec", "spec_path", type=click.Path(exists=True, path_type=Path), required=True)
def cli(account, spec_path):
    """Create a job from SPEC (JSON) as ACCOUNT (JOB_ADMIN_ROLE) and open its first round."""
    record = load_deployment(chain.chain_id)
    contracts = record["contracts"]
    jobs = Contract(contracts["JobRegistry"])
    rounds = Contract(contracts["TrainingRounds"])
    receipt = jobs.createJob(spec_from(json.loads(spec_path.read_text())), sender=account)
    job_id = receipt.events.filter(jobs.JobCreated)[0].jobId
    rounds.startJob(job_id, sender=account)
    click.echo(f"job {job_id} round {rounds.currentRound(job_id)}")
