"""`aoai devnet up|down` and `aoai demo`: a whole network on this machine."""

from __future__ import annotations

import time
from pathlib import Path

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
@click.option(
    "--rounds", type=int, default=None, help="Rounds per job [default: as many as fit in --minutes]."
)
@click.option(
    "--minutes", default=5.0, show_default=True, help="Time budget for the rounds when --rounds is not given."
)
@click.option(
    "--trainers",
    default=4,
    show_default=True,
    help="Trainer processes (at most 4: ape has 10 test accounts).",
)
@click.option(
    "--attackers",
    default=1,
    show_default=True,
    help="How many of the trainers cheat (lazy: no training, a fabricated trace).",
)
@click.option(
    "--jobs", default="vision,language", show_default=True, help="Comma-separated skills, one job each."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the report, the logs and the network's state [default: demo-output/<UTC time>].",
)
@click.option(
    "--keep-running", is_flag=True, help="Leave anvil, IPFS and the gateway up afterwards, to try by hand."
)
def demo(
    rounds: int | None,
    minutes: float,
    trainers: int,
    attackers: int,
    jobs: str,
    out: Path | None,
    keep_running: bool,
) -> None:
    """The whole story on a fresh local network: two jobs trained by four trainers (one cheating), a
    verifier pair and an aggregator, each its own process; then the paid API and the holders' dividends;
    ends with a report (Markdown, JSON and a plot). Stops everything it started, also on Ctrl-C."""
    from agents.demo.plan import Plan
    from agents.demo.story import DemoError, run

    folder = out or Path("demo-output") / time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    try:
        plan = Plan(
            jobs=tuple(j.strip() for j in jobs.split(",") if j.strip()),
            trainers=trainers,
            attackers=attackers,
            rounds=rounds,
            minutes=minutes,
            out=folder.resolve(),
            keep_running=keep_running,
        )
    except ValueError as error:
        raise click.BadParameter(str(error)) from error
    try:
        run(plan, Console())
    except DemoError as error:
        raise click.ClickException(str(error)) from error
