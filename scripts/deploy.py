"""Deploys and wires the ActuallyOpenAI contracts, then records their addresses for agents and the CLI.

    ape run deploy --network ethereum:local:node --account NAME
"""

import click
from ape import chain, project
from ape.cli import ConnectedProviderCommand, account_option

from agents.deployments import save_deployment


@click.command(cls=ConnectedProviderCommand)
@account_option()
def cli(account):
    """Deploy the AOAI token (and, as they land, the protocol contracts) from ACCOUNT."""
    token = account.deploy(project.AOAIToken, account)
    record = {
        "chain_id": chain.chain_id,
        "deployer": account.address,
        "block": chain.blocks.head.number,
        "contracts": {"AOAIToken": token.address},
    }
    path = save_deployment(chain.chain_id, record)
    click.echo(f"AOAIToken {token.address}")
    click.echo(f"recorded in {path}")
