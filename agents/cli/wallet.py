"""`aoai wallet balance|claim`: what an address holds in the network, and claiming its dividends."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from agents.chain.connection import connected, deployed_contracts
from agents.cli.options import account_option, network_option
from agents.node.accounts import load_account

ETHER = 10**18
ROLES = ("trainer", "verifier", "aggregator")


def format_units(value: int, unit: str) -> str:
    """Wei (or AOAI-wei) as a decimal amount with 18 places, exact."""
    whole, fraction = divmod(value, ETHER)
    return f"{whole:,}.{fraction:018d}".rstrip("0").rstrip(".") + f" {unit}"


@click.group()
def wallet() -> None:
    """An address's AOAI, dividends, API credit and stakes; claim dividends."""


@wallet.command()
@click.argument("address")
@network_option
def balance(address: str, network: str) -> None:
    """Show ADDRESS's ETH, AOAI, withdrawable dividends, Billing credit and stakes."""
    from ape import chain
    from eth_utils import is_address, to_checksum_address

    if not is_address(address):
        raise click.BadParameter(f"{address!r} is not an address", param_hint="ADDRESS")
    address = to_checksum_address(address)
    with connected(network):
        contracts = deployed_contracts()
        token = contracts["AOAIToken"]
        table = Table(title=f"Wallet {address}", show_header=False)
        table.add_row("ETH", format_units(int(chain.provider.get_balance(address)), "ETH"))
        table.add_row("AOAI", format_units(int(token.balanceOf(address)), "AOAI"))
        table.add_row(
            "withdrawable dividends", format_units(int(token.withdrawableDividendsOf(address)), "ETH")
        )
        billing = contracts.get("Billing")
        if billing is None:
            table.add_row("Billing credit", "[yellow]Billing is not deployed on this chain[/]")
        else:
            table.add_row("Billing credit", format_units(int(billing.creditOf(address)), "ETH"))
            table.add_row("  spendable", format_units(int(billing.spendableCreditOf(address)), "ETH"))
            amount, unlocks_at = billing.withdrawalRequestOf(address)
            if amount:
                table.add_row(
                    "  withdrawal requested", f"{format_units(int(amount), 'ETH')} from {unlocks_at}"
                )
        stakes = contracts["StakeManager"]
        for role, name in enumerate(ROLES):
            info = stakes.stakeOf(address, role)
            text = format_units(int(info.active), "ETH")
            if info.unbonding:
                text += f" (+{format_units(int(info.unbonding), 'ETH')} unbonding until {info.releaseAt})"
            table.add_row(f"stake as {name}", text)
        Console().print(table)


@wallet.command()
@account_option
@network_option
def claim(account: str, network: str) -> None:
    """Claim ACCOUNT's ETH dividends from the AOAI token."""
    with connected(network):
        signer = load_account(account)
        token = deployed_contracts()["AOAIToken"]
        if int(token.withdrawableDividendsOf(signer.address)) == 0:
            raise click.ClickException(f"{signer.address} has no dividends to claim")
        receipt = token.claimDividends(sender=signer)
        claimed = sum(int(e.amount) for e in receipt.events.filter(token.DividendsClaimed))
        Console().print(f"claimed [green]{format_units(claimed, 'ETH')}[/] (transaction {receipt.txn_hash})")
