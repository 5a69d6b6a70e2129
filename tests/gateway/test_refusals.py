"""Requests the gateway must refuse, each with its status and a reason, charging nothing."""

import json
import time

import pytest
from fastapi.testclient import TestClient
from gateway_helpers import PRICE, digits

from agents.billing.request_auth import HEADER_USER, sign_request
from agents.billing.vouchers import billing_domain_of

ETHER = 10**18


@pytest.fixture(scope="module")
def served(protocol, actors, vision, make_gateway):
    protocol.billing.deposit(sender=actors.late_user, value=ETHER // 100)
    gateway, app = make_gateway(burst=30, rate=0.01, max_body_bytes=2048)
    with TestClient(app) as http:
        yield gateway, http


@pytest.fixture(scope="module")
def domain(protocol):
    return billing_domain_of(protocol.billing)


@pytest.fixture
def user(actors):
    return actors.late_user


@pytest.fixture
def sign(served, domain, user, vision):
    """Headers for `body` from `signer`, for the next total the gateway expects from `user`."""
    gateway, _ = served

    def sign(body, signer=None, job_id=vision.job_id, extra=PRICE, **options):
        total = gateway.accounts.held(user.address) + extra
        return {
            **sign_request(
                signer or user, domain, gateway.address, body, job_id.to_bytes(32, "big"), total, **options
            ),
            "Content-Type": "application/json",
        }

    return sign


def body_of(vision, **fields):
    return json.dumps({"pixels": digits(vision.test, 1)[0][0], **fields}).encode()


def post(http, vision, body, headers, route="classify"):
    return http.post(f"/v1/jobs/{vision.job_id}/{route}", content=body, headers=headers)


def refused(response, status, words):
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]


def test_a_good_request_is_served(served, vision, sign):
    body = body_of(vision)
    response = post(served[1], vision, body, sign(body))
    assert response.status_code == 200, response.text
    assert response.json()["generation"] == 1


def test_wrong_signer(served, vision, sign, actors, user):
    body = body_of(vision)
    headers = sign(body, signer=actors.outsider)
    headers[HEADER_USER] = user.address
    refused(post(served[1], vision, body, headers), 401, "signature does not match")


def test_replayed_nonce(served, vision, sign):
    body = body_of(vision)
    headers = sign(body)
    assert post(served[1], vision, body, headers).status_code == 200
    refused(post(served[1], vision, body, headers), 401, "nonce already used")


def test_expired_request(served, vision, sign):
    body = body_of(vision)
    refused(post(served[1], vision, body, sign(body, expiry=int(time.time()) - 1)), 401, "expired")


def test_altered_body(served, vision, sign):
    headers = sign(body_of(vision))
    refused(post(served[1], vision, body_of(vision, generation="latest"), headers), 401, "body hash mismatch")


def test_signed_for_another_job(served, vision, sign):
    body = body_of(vision)
    refused(post(served[1], vision, body, sign(body, job_id=vision.job_id + 1)), 401, "signed for job")


def test_voucher_that_does_not_cover_the_price(served, vision, sign):
    body = body_of(vision)
    refused(post(served[1], vision, body, sign(body, extra=PRICE - 1)), 402, "sign at least")


def test_missing_signature(served, vision):
    refused(
        post(served[1], vision, body_of(vision), {"Content-Type": "application/json"}), 401, "missing header"
    )


def test_oversized_body(served, vision, sign):
    body = json.dumps({"pixels": [0] * 64, "padding": "x" * 4096}).encode()
    refused(post(served[1], vision, body, sign(body)), 413, "larger than 2048 bytes")


def test_malformed_json(served, vision, sign):
    body = b'{"pixels": [1, 2,'
    response = post(served[1], vision, body, sign(body))
    assert response.status_code == 422


def test_out_of_range_input(served, vision, sign):
    body = json.dumps({"pixels": [17] * 64}).encode()
    assert post(served[1], vision, body, sign(body)).status_code == 422


def test_unknown_job(served, vision, sign):
    body = body_of(vision)
    response = served[1].post("/v1/jobs/999/classify", content=body, headers=sign(body))
    refused(response, 404, "no servable job 999")


def test_wrong_route_for_the_skill(served, vision, sign):
    body = json.dumps({"prompt": "Of Mans First"}).encode()
    refused(post(served[1], vision, body, sign(body), route="complete"), 404, "runs vision")


def test_generation_failing_the_hash_check_is_never_served(served, vision, sign):
    _, http = served
    body = body_of(vision, generation=2)
    refused(post(http, vision, body, sign(body)), 409, "do not match the hash recorded on chain")
    assert http.get(f"/v1/jobs/{vision.job_id}").json()["generations"][2]["refused"]


def test_unknown_generation(served, vision, sign):
    body = body_of(vision, generation=7)
    refused(post(served[1], vision, body, sign(body)), 404, "no finalized generation 7")


def test_refusals_charge_nothing(served, vision, sign, user):
    gateway, http = served
    before = gateway.accounts.held(user.address)
    body = body_of(vision, generation=2)
    assert post(http, vision, body, sign(body)).status_code == 409
    assert gateway.accounts.held(user.address) == before


def test_rate_limit(served, vision, sign):
    """The fixture's bucket allows 30 requests at once and refills at 0.01/s: the next ones get 429."""
    statuses = []
    for _ in range(32):
        body = body_of(vision)
        statuses.append(post(served[1], vision, body, sign(body)).status_code)
    assert statuses[-1] == 429
    assert set(statuses) <= {200, 429}


def test_health_and_metrics(served):
    _, http = served
    health = http.get("/health").json()
    assert health["status"] == "ok" and health["jobs"] == 1
    metrics = http.get("/metrics").text
    assert "aoai_gateway_requests_total" in metrics
    assert "aoai_gateway_revenue_signed_wei_total" in metrics
