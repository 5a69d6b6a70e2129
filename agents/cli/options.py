"""Options shared by `aoai` commands."""

from __future__ import annotations

import click

from agents.chain.connection import Endpoints

network_option = click.option(
    "--network",
    default=lambda: Endpoints.default().network,
    show_default="the running devnet, else ethereum:local:node",
    help="Ape network choice, or ethereum:local:<rpc url>.",
)
