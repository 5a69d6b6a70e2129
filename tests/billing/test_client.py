"""The client, the request verifier and the settlement queue together: from a paid request to dividends."""

from eth_hash.auto import keccak

from agents.billing.client import BillingClient
from agents.billing.request_auth import HEADER_AMOUNT, HEADER_VOUCHER_SIGNATURE, NonceStore, RequestVerifier
from agents.billing.settlement import ApeRedeemer, SettlementQueue

ETHER = 10**18
JOB = keccak(b"paradise-lost-lm")
PRICE = 10**15


def test_paid_requests_end_as_dividends(tmp_path, billing, token, with_holder, domain, user, gateway):
    client = BillingClient(billing, user, gateway.address)
    assert client.cumulative_amount == 0
    client.deposit(ETHER)
    assert client.credit() == ETHER

    verifier = RequestVerifier(domain, gateway.address, NonceStore(tmp_path / "nonces.sqlite"))
    queue = SettlementQueue(tmp_path / "journal", domain, ApeRedeemer(billing, gateway))
    for i in range(5):
        body = f'{{"prompt": "request {i}"}}'.encode()
        request = verifier.verify(client.authorize(body, JOB, PRICE), body)
        assert request.cumulative_amount == (i + 1) * PRICE
        queue.record(request.voucher)
    report = queue.close()

    assert report.submitted == 1
    assert billing.redeemed(user, gateway) == 5 * PRICE
    assert client.credit() == ETHER - 5 * PRICE
    assert token.totalDividendsDeposited() == 5 * PRICE
    assert 5 * PRICE - 1 <= token.withdrawableDividendsOf(with_holder) <= 5 * PRICE


def test_free_request_repeats_the_total(billing, domain, user, gateway):
    client = BillingClient(billing, user, gateway.address, cumulative_amount=7)
    paid = client.authorize(b"a", JOB, 3)
    free = client.authorize(b"b", JOB, 0)
    assert paid[HEADER_AMOUNT] == free[HEADER_AMOUNT] == "10"
    assert paid[HEADER_VOUCHER_SIGNATURE] == free[HEADER_VOUCHER_SIGNATURE]
    assert client.cumulative_amount == 10


def test_client_resumes_from_the_chain(billing, with_holder, user, gateway):
    client = BillingClient(billing, user, gateway.address)
    client.deposit(ETHER)
    voucher = client.voucher(3 * PRICE)
    billing.redeem(voucher.voucher.as_tuple(), voucher.signature, sender=gateway)
    assert BillingClient(billing, user, gateway.address).cumulative_amount == 3 * PRICE


def test_withdrawal_through_the_client(billing, chain, user, gateway):
    client = BillingClient(billing, user, gateway.address)
    client.deposit(ETHER)
    client.request_withdrawal(ETHER // 4)
    assert client.spendable_credit() == ETHER - ETHER // 4
    chain.mine(deltatime=billing.noticePeriod())
    client.withdraw()
    assert client.credit() == ETHER - ETHER // 4
