"""`aoai wallet balance|claim`, `aoai billing deposit|withdraw` and `aoai api call` on the session's anvil,
with a gateway served by uvicorn in this process: on-chain effects to the wei, and one-line errors."""

import re
import threading
import time

import pytest
import torch
import uvicorn
from click.testing import CliRunner
from gateway_helpers import PRICE, digits

from agents.cli.main import cli
from agents.cli.wallet import format_units
from agents.devnet.services import free_port
from agents.learning.skills.registry import load_model

ETHER = 10**18


@pytest.fixture(scope="module")
def aoai(services):
    """Runs `aoai ARGS --network <the session's anvil>`; returns the result (exit code, output)."""
    network = ["--network", f"ethereum:local:{services.anvil.url}"]

    def run(*args, network_args=network):
        return CliRunner().invoke(cli, [*args, *network_args])

    return run


def refused(result, message):
    """The command failed through click, saying `message` on its last line ("Error: ..."): no traceback."""
    assert isinstance(result.exception, SystemExit) and result.exit_code in (1, 2), repr(result.exception)
    assert message in result.output.strip().splitlines()[-1], result.output


def last_fee(chain):
    """Wei paid in fees by the last transaction on the chain (anvil mines one per block)."""
    web3 = chain.provider.web3
    receipt = web3.eth.get_transaction_receipt(web3.eth.get_block("latest").transactions[-1])
    return receipt.gasUsed * receipt.effectiveGasPrice


@pytest.fixture(scope="module")
def gateway_url(make_gateway):
    """A gateway on a free port (uvicorn in a thread; the app's lifespan starts and settles it)."""
    gateway, app = make_gateway(settle_every=1000)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", gateway
    server.should_exit = True
    thread.join(timeout=120)


def test_wallet_balance_shows_tokens_dividends_credit_and_stakes(aoai, protocol, actors, holders, chain):
    trainer = actors.trainers[0]
    protocol.token.depositDividends(sender=actors.admin, value=ETHER // 1000)
    protocol.billing.deposit(sender=trainer, value=ETHER // 1000)
    result = aoai("wallet", "balance", trainer.address.lower())
    assert result.exit_code == 0, result.output
    stake = protocol.stakes.stakeOf(trainer, 0)
    for row, value, unit in (
        ("AOAI", protocol.token.balanceOf(trainer), "AOAI"),
        ("withdrawable dividends", protocol.token.withdrawableDividendsOf(trainer), "ETH"),
        ("spendable", protocol.billing.spendableCreditOf(trainer), "ETH"),
        ("stake as trainer", stake.active, "ETH"),
        ("stake as verifier", 0, "ETH"),
    ):
        assert value > 0 or row == "stake as verifier"
        assert re.search(rf"{row}\s*│\s*{re.escape(format_units(int(value), unit))}", result.output), row

    refused(aoai("wallet", "balance", "0x1234"), "'0x1234' is not an address")
    unreachable = ["--network", f"ethereum:local:http://127.0.0.1:{free_port()}"]
    refused(aoai("wallet", "balance", trainer.address, network_args=unreachable), "cannot reach the chain")


def test_wallet_claim_pays_the_dividends_to_the_wei(aoai, protocol, actors, holders, chain):
    holder = actors.trainers[1]
    protocol.token.depositDividends(sender=actors.admin, value=ETHER // 1000)
    owed = protocol.token.withdrawableDividendsOf(holder)
    balance = holder.balance
    assert owed > 0

    result = aoai("wallet", "claim", "--account", "TEST::2")
    assert result.exit_code == 0, result.output
    assert format_units(owed, "ETH") in result.output
    assert holder.balance == balance + owed - last_fee(chain)
    assert protocol.token.withdrawableDividendsOf(holder) == 0

    refused(aoai("wallet", "claim", "--account", "TEST::2"), "has no dividends to claim")
    refused(aoai("wallet", "claim", "--account", "no-such-alias"), "no account 'no-such-alias'")


def test_billing_deposit_then_withdraw_after_the_notice_period(aoai, protocol, actors, chain):
    billing, user = protocol.billing, actors.verifier
    credit = billing.creditOf(user)

    result = aoai("billing", "deposit", "0.01 ether", "--account", "TEST::3")
    assert result.exit_code == 0, result.output
    assert billing.creditOf(user) == credit + 10**16
    refused(aoai("billing", "deposit", "lots", "--account", "TEST::3"), "'lots' is not an amount")
    refused(aoai("billing", "withdraw", "--account", "TEST::3"), "no withdrawal requested")

    result = aoai("billing", "withdraw", str(4 * 10**15), "--account", "TEST::3")
    assert result.exit_code == 0, result.output
    amount, unlocks_at = billing.withdrawalRequestOf(user)
    assert amount == 4 * 10**15
    refused(aoai("billing", "withdraw", "--account", "TEST::3"), "the notice period ends in")
    assert billing.creditOf(user) == credit + 10**16

    chain.mine(timestamp=int(unlocks_at) + 1)
    balance = user.balance
    result = aoai("billing", "withdraw", "--account", "TEST::3")
    assert result.exit_code == 0, result.output
    assert "withdrew 0.004 ETH" in result.output
    assert billing.creditOf(user) == credit + 6 * 10**15
    assert user.balance == balance + 4 * 10**15 - last_fee(chain)


def test_api_call_pays_one_request_and_refuses_without_credit(
    aoai, protocol, actors, vision, gateway_url, services
):
    url, gateway = gateway_url
    billing, user = protocol.billing, actors.verifier
    billing.deposit(sender=user, value=ETHER // 100)
    image, _ = digits(vision.test, 1, offset=40)
    pixels = ",".join(str(int(p)) for p in image[0])
    held = gateway.accounts.held(user.address)

    result = aoai(
        "api", "call", "--account", "TEST::3", "--gateway", url, "--job", "vision", "--input", pixels
    )
    assert result.exit_code == 0, result.output
    model = load_model(vision.skill, vision.config, vision.trained).eval()
    with torch.no_grad():
        label = int(model(torch.tensor([image[0]]) / 16).argmax())
    assert re.search(rf"label\s*│\s*{label}\s", result.output), result.output
    assert gateway.accounts.held(user.address) == held + PRICE
    redeemed, credit = billing.redeemed(user, actors.gateway), billing.creditOf(user)
    assert gateway.queue.settle().submitted == 1
    assert billing.redeemed(user, actors.gateway) == redeemed + PRICE
    assert billing.creditOf(user) == credit - PRICE

    assert billing.spendableCreditOf(actors.outsider) < PRICE
    call = ["api", "call", "--gateway", url, "--job", "vision", "--input", pixels]
    refused(aoai(*call, "--account", "TEST::9"), "the gateway refused: 402: insufficient credit")
    refused(aoai(*call, "--account", "nobody"), "no account 'nobody'")
    refused(
        aoai("api", "call", "--account", "TEST::3", "--gateway", f"http://127.0.0.1:{free_port()}",
             "--job", "vision", "--input", pixels),
        "cannot reach the gateway",
    )  # fmt: skip
    refused(aoai(*call[:-1], "1,2,3", "--account", "TEST::3"), "expected 64 pixel values, got 3")
    refused(aoai(*call[:-1], "@/no/such/file", "--account", "TEST::3"), "cannot read /no/such/file")
