"""Deploys and wires the ActuallyOpenAI contracts, then records their addresses for agents and the CLI.

    ape run deploy --network ethereum:local:node --account NAME

Contracts, in order: AOAIToken, StakeManager (sink: the token), ModelRegistry, JobRegistry, TrainingRounds,
Disputes, Billing (revenue to the token). Roles granted: Billing's GATEWAY_ROLE to each `--gateway`;
and the token's MINTER_ROLE to TrainingRounds; the stake manager's SLASHER_ROLE to
TrainingRounds (missed reveals) and Disputes; the model registry's REGISTRAR_ROLE to JobRegistry (genesis)
and TrainingRounds (finalized generations); TrainingRounds' DISPUTES_ROLE to Disputes; JobRegistry's
JOB_ADMIN_ROLE to the deployer. The deployer keeps every DEFAULT_ADMIN_ROLE.
"""

from __future__ import annotations

import click
from ape import chain, project
from ape.cli import ConnectedProviderCommand, account_option

from agents.deployments import save_deployment

DEFAULT_UNBONDING_DELAY = 7 * 24 * 3600
DEFAULT_REWARD_SHARE_BPS = 5_000
DEFAULT_NOTICE_PERIOD = 3_600


def deploy_protocol(
    account,
    unbonding_delay: int = DEFAULT_UNBONDING_DELAY,
    reward_share_bps: int = DEFAULT_REWARD_SHARE_BPS,
    notice_period: int = DEFAULT_NOTICE_PERIOD,
    gateways: tuple = (),
) -> dict:
    """Deploys every protocol contract from `account` and grants the roles that wire them together.

    Returns the contract instances by name, in deployment order.
    """
    token = account.deploy(project.AOAIToken, account)
    stakes = account.deploy(project.StakeManager, account, token, unbonding_delay, reward_share_bps)
    models = account.deploy(project.ModelRegistry, account)
    jobs = account.deploy(project.JobRegistry, account, models, stakes)
    rounds = account.deploy(project.TrainingRounds, account, token, stakes, jobs, models)
    disputes = account.deploy(project.Disputes, stakes, jobs, rounds)
    billing = account.deploy(project.Billing, account, token, notice_period)

    token.grantRole(token.MINTER_ROLE(), rounds, sender=account)
    stakes.grantRole(stakes.SLASHER_ROLE(), rounds, sender=account)
    stakes.grantRole(stakes.SLASHER_ROLE(), disputes, sender=account)
    models.grantRole(models.REGISTRAR_ROLE(), jobs, sender=account)
    models.grantRole(models.REGISTRAR_ROLE(), rounds, sender=account)
    rounds.grantRole(rounds.DISPUTES_ROLE(), disputes, sender=account)
    jobs.grantRole(jobs.JOB_ADMIN_ROLE(), account, sender=account)
    for gateway in gateways:
        billing.grantRole(billing.GATEWAY_ROLE(), gateway, sender=account)
    return {
        "AOAIToken": token,
        "StakeManager": stakes,
        "ModelRegistry": models,
        "JobRegistry": jobs,
        "TrainingRounds": rounds,
        "Disputes": disputes,
        "Billing": billing,
    }


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option(
    "--unbonding-delay",
    default=DEFAULT_UNBONDING_DELAY,
    show_default=True,
    help="Seconds a stake stays slashable after a request to unbond; every job's rounds must fit in it.",
)
@click.option(
    "--reward-share-bps",
    default=DEFAULT_REWARD_SHARE_BPS,
    show_default=True,
    help="Share of a slash (basis points) paid to the winning side; the rest becomes holders' dividends.",
)
@click.option(
    "--notice-period",
    default=DEFAULT_NOTICE_PERIOD,
    show_default=True,
    help="Seconds between an API user's withdrawal request and the withdrawal (protects signed vouchers).",
)
@click.option(
    "--gateway", "gateways", multiple=True, help="Address granted Billing's GATEWAY_ROLE (repeatable)."
)
def cli(account, unbonding_delay, reward_share_bps, notice_period, gateways):
    """Deploy the AOAI token and the protocol contracts from ACCOUNT, wire their roles, record addresses."""
    contracts = deploy_protocol(account, unbonding_delay, reward_share_bps, notice_period, gateways)
    record = {
        "chain_id": chain.chain_id,
        "deployer": account.address,
        "block": chain.blocks.head.number,
        "contracts": {name: contract.address for name, contract in contracts.items()},
    }
    path = save_deployment(chain.chain_id, record)
    for name, contract in contracts.items():
        click.echo(f"{name} {contract.address}")
    click.echo(f"recorded in {path}")
