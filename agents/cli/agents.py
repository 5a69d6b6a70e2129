"""`aoai worker|verifier|aggregator start`, `aoai stats`, `aoai leaderboard` and `aoai job create`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from agents.chain.connection import ChainUnreachable, Endpoints, connected
from agents.cli.options import account_option, network_option
from agents.deployments import DeploymentNotFound

ETHER = 10**18
BEHAVIOURS = (
    "honest", "lazy", "copy", "withhold", "sign_flip", "scaled", "gaussian_noise", "alie", "ipm",
    "label_flip", "partial", "replay",
)  # fmt: skip
"""The trainer's behaviours (agents.node.trainer.BEHAVIOURS, named here to keep the CLI free of torch)."""

ipfs_option = click.option(
    "--ipfs",
    default=lambda: Endpoints.default().ipfs_api,
    show_default="the running devnet's, else /ip4/127.0.0.1/tcp/5001/http",
    help="Multiaddr of the IPFS daemon's RPC API.",
)
rounds_option = click.option(
    "--rounds", type=int, default=None, help="Stop once rounds 1..N of the job are closed."
)


@contextmanager
def node(network: str, ipfs: str, account: str) -> Iterator[tuple[Any, Any]]:
    """Connected chain (with the account) and IPFS store, or a ClickException saying what is wrong."""
    from ape.exceptions import ApeException

    from agents.learning.errors import WeightStoreError
    from agents.node.accounts import load_account
    from agents.node.protocol import Chain, InsufficientFunds
    from agents.node.store import Store

    try:
        with connected(network):
            chain = Chain(load_account(account))
            store = Store(ipfs)
            try:
                store.pinned()
            except WeightStoreError as error:
                raise click.ClickException(f"IPFS daemon unreachable at {ipfs}: {error}") from error
            try:
                yield chain, store
            except InsufficientFunds as error:
                raise click.ClickException(str(error)) from error
    except (ChainUnreachable, DeploymentNotFound) as error:
        raise click.ClickException(str(error)) from error
    except (OSError, ApeException) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise click.ClickException(f"cannot reach the chain at {network}: {first}") from error


def _agent_command(group: click.Group, make: Callable[..., Any], extra: list[Callable[[Any], Any]]) -> None:
    @group.command("start")
    @account_option
    @network_option
    @ipfs_option
    @rounds_option
    def start(
        account: str, network: str, ipfs: str, rounds: int | None, job: Any = None, **options: Any
    ) -> None:
        with node(network, ipfs, account) as (chain, store):
            make(chain, store, job, rounds, options).run()

    for decorate in extra:
        decorate(start)


@click.group()
def worker() -> None:
    """Train for a job and earn AOAI for accepted updates."""


@click.group()
def verifier() -> None:
    """Check trainers' updates and aggregators' proposals; sit on dispute panels."""


@click.group()
def aggregator() -> None:
    """Aggregate accepted updates into the job's next generation."""


def _job_id(value: str | None) -> int | str | None:
    if value is None or value == "auto":
        return value
    try:
        return int(value)
    except ValueError as error:
        raise click.BadParameter(f"{value!r} is neither a job id nor 'auto'") from error


def _make_trainer(chain: Any, store: Any, job: Any, rounds: int | None, options: dict[str, Any]) -> Any:
    from agents.node.trainer import Trainer

    job = _job_id(job)
    auto = job == "auto"
    return Trainer(
        chain,
        store,
        None if auto else job,
        rounds,
        behaviour=options["behaviour"],
        faked_fraction=options["faked_fraction"],
        auto=auto,
        sealed=options["sealed"],
        crash_after=options["crash_after"],
    )


def _make_verifier(chain: Any, store: Any, job: Any, rounds: int | None, options: dict[str, Any]) -> Any:
    from agents.node.verifier import Verifier

    return Verifier(chain, store, job, rounds, crash_after=options["crash_after"])


def _make_aggregator(chain: Any, store: Any, job: Any, rounds: int | None, options: dict[str, Any]) -> Any:
    from agents.node.aggregator import Aggregator

    return Aggregator(chain, store, job, rounds, crash_after=options["crash_after"])


def _crash_option(points: list[str]) -> Callable[[Any], Any]:
    """Hidden test hook: the process exits abruptly at POINT, like a kill."""
    return click.option("--crash-after", type=click.Choice(points), default=None, hidden=True)


_agent_command(
    worker,
    _make_trainer,
    [
        click.option("--job", default="auto", show_default=True, help="Job id, or 'auto' (UCB over jobs)."),
        click.option(
            "--behaviour",
            type=click.Choice(BEHAVIOURS),
            default="honest",
            show_default=True,
            help="Attack simulation, to test a network's defences (a trainer caught cheating is "
            "slashed): lazy, copy, partial (fake --faked-fraction of the trace), replay (an "
            "old update), withhold (publish the CID of an update it never stores), label_flip, or a "
            "crafted update: sign_flip, scaled, gaussian_noise, alie "
            "('A Little Is Enough'), ipm (inner-product manipulation).",
        ),
        click.option(
            "--faked-fraction",
            type=click.FloatRange(0, 1),
            default=0.1,
            show_default=True,
            help="Fraction of trace segments a 'partial' trainer skips.",
        ),
        click.option(
            "--sealed",
            is_flag=True,
            help="Commit a hash first and reveal the update once every slot is taken, instead of "
            "submitting it in the open (a copy fails its replay either way: each task is bound to its "
            "trainer).",
        ),
        _crash_option(["training", "commit"]),
    ],
)
_agent_command(
    verifier,
    _make_verifier,
    [click.option("--job", type=int, default=None, help="Only this job."), _crash_option(["verification"])],
)
_agent_command(
    aggregator,
    _make_aggregator,
    [
        click.option("--job", type=int, default=None, help="Only this job."),
        _crash_option(["aggregation", "proposal"]),
    ],
)


# ------------------------------------------------------------------------------------------ inspection


@contextmanager
def _reader(network: str) -> Iterator[Any]:
    from ape import accounts
    from ape.exceptions import ApeException

    from agents.node.protocol import Chain

    try:
        with connected(network):
            chain = Chain(accounts.test_accounts[0])  # read-only: the account never signs
            chain.sync()
            yield chain
    except (ChainUnreachable, DeploymentNotFound) as error:
        raise click.ClickException(str(error)) from error
    except (OSError, ApeException) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise click.ClickException(f"cannot reach the chain at {network}: {first}") from error


@click.command()
@network_option
def stats(network: str) -> None:
    """Rounds, generations and their metrics per job, active trainers, AOAI minted."""
    console = Console()
    with _reader(network) as chain:
        book = chain.book
        for job_id in sorted(book.jobs):
            rounds = sorted((r for r in book.rounds.values() if r.job_id == job_id), key=lambda r: r.number)
            table = Table(title=f"job {job_id}: rounds")
            for column in ("round", "gen", "state", "committed", "revealed", "accepted", "rejected"):
                table.add_column(column)
            for r in rounds:
                state = "finalized" if r.finalized else "abandoned" if r.abandoned else "empty"
                state = state if r.closed else "open"
                counts = (len(r.commits), len(r.reveals), len(r.accepted), len(r.rejected))
                table.add_row(str(r.number), str(r.generation), state, *map(str, counts))
            console.print(table)
            gens = Table(title=f"job {job_id}: generations (metrics ×1e-6)")
            gens.add_column("generation")
            gens.add_column("cid")
            gens.add_column("metrics")
            for (j, n), (cid, _, metrics) in sorted(book.generations.items()):
                if j == job_id:
                    gens.add_row(str(n), cid, ", ".join(f"{m / 1e6:.4f}" for m in metrics))
            console.print(gens)
            trainers = {t for r in rounds[-3:] for t in r.commits.values()}
            console.print(f"active trainers (last 3 rounds): {len(trainers)}")
        supply = int(chain.view("AOAIToken", "totalSupply"))
        console.print(f"AOAI minted: {supply / ETHER:,.4f}")


@click.command()
@network_option
@click.option("--top", default=20, show_default=True)
def leaderboard(network: str, top: int) -> None:
    """Contributors by accepted updates and AOAI earned (scoreOf, over every address seen in events)."""
    console = Console()
    with _reader(network) as chain:
        book = chain.book
        people = {t for r in book.rounds.values() for t in r.commits.values()}
        people |= {p["aggregator"] for r in book.rounds.values() for p in r.proposals}
        rows = []
        for address in people:
            score = chain.view("TrainingRounds", "scoreOf", address)
            rows.append(
                (address, int(score.accepted), int(score.rejected), int(score.earned), int(score.slashed))
            )
        rows.sort(key=lambda row: (-row[1], -row[3], row[0]))
        table = Table(title="leaderboard")
        for column in ("#", "address", "accepted", "rejected", "AOAI earned", "ETH slashed"):
            table.add_column(column)
        for i, (address, accepted, rejected, earned, slashed) in enumerate(rows[:top], 1):
            table.add_row(
                str(i),
                address,
                str(accepted),
                str(rejected),
                f"{earned / ETHER:,.2f}",
                f"{slashed / ETHER:g}",
            )
        console.print(table)


@click.group()
def job() -> None:
    """Create training jobs (admin)."""


@job.command("create")
@account_option
@network_option
@ipfs_option
@click.option("--skill", type=click.Choice(["vision", "language"]), required=True)
@click.option(
    "--hyperparams",
    default="{}",
    help='JSON overrides of the skill\'s hyper-parameters, e.g. {"local_steps": 20}.',
)
@click.option(
    "--spec", "spec_json", default="{}", help="JSON overrides of JobSpec fields (see scripts/create_job.py)."
)
@click.option("--seed", default=0, show_default=True, help="Seed of the initial weights.")
def create(
    account: str, network: str, ipfs: str, skill: str, hyperparams: str, spec_json: str, seed: int
) -> None:
    """Upload the job manifest and initial weights to IPFS, create the job and open its first round."""
    from ape.exceptions import ContractLogicError

    from agents.chain.jobspec import UnknownSpecField
    from agents.node.jobs import create_job
    from agents.node.sender import Reverted

    try:
        hp, overrides = json.loads(hyperparams), json.loads(spec_json)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}") from error
    with node(network, ipfs, account) as (chain, store):
        try:
            job_id, round_id = create_job(chain, store, skill, hp, overrides=overrides, init_seed=seed)
        except UnknownSpecField as error:
            raise click.BadParameter(str(error), param_hint="--spec") from error
        except (Reverted, ContractLogicError) as error:
            raise click.ClickException(f"job refused: {error}") from error
    click.echo(f"job {job_id} round {round_id}")


COMMANDS = (worker, verifier, aggregator, stats, leaderboard, job)


@click.group()
def agents_cli() -> None:
    """The agent commands, runnable alone as `python -m agents.cli.agents`."""


for _command in COMMANDS:
    agents_cli.add_command(_command)

if __name__ == "__main__":
    agents_cli()
