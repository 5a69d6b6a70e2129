"""Creates a training job ("skill") from a JSON spec and starts its first round.

    ape run create_job --network ethereum:local:node --account NAME --spec job.json

The JSON object names JobSpec fields (see contracts/interfaces/IJobRegistry.sol); hashes are 0x-prefixed
hex. Fields left out take the defaults of agents/chain/jobspec.py: a small job whose rounds fit the default
unbonding delay.
Addresses come from the deployment record that `ape run deploy` wrote for this chain.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from ape import Contract, chain
from ape.cli import ConnectedProviderCommand, account_option

from agents.chain.jobspec import UnknownSpecField, spec_from
from agents.deployments import load_deployment


def spec_of(overrides: dict[str, object]) -> tuple:
    """The JobSpec tuple from `overrides` of the defaults, or a usage error naming the unknown fields."""
    try:
        return spec_from(overrides)
    except UnknownSpecField as error:
        raise click.BadParameter(str(error)) from error


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--spec", "spec_path", type=click.Path(exists=True, path_type=Path), required=True)
def cli(account, spec_path):
    """Create a job from SPEC (JSON) as ACCOUNT (JOB_ADMIN_ROLE) and open its first round."""
    record = load_deployment(chain.chain_id)
    contracts = record["contracts"]
    jobs = Contract(contracts["JobRegistry"])
    rounds = Contract(contracts["TrainingRounds"])
    receipt = jobs.createJob(spec_of(json.loads(spec_path.read_text())), sender=account)
    job_id = receipt.events.filter(jobs.JobCreated)[0].jobId
    rounds.startJob(job_id, sender=account)
    click.echo(f"job {job_id} round {rounds.currentRound(job_id)}")
