"""`aoai billing deposit|withdraw`: an API user's prepaid ETH credit in the Billing contract."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.console import Console

from agents.chain.connection import connected, deployed_contracts
from agents.cli.options import account_option, network_option
from agents.cli.wallet import format_units
from agents.node.accounts import load_account


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
@account_option
@network_option
def deposit(amount: int, account: str, network: str) -> None:
    """Deposit AMOUNT (wei, or e.g. '0.1 ether') of credit from ACCOUNT."""
    if amount <= 0:
        raise click.BadParameter("the amount must be positive", param_hint="AMOUNT")
    with connected(network):
        signer = load_account(account)
        contract = _billing()
        contract.deposit(sender=signer, value=amount)
        credit = int(contract.creditOf(signer.address))
        Console().print(f"deposited {format_units(amount, 'ETH')}; credit now {format_units(credit, 'ETH')}")


@billing.command()
@click.argument("amount", type=AMOUNT, required=False)
@account_option
@network_option
def withdraw(amount: int | None, account: str, network: str) -> None:
    """Withdraw credit in two steps: with AMOUNT, request it (starting the notice period); without,
    withdraw what was requested once the notice period is over."""
    if amount is not None and amount <= 0:
        raise click.BadParameter("the amount must be positive", param_hint="AMOUNT")
    console = Console()
    with connected(network):
        signer = load_account(account)
        contract = _billing()
        if amount is not None:
            contract.requestWithdrawal(amount, sender=signer)
            _, unlocks_at = contract.withdrawalRequestOf(signer.address)
            console.print(
                f"requested {format_units(amount, 'ETH')}; run `aoai billing withdraw` again after"
                f" {time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime(int(unlocks_at)))}"
            )
            return
        requested, unlocks_at = contract.withdrawalRequestOf(signer.address)
        if not requested:
            raise click.ClickException("no withdrawal requested: `aoai billing withdraw AMOUNT` first")
        from ape import chain

        now = int(chain.pending_timestamp)
        if now < unlocks_at:
            raise click.ClickException(f"the notice period ends in {int(unlocks_at) - now} s")
        before = int(contract.creditOf(signer.address))
        contract.withdraw(sender=signer)
        paid = before - int(contract.creditOf(signer.address))
        console.print(f"withdrew {format_units(paid, 'ETH')}")
