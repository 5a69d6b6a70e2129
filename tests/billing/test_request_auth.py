"""Request authentication: the gateway accepts exactly the requests their users signed, once, in time."""

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_hash.auto import keccak

from agents.billing.request_auth import (
    HEADER_AMOUNT,
    HEADER_BODY_HASH,
    HEADER_EXPIRY,
    HEADER_JOB,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_USER,
    HEADER_VOUCHER_SIGNATURE,
    AuthError,
    NonceStore,
    RequestClaims,
    RequestVerifier,
    sign_request,
)
from agents.billing.vouchers import billing_domain, sign_voucher

NOW = 1_800_000_000
BODY = b'{"prompt": "Of Man\'s first disobedience", "max_tokens": 64}'
JOB = keccak(b"job-1")
GATEWAY = "0x00000000000000000000000000000000000000AA"
DOMAIN = billing_domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")


@pytest.fixture(scope="module")
def alice():
    return Account.from_key(keccak(b"alice"))


@pytest.fixture(scope="module")
def mallory():
    return Account.from_key(keccak(b"mallory"))


@pytest.fixture
def clock():
    now = [float(NOW)]
    clock = lambda: now[0]  # noqa: E731
    clock.now = now
    return clock


@pytest.fixture
def verifier(clock):
    return RequestVerifier(DOMAIN, GATEWAY, NonceStore(), max_ttl=300, clock=clock)


def headers_for(signer, amount=10**15, body=BODY, **kwargs):
    kwargs.setdefault("expiry", NOW + 60)
    return sign_request(signer, DOMAIN, GATEWAY, body, JOB, amount, **kwargs)


def refusal(verifier, headers, body=BODY):
    with pytest.raises(AuthError) as raised:
        verifier.verify(headers, body)
    return raised.value.reason


def test_valid_request_is_accepted_with_its_voucher(verifier, alice):
    headers = headers_for(alice, amount=123, nonce=7)
    request = verifier.verify(headers, BODY)
    assert (request.user, request.nonce, request.expiry) == (alice.address, 7, NOW + 60)
    assert (request.job_id, request.cumulative_amount) == (JOB, 123)
    assert request.voucher is not None
    assert request.voucher.voucher.as_tuple() == (alice.address, GATEWAY, 123)
    assert request.voucher.is_valid(DOMAIN)


def test_request_digest_is_standard_eip712(alice):
    claims = RequestClaims(alice.address, GATEWAY, 1, NOW, keccak(BODY), JOB, 5)
    standard = encode_typed_data(full_message=claims.typed_data(DOMAIN))
    assert claims.digest(DOMAIN) == keccak(b"\x19" + standard.version + standard.header + standard.body)


def test_free_request_needs_no_voucher(verifier, alice):
    headers = headers_for(alice, amount=0)
    assert HEADER_VOUCHER_SIGNATURE not in headers
    assert verifier.verify(headers, BODY).voucher is None


def test_headers_are_case_insensitive(verifier, alice):
    headers = {key.lower(): value for key, value in headers_for(alice).items()}
    assert verifier.verify(headers, BODY).user == alice.address


def test_signed_by_someone_else_is_refused(verifier, alice, mallory):
    forged = headers_for(mallory)
    forged[HEADER_USER] = alice.address
    assert refusal(verifier, forged).startswith(f"signature does not match {alice.address}")


def test_malformed_signatures_are_refused(verifier, alice):
    headers = headers_for(alice)
    signature = bytes.fromhex(headers[HEADER_SIGNATURE][2:])
    for bad, reason in [
        ("0x" + signature[:64].hex(), "malformed X-AOAI-Signature: expected 65 bytes, got 64"),
        (signature.hex(), "malformed X-AOAI-Signature: expected 0x-prefixed hex"),
        ("0x" + signature[:64].hex() + "1d", "invalid signature: signature v must be 27 or 28, got 29"),
        ("0x" + signature[:64].hex() + "00", "invalid signature: signature v must be 27 or 28, got 0"),
        (
            "0x" + "00" * 64 + "1b",
            "invalid signature: signature r or s out of range (high-s signatures are malleable)",
        ),
    ]:
        assert refusal(verifier, {**headers, HEADER_SIGNATURE: bad}) == reason


def test_replayed_nonce_is_refused(verifier, alice):
    headers = headers_for(alice, nonce=42)
    verifier.verify(headers, BODY)
    assert refusal(verifier, headers) == "nonce already used"
    # A new request with the same nonce is a replay too, whatever else changed.
    assert refusal(verifier, headers_for(alice, nonce=42, amount=2 * 10**15)) == "nonce already used"


def test_nonces_may_arrive_out_of_order(verifier, alice):
    for nonce in (5, 3, 9, 4):
        assert verifier.verify(headers_for(alice, nonce=nonce), BODY).nonce == nonce


def test_expired_request_is_refused(verifier, alice, clock):
    headers = headers_for(alice, expiry=NOW + 60)
    clock.now[0] = NOW + 60
    assert refusal(verifier, headers) == f"request expired at {NOW + 60}, it is now {NOW + 60}"


def test_expiry_too_far_ahead_is_refused(verifier, alice):
    assert (
        refusal(verifier, headers_for(alice, expiry=NOW + 301))
        == f"expiry {NOW + 301} is more than 300 s ahead"
    )
    assert verifier.verify(headers_for(alice, expiry=NOW + 300), BODY)


def test_tampered_body_is_refused(verifier, alice):
    headers = headers_for(alice)
    tampered = BODY.replace(b"64", b"4096")
    assert (
        refusal(verifier, headers, tampered) == "body hash mismatch: the body is not the one that was signed"
    )
    # Swapping the body hash header too breaks the signature.
    swapped = {**headers, HEADER_BODY_HASH: "0x" + keccak(tampered).hex()}
    assert refusal(verifier, swapped, tampered).startswith("signature does not match")


@pytest.mark.parametrize(
    ("header", "value"),
    [(HEADER_AMOUNT, "1"), (HEADER_JOB, "0x" + keccak(b"job-2").hex()), (HEADER_EXPIRY, str(NOW + 61))],
)
def test_tampered_fields_are_refused(verifier, alice, header, value):
    headers = {**headers_for(alice), header: value}
    assert refusal(verifier, headers).startswith("signature does not match")


def test_request_for_another_gateway_is_refused(clock, alice):
    other = RequestVerifier(DOMAIN, "0x00000000000000000000000000000000000000bb", clock=clock)
    assert refusal(other, headers_for(alice)).startswith("signature does not match")


def test_voucher_must_match_the_amount(verifier, alice):
    headers = headers_for(alice, amount=100)
    other_amount = sign_voucher(alice, DOMAIN, GATEWAY, 99)
    headers[HEADER_VOUCHER_SIGNATURE] = "0x" + other_amount.signature.hex()
    assert (
        refusal(verifier, headers)
        == f"voucher signature does not match {alice.address} for 100 wei to this gateway"
    )
    del headers[HEADER_VOUCHER_SIGNATURE]
    assert refusal(verifier, headers) == "missing header X-AOAI-Voucher-Signature"


def test_refused_request_does_not_burn_its_nonce(verifier, alice):
    headers = headers_for(alice, nonce=11)
    refusal(verifier, headers, b"other body")
    assert verifier.verify(headers, BODY).nonce == 11


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        (HEADER_NONCE, "-1", "malformed X-AOAI-Nonce: expected a decimal integer"),
        (HEADER_NONCE, "٣", "malformed X-AOAI-Nonce: expected a decimal integer"),
        (HEADER_NONCE, str(2**256), "malformed X-AOAI-Nonce: above 2**256 - 1"),
        (HEADER_USER, "alice", "malformed X-AOAI-User: expected an address"),
        (HEADER_JOB, "0x1234", "malformed X-AOAI-Job: expected 32 bytes, got 2"),
    ],
)
def test_malformed_headers_are_refused(verifier, alice, header, value, reason):
    assert refusal(verifier, {**headers_for(alice), header: value}) == reason


def test_missing_header_is_refused(verifier, alice):
    headers = headers_for(alice)
    del headers[HEADER_NONCE]
    assert refusal(verifier, headers) == "missing header X-AOAI-Nonce"


def test_nonces_survive_a_restart(tmp_path, clock, alice):
    path = tmp_path / "nonces.sqlite"
    headers = headers_for(alice, nonce=1)
    first = NonceStore(path)
    RequestVerifier(DOMAIN, GATEWAY, first, clock=clock).verify(headers, BODY)
    first.close()
    restarted = NonceStore(path)
    assert len(restarted) == 1
    assert refusal(RequestVerifier(DOMAIN, GATEWAY, restarted, clock=clock), headers) == "nonce already used"


def test_expired_nonces_are_forgotten(clock, alice):
    store = NonceStore()
    verifier = RequestVerifier(DOMAIN, GATEWAY, store, clock=clock)
    for nonce in range(3):
        verifier.verify(headers_for(alice, nonce=nonce, expiry=NOW + 10), BODY)
    verifier.verify(headers_for(alice, nonce=3, expiry=NOW + 100), BODY)
    assert len(store) == 4
    clock.now[0] = NOW + 10
    verifier.verify(headers_for(alice, nonce=4, expiry=NOW + 100), BODY)
    assert len(store) == 2


def test_nonce_of_an_expired_request_can_be_used_again(tmp_path, clock, alice):
    verifier = RequestVerifier(DOMAIN, GATEWAY, NonceStore(tmp_path / "nonces.sqlite"), clock=clock)
    verifier.verify(headers_for(alice, nonce=8, expiry=NOW + 10), BODY)
    clock.now[0] = NOW + 10
    again = headers_for(alice, nonce=8, expiry=NOW + 20)
    assert verifier.verify(again, BODY).expiry == NOW + 20
    assert refusal(verifier, again) == "nonce already used"


def test_unexpired_nonces_per_address_are_bounded(clock, alice, mallory):
    verifier = RequestVerifier(DOMAIN, GATEWAY, NonceStore(max_pending_per_user=2), clock=clock)
    for nonce in range(2):
        verifier.verify(headers_for(alice, nonce=nonce), BODY)
    reason = refusal(verifier, headers_for(alice, nonce=2))
    assert reason == "too many unexpired requests for this address (at most 2)"
    assert verifier.verify(headers_for(mallory, nonce=2), BODY)


def test_ape_account_signs_requests(accounts, verifier, clock):
    user = accounts[6]
    request = verifier.verify(headers_for(user, amount=77), BODY)
    assert request.user == user.address
    assert request.voucher.voucher.cumulative_amount == 77


def test_recovery_runs_on_libsecp256k1():
    """The gateway verifies every request's signature: it must use coincurve (libsecp256k1, pinned),
    not eth-keys' pure-Python fallback; the time it takes is measured in bench/gateway.py."""
    from agents.billing import typed_data

    assert typed_data._recover_public_key is typed_data._recover_with_coincurve
