"""End to end: a model trained and finalized through the real contracts is served; two users pay for
requests; the gateway settles; the three AOAI holders claim exactly their share of the revenue."""

import ape
import torch
from fastapi.testclient import TestClient
from gateway_helpers import PRICE, digits

from agents.billing.vouchers import Voucher, billing_domain_of, sign_voucher
from agents.gateway.client import GatewayClient, GatewayError
from agents.learning.skills.registry import load_model

ETHER = 10**18
DUST_WEI = 1  # AOAIToken: at most 1 wei below the exact share per holder and deposit


def test_paid_requests_become_holders_dividends(protocol, actors, vision, holders, make_gateway, chain):
    token, billing, gateway_account = protocol.token, protocol.billing, actors.gateway
    requests = {actors.users[0]: 4, actors.users[1]: 3}
    for user in requests:
        billing.deposit(sender=user, value=ETHER // 100)
    redeemed_before = {u: billing.redeemed(u, gateway_account) for u in requests}
    withdrawable_before = {h: token.withdrawableDividendsOf(h) for h in holders}
    deposited_before = token.totalDividendsDeposited()

    reference = load_model(vision.skill, vision.config, vision.trained).eval()
    images, labels = digits(vision.test, 7)
    _, app = make_gateway(settle_every=1000)
    correct = 0
    with TestClient(app) as http:
        catalogue = http.get(f"/v1/jobs/{vision.job_id}").json()
        assert catalogue["best"] == 1, "generation 2 fails its hash check, so generation 1 is the best"
        assert catalogue["generations"][2]["refused"]
        served = 0
        for user, count in requests.items():
            client = GatewayClient.connect("http://testserver", user, billing=billing, http=http)
            for _ in range(count):
                image, label = images[served], labels[served]
                answer = client.classify("vision", image)
                assert answer["generation"] == 1 and answer["cid"] == vision.trained_cid
                with torch.no_grad():
                    expected = int(reference(torch.tensor([image]) / 16).argmax())
                assert answer["label"] == expected
                correct += answer["label"] == label
                served += 1
            assert client.cumulative_amount == redeemed_before[user] + count * PRICE
        assert billing.redeemed(actors.users[0], gateway_account) == redeemed_before[actors.users[0]]
    # Leaving the client shuts the gateway down, which settles.
    assert correct >= 6

    revenue = 0
    for user, count in requests.items():
        assert billing.redeemed(user, gateway_account) == redeemed_before[user] + count * PRICE
        revenue += count * PRICE
    assert token.totalDividendsDeposited() - deposited_before == revenue

    supply = token.totalSupply()
    for holder in holders:
        exact = revenue * token.balanceOf(holder) // supply
        gained = token.withdrawableDividendsOf(holder) - withdrawable_before[holder]
        assert exact - DUST_WEI <= gained <= exact
        owed = token.withdrawableDividendsOf(holder)
        balance = holder.balance
        receipt = token.claimDividends(sender=holder)
        assert holder.balance == balance + owed - receipt.total_fees_paid
        assert token.withdrawableDividendsOf(holder) == 0


def test_the_gateway_cannot_redeem_more_than_was_signed(protocol, actors, vision, make_gateway):
    billing, gateway_account, user = protocol.billing, actors.gateway, actors.users[0]
    billing.deposit(sender=user, value=ETHER // 100)
    gateway, app = make_gateway()
    with TestClient(app) as http:
        client = GatewayClient.connect("http://testserver", user, billing=billing, http=http)
        images, _ = digits(vision.test, 2, offset=10)
        for image in images:
            client.classify(vision.job_id, image)
        signed = client.cumulative_amount
        # The latest voucher the gateway holds is the most it can take.
        latest = gateway.queue.journal.latest(user.address)
        assert latest.voucher.cumulative_amount == signed
    assert billing.redeemed(user, gateway_account) == signed

    # Raising the amount of the user's voucher breaks its signature...
    inflated = Voucher(user.address, gateway_account.address, signed + PRICE)
    with ape.reverts(billing.BillingInvalidSignature):
        billing.redeem(inflated.as_tuple(), latest.signature, sender=gateway_account)
    # ...a voucher the gateway signs itself is not the user's...
    own = sign_voucher(gateway_account, billing_domain_of(billing), gateway_account.address, signed + PRICE)
    with ape.reverts(billing.BillingInvalidSignature):
        billing.redeem(inflated.as_tuple(), own.signature, sender=gateway_account)
    # ...and redeeming the real one again pays nothing.
    credit = billing.creditOf(user)
    billing.redeem(latest.voucher.as_tuple(), latest.signature, sender=gateway_account)
    assert billing.redeemed(user, gateway_account) == signed
    assert billing.creditOf(user) == credit


def test_a_request_beyond_the_credit_is_refused(protocol, actors, vision, make_gateway):
    billing, user = protocol.billing, actors.outsider
    _, app = make_gateway()
    image = digits(vision.test, 1)[0][0]
    with TestClient(app) as http:
        client = GatewayClient.connect("http://testserver", user, billing=billing, http=http)
        spendable = billing.spendableCreditOf(user)
        assert spendable < PRICE
        try:
            client.classify(vision.job_id, image)
        except GatewayError as error:
            assert error.status == 402 and "insufficient credit" in error.detail
        else:
            raise AssertionError("served without credit")
        billing.deposit(sender=user, value=PRICE)
        assert client.classify(vision.job_id, image)["price"] == str(PRICE)
