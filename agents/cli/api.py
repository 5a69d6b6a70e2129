"""`aoai serve api` runs a gateway; `aoai api call` sends it one paid, signed request."""

from __future__ import annotations

import json
import logging
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from agents.chain.connection import Endpoints, connected, deployed_contracts
from agents.cli.options import account_option, network_option
from agents.deployments import aoai_home


def _job_price(value: tuple[str, ...]) -> dict[int, int]:
    prices = {}
    for entry in value:
        job, _, price = entry.partition("=")
        if not (job.isdigit() and price.isdigit()):
            raise click.BadParameter(f"{entry!r}: expected JOB_ID=WEI", param_hint="--job-price")
        prices[int(job)] = int(price)
    return prices


@click.group()
def serve() -> None:
    """Run a service of the network."""


@serve.command("api")
@account_option
@network_option
@click.option("--ipfs-api", default=lambda: Endpoints.default().ipfs_api, show_default="the devnet's")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Voucher journal and nonces [default: $AOAI_HOME/gateway/<address>]",
)
@click.option("--price", default=10**12, show_default=True, type=int, help="Wei per request, every job.")
@click.option("--job-price", multiple=True, metavar="JOB_ID=WEI", help="Price of one job (repeatable).")
@click.option("--settle-every", default=100, show_default=True, help="Settle after this many new vouchers.")
@click.option("--settle-interval", default=60.0, show_default=True, help="...or after this many seconds.")
@click.option("--rate", default=50.0, show_default=True, help="Requests per second per address.")
@click.option("--burst", default=100, show_default=True, help="Requests per address at once.")
@click.option("--max-body-bytes", default=16 * 1024, show_default=True)
@click.option(
    "--poll-interval", default=2.0, show_default=True, help="Seconds between reads of new generations."
)
@click.option("--from-block", default=0, show_default=True, help="First block to read generations from.")
@click.option(
    "--torch-threads", default=1, show_default=True, help="Threads per inference (requests run in parallel)."
)
@click.option("--log-level", default="info", show_default=True)
def serve_api(
    account: str,
    network: str,
    ipfs_api: str,
    host: str,
    port: int,
    data_dir: Path | None,
    price: int,
    job_price: tuple[str, ...],
    settle_every: int,
    settle_interval: float,
    rate: float,
    burst: int,
    max_body_bytes: int,
    poll_interval: float,
    from_block: int,
    torch_threads: int,
    log_level: str,
) -> None:
    """Serve the network's models over HTTP as ACCOUNT, paid in vouchers settled on chain.

    ACCOUNT needs Billing's GATEWAY_ROLE. SIGTERM or Ctrl-C settles what is left before exiting.
    """
    import torch
    import uvicorn

    from agents.gateway.app import create_app
    from agents.gateway.runtime import GatewaySetupError, build_gateway
    from agents.gateway.service import GatewaySettings
    from agents.node.accounts import load_account

    torch.set_num_threads(torch_threads)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = GatewaySettings(
        default_price=price,
        prices=_job_price(job_price),
        max_body_bytes=max_body_bytes,
        rate=rate,
        burst=burst,
        poll_interval=poll_interval,
        settle_every=settle_every,
        settle_interval=settle_interval,
    )
    with connected(network):
        signer = load_account(account)
        directory = data_dir or aoai_home() / "gateway" / signer.address
        try:
            gateway = build_gateway(
                signer, deployed_contracts(), ipfs_api, directory, settings, start_block=from_block
            )
        except GatewaySetupError as error:
            raise click.ClickException(str(error)) from error
        click.echo(f"gateway {gateway.address} on http://{host}:{port} (journal in {directory})")
        # No proxy headers: the gateway is its own front, and the layer costs time on every request.
        uvicorn.run(
            create_app(gateway),
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            proxy_headers=False,
        )


@click.group()
def api() -> None:
    """Call a gateway's API, paying per request from your Billing credit."""


@api.command("call")
@account_option
@click.option("--gateway", "url", default="http://127.0.0.1:8000", show_default=True, help="Gateway URL.")
@click.option("--job", required=True, help="Job id, or skill name (vision, language).")
@click.option(
    "--input",
    "input_",
    required=True,
    help="vision: 64 pixels 0..16, a JSON list or comma-separated; language: the prompt; @FILE: a file.",
)
@click.option("--generation", default="best", show_default=True, help="best, latest, or a number.")
@click.option("--max-new-tokens", default=64, show_default=True, help="language only")
@click.option("--temperature", default=0.0, show_default=True, help="language only; 0 is greedy")
@click.option("--seed", default=0, show_default=True, help="language only")
@click.option("--max-price", type=int, help="Refuse to pay more than this many wei per request.")
@network_option
@click.option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="Check the gateway's signing domain against the chain's Billing; resume from its redeemed total.",
)
def call(
    account: str,
    url: str,
    job: str,
    input_: str,
    generation: str,
    max_new_tokens: int,
    temperature: float,
    seed: int,
    max_price: int | None,
    network: str,
    verify: bool,
) -> None:
    """Send one signed request to a gateway as ACCOUNT and show the answer."""
    import httpx

    from agents.gateway.client import GatewayClient, GatewayError, Ledger
    from agents.node.accounts import load_account

    try:
        text = Path(input_[1:]).read_text() if input_.startswith("@") else input_
    except OSError as error:
        raise click.BadParameter(
            f"cannot read {input_[1:]}: {error.strerror}", param_hint="--input"
        ) from error
    selector: str | int = int(generation) if generation.isdigit() else generation
    ledger = Ledger(aoai_home() / "client" / "ledger.json")
    try:
        with connected(network) if verify else nullcontext():
            signer = load_account(account)
            billing = deployed_contracts().get("Billing") if verify else None
            if verify and billing is None:
                raise click.ClickException("Billing is not deployed on this chain (or use --no-verify)")
            client = GatewayClient.connect(url, signer, billing=billing, ledger=ledger, max_price=max_price)
            result = _send(client, job, text, selector, max_new_tokens, temperature, seed)
    except GatewayError as error:
        raise click.ClickException(f"the gateway refused: {error}") from error
    except httpx.HTTPError as error:
        raise click.ClickException(f"cannot reach the gateway at {url}: {error}") from error
    table = Table(show_header=False, title=f"job {result['job']}, generation {result['generation']}")
    for key, value in result.items():
        table.add_row(key, json.dumps(value) if isinstance(value, list) else str(value))
    Console().print(table)


def _send(
    client: Any,
    job: str,
    text: str,
    generation: str | int,
    max_new_tokens: int,
    temperature: float,
    seed: int,
) -> dict[str, Any]:
    skill = client.job(job)["skill"]
    if skill == "vision":
        return client.classify(job, _pixels(text), generation=generation)  # type: ignore[no-any-return]
    return client.complete(  # type: ignore[no-any-return]
        job, text, max_new_tokens, temperature=temperature, seed=seed, generation=generation
    )


def _pixels(text: str) -> list[float]:
    try:
        values = json.loads(text) if text.strip().startswith("[") else [float(v) for v in text.split(",")]
    except ValueError as error:
        raise click.BadParameter(f"expected 64 numbers: {error}", param_hint="--input") from error
    if len(values) != 64:
        raise click.BadParameter(f"expected 64 pixel values, got {len(values)}", param_hint="--input")
    return [float(v) for v in values]
