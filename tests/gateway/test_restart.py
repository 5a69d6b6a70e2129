"""A gateway process killed after serving paid requests loses none of the revenue they signed: the next
process resumes from its voucher journal, refuses replays of the old totals, and settles everything."""

import os
from pathlib import Path

from gateway_helpers import PRICE, digits

from agents.gateway.client import GatewayClient, GatewayError, Ledger
from agents.gateway.process import GatewayProcess

ETHER = 10**18


def test_a_killed_gateway_loses_no_signed_revenue(tmp_path, services, protocol, actors, vision, aoai_home):
    billing, gateway_account, user = protocol.billing, actors.gateway, actors.users[1]
    billing.deposit(sender=user, value=ETHER // 100)
    before = billing.redeemed(user, gateway_account)
    ledger = Ledger(tmp_path / "ledger.json")
    images, _ = digits(vision.test, 4, offset=20)
    data_dir = tmp_path / "journal"
    assert (Path(os.environ["AOAI_HOME"]) / "deployments").exists()

    def gateway_process(name):
        return GatewayProcess(
            tmp_path / name,
            rpc=services.anvil.url,
            ipfs_api=services.ipfs.api_multiaddr,
            account="TEST::7",
            data_dir=data_dir,
            options=["--price", str(PRICE), "--settle-every", "1000", "--settle-interval", "3600"],
        )

    first = gateway_process("first")
    try:
        first.start()
        client = GatewayClient.connect(first.url, user, billing=billing, ledger=ledger)
        for image in images[:3]:
            assert client.classify("vision", image)["generation"] == 1
        first.kill()
    finally:
        first.stop()
    assert billing.redeemed(user, gateway_account) == before, "nothing was settled before the kill"

    second = gateway_process("second")
    try:
        second.start()
        # A client that forgot its total is refused: the new process holds the old vouchers.
        forgetful = GatewayClient.connect(second.url, user, billing=billing)
        try:
            forgetful.classify("vision", images[3])
        except GatewayError as error:
            assert error.status == 402 and f"already holds {before + 3 * PRICE} wei" in error.detail
        else:
            raise AssertionError("the restarted gateway accepted a voucher below what it holds")
        client = GatewayClient.connect(second.url, user, billing=billing, ledger=ledger)
        assert client.cumulative_amount == before + 3 * PRICE
        client.classify("vision", images[3])
    finally:
        second.stop(timeout=120)  # SIGTERM: uvicorn shuts down, the gateway settles
    assert billing.redeemed(user, gateway_account) == before + 4 * PRICE
