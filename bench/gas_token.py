"""Gas of the AOAI token, from real transactions on anvil, beside a plain OpenZeppelin ERC-20.

    .venv/bin/python -m bench.gas_token

Targets: a transfer costs at most 15,000 gas more than the plain ERC-20's; a claim at most 60,000 gas;
claim gas does not depend on the number of holders or of deposits (equal within 1%).
"""

from __future__ import annotations

import secrets

from rich.console import Console
from rich.table import Table

from agents.chain.connection import project
from bench.common import Target, anvil_network, report

ETHER = 10**18


def _gas(receipt) -> int:  # type: ignore[no-untyped-def]
    return int(receipt.gas_used)


def _fresh_address() -> str:
    return "0x" + secrets.token_hex(20)


def measure_erc20_ops(token, minter, holder, other) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Mint and transfers of any ERC-20 with a `mint(to, amount)` open to `minter`."""
    figures = {"mint_new_holder": _gas(token.mint(holder, 100 * ETHER, sender=minter))}
    token.mint(other, ETHER, sender=minter)
    figures["transfer_new_holder"] = _gas(token.transfer(_fresh_address(), ETHER, sender=holder))
    figures["transfer_existing_holder"] = _gas(token.transfer(other, ETHER, sender=holder))
    return figures


def claim_gas(deploy, admin, claimant, holders: int, deposits: int) -> int:  # type: ignore[no-untyped-def]
    """Gas of one claim by `claimant`, with `holders` holders in all and `deposits` deposits before it."""
    token = deploy()
    token.mint(claimant, ETHER, sender=admin)
    for _ in range(holders - 1):
        token.mint(_fresh_address(), ETHER, sender=admin)
    for _ in range(deposits):
        token.depositDividends(sender=admin, value=10**15)
    token.claimDividends(sender=claimant)  # the first claim also creates the claimant's ledger entry
    token.depositDividends(sender=admin, value=10**15)
    return _gas(token.claimDividends(sender=claimant))


def main() -> None:
    console = Console()
    with anvil_network() as accounts:
        admin, holder, other, claimant = accounts[0], accounts[1], accounts[2], accounts[3]
        contracts = project()

        def deploy_aoai():  # type: ignore[no-untyped-def]
            token = admin.deploy(contracts.AOAIToken, admin)
            token.grantRole(token.MINTER_ROLE(), admin, sender=admin)
            return token

        plain = measure_erc20_ops(admin.deploy(contracts.PlainERC20), admin, holder, other)
        aoai_token = deploy_aoai()
        aoai_token.mint(other, ETHER, sender=admin)
        aoai_token.depositDividends(sender=admin, value=ETHER)  # transfers then move dividend corrections
        aoai = measure_erc20_ops(aoai_token, admin, holder, other)
        aoai["deposit"] = _gas(aoai_token.depositDividends(sender=admin, value=ETHER))
        aoai["first_claim"] = _gas(aoai_token.claimDividends(sender=other))
        claims = {
            (h, d): claim_gas(deploy_aoai, admin, claimant, holders=h, deposits=d)
            for h, d in ((1, 1), (100, 1), (1, 100))
        }

    table = Table(title="AOAI token gas (anvil, real receipts)")
    for column in ("operation", "plain ERC-20", "AOAI", "AOAI - plain", "ratio"):
        table.add_column(column, justify="right")
    for op in ("mint_new_holder", "transfer_new_holder", "transfer_existing_holder"):
        table.add_row(
            op, f"{plain[op]:,}", f"{aoai[op]:,}", f"{aoai[op] - plain[op]:+,}", f"{aoai[op] / plain[op]:.2f}"
        )
    table.add_row("deposit", "", f"{aoai['deposit']:,}", "", "")
    table.add_row("first claim", "", f"{aoai['first_claim']:,}", "", "")
    for (h, d), gas in claims.items():
        table.add_row(f"claim ({h} holders, {d} deposits)", "", f"{gas:,}", "", f"{gas / claims[(1, 1)]:.4f}")
    console.print(table)

    spread = max(claims.values()) / min(claims.values()) - 1
    figures = {
        "plain": plain,
        "aoai": aoai,
        "claim": {f"holders={h},deposits={d}": gas for (h, d), gas in claims.items()},
        "claim_spread": spread,
    }
    targets = [
        Target(
            "transfer to existing holder: AOAI - plain",
            aoai["transfer_existing_holder"] - plain["transfer_existing_holder"],
            "<=",
            15_000,
        ),
        Target(
            "transfer to new holder: AOAI - plain",
            aoai["transfer_new_holder"] - plain["transfer_new_holder"],
            "<=",
            15_000,
        ),
        Target("claim gas (1 holder, 1 deposit)", claims[(1, 1)], "<=", 60_000),
        Target("first claim gas", aoai["first_claim"], "<=", 60_000),
        Target("claim gas spread, 1 vs 100 holders and deposits", spread, "<=", 0.01),
    ]
    report("gas_token", figures, targets, console)


if __name__ == "__main__":
    main()
