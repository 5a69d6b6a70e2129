"""`aoai`: run a node of the network, inspect it, and manage a wallet's part in it."""

from __future__ import annotations

from typing import Any

import click

from agents.chain.connection import ChainUnreachable
from agents.cli.agents import aggregator, job, leaderboard, stats, verifier, worker
from agents.cli.api import api, serve
from agents.cli.billing import billing
from agents.cli.devnet import demo, devnet
from agents.cli.info import info
from agents.cli.wallet import wallet
from agents.deployments import DeploymentNotFound
from agents.devnet.services import ServiceError

USER_ERRORS = (ChainUnreachable, DeploymentNotFound, ServiceError)


class AoaiGroup(click.Group):
    """A click group that reports the errors a user can fix as one clear line, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as error:
            raise click.ClickException(str(error)) from error


@click.group(cls=AoaiGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="actuallyopenai", prog_name="aoai")
def cli() -> None:
    """ActuallyOpenAI: train a shared model together, get paid in AOAI, earn the ETH it makes."""


for command in (
    info,
    stats,
    leaderboard,
    worker,
    verifier,
    aggregator,
    job,
    serve,
    api,
    wallet,
    billing,
    devnet,
    demo,
):
    cli.add_command(command)


def main() -> None:
    cli()
