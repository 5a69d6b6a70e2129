"""`aoai info`: the network, its contracts and the state of the token."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from agents.chain.connection import Endpoints, connected, deployed_contracts
from agents.cli.options import network_option

ETHER = 10**18


def _format_units(value: int) -> str:
    return f"{value / ETHER:,.6f}"


@click.command()
@network_option
def info(network: str) -> None:
    """Show the network, the deployed contracts and the AOAI token's state."""
    from ape import chain

    console = Console()
    with connected(network):
        contracts = deployed_contracts()
        summary = Table(title="Network", show_header=False)
        summary.add_row("network", network)
        summary.add_row("chain id", str(chain.chain_id))
        summary.add_row("block", str(chain.blocks.head.number))
        for name, contract in sorted(contracts.items()):
            summary.add_row(name, contract.address)
        console.print(summary)
        token = contracts["AOAIToken"]
        state = Table(title="AOAI token", show_header=False)
        state.add_row("total supply", f"{_format_units(token.totalSupply())} AOAI")
        state.add_row("cap", f"{_format_units(token.cap())} AOAI")
        state.add_row("dividends deposited", f"{_format_units(token.totalDividendsDeposited())} ETH")
        state.add_row("dividends claimed", f"{_format_units(token.totalDividendsWithdrawn())} ETH")
        console.print(state)
    ipfs = Endpoints.default().ipfs_api
    console.print(f"IPFS API: {ipfs}")
