"""`aoai billing deposit|withdraw`: an API user's prepaid ETH credit in the Billing contract."""

from __future__ import annotations

import time
from typing import Any

import click
from ape.cli import account_option
from rich.console import Console

from agents.chain.connection import connected, deployed_contracts
from agents.cli.options import network_option
from agents.cli.wallet import format_units, unlocked


class Amount(click.ParamType):
    """An ETH amount: wei as a plain integer, or with a unit ape understands ("0.1 ether", "5 gwei")."""

    name = "amount"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.isdigit():
            return int(text)
        from ape.utils import ManagerAccessMixin

        try:
            return int(ManagerAccessMixin.conversion_manager.convert(text, int))
        except Exception:
            self.fail(f"{value!r} is not an amount: give wei, or e.g. '0.1 ether'", param, ctx)


AMOUNT = Amount()


def _billing() -> Any:
    billing = deployed_contracts().get("Billing")
    if billing is None:
        raise click.ClickException("Billing is not deployed on this chain")
    return billing


@click.group()
def billing() -> None:
    """Prepaid ETH credit for the API: deposit, and withdraw after the notice period."""


@billing.command()
@click.argument("amount", type=AMOUNT)
@account_option()
@network_option
def deposit(amount: int, account: Any, network: str) -> None:
    """Deposit AMOUNT (wei, or e.g. '0.1 ether') of credit from ACCOUNT."""
    if amount <= 0:
        raise click.BadParameter("the amount must be positive", param_hint="AMOUNT")
    with connected(network):
        contract = _billing()
        contract.deposit(sender=unlocked(account), value=amount)
        credit = int(contract.creditOf(account.address))
        Console().print(f"deposited {format_units(amount, 'ETH')}; credit now {format_units(credit, 'ETH')}")


@billing.command()
@click.argument("amount", type=AMOUNT, required=False)
@account_option()
@network_option
def withdraw(amount: int | None, account: Any, network: str) -> None:
    """Withdraw credit in two steps: with AMOUNT, request it (starting the notice period); without,
    withdraw what was requested once the notice period is over."""
    console = Console()
    with connected(network):
        contract = _billing()
        if amount is not None:
            if amount <= 0:
                raise click.BadParameter("the amount must be positive", param_hint="AMOUNT")
            contract.requestWithdrawal(amount, sender=unlocked(account))
            _, unlocks_at = contract.withdrawalRequestOf(account.address)
            console.print(
                f"requested {format_units(amount, 'ETH')}; run `aoai billing withdraw` again after"
                f" {time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime(int(unlocks_at)))}"
            )
            return
        requested, unlocks_at = contract.withdrawalRequestOf(account.address)
        if not requested:
            raise click.ClickException("no withdrawal requested: `aoai billing withdraw AMOUNT` first")
        from ape import chain

        now = int(chain.pending_timestamp)
        if now < unlocks_at:
            raise click.ClickException(f"the notice period ends in {int(unlocks_at) - now} s")
        before = int(contract.creditOf(account.address))
        contract.withdraw(sender=unlocked(account))
        paid = before - int(contract.creditOf(account.address))
        console.print(f"withdrew {format_units(paid, 'ETH')}")
