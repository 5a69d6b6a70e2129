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
account_option = click.option(
    "--account",
    "--wallet",
    "account",
    required=True,
    help="Ape account: keystore alias or its address (passphrase in APE_ACCOUNTS_<alias>_PASSPHRASE), "
    "or TEST::N.",
)
