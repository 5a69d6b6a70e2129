"""`aoai devnet up|down` and `aoai demo`: a whole network on this machine."""

from __future__ import annotations

import click
from rich.console import Console

from agents.devnet import network


@click.group()
def devnet() -> None:
    """Start or stop a local network: anvil, an IPFS daemon, the contracts deployed."""


@devnet.command()
@click.option("--anvil-port", default=8545, show_default=True)
@click.option("--ipfs-port", default=5001, show_default=True, help="Port of the IPFS RPC API.")
def up(anvil_port: int, ipfs_port: int) -> None:
    """Start anvil and IPFS in the background and deploy the contracts with `ape run deploy`."""
    console = Console()
    with console.status("starting anvil and IPFS, deploying contracts"):
        record = network.up(anvil_port, ipfs_port)
    console.print(f"[green]devnet up[/]: chain {record.rpc}, IPFS API {record.ipfs_api}")
    console.print("stop it with `aoai devnet down`")


@devnet.command()
def down() -> None:
    """Stop the local network started by `aoai devnet up`."""
    record = network.down()
    Console().print("devnet stopped" if record else "no devnet is up")


@click.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Bring a devnet up, deploy, show `aoai info`, and take it down again."""
    from agents.cli.info import info

    console = Console()
    with console.status("starting anvil and IPFS, deploying contracts"):
        record = network.up()
    try:
        console.print(f"[green]devnet up[/]: chain {record.rpc}, IPFS API {record.ipfs_api}")
        ctx.invoke(info, network=f"ethereum:local:{record.rpc}")
    finally:
        network.down()
        console.print("devnet stopped")
