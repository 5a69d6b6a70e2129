"""Request authentication for the API gateway: every HTTP request carries the user's EIP-712 signature.

A request is signed as the typed struct

    Request(address user,address gateway,uint256 nonce,uint256 expiry,bytes32 bodyHash,bytes32 jobId,
            uint256 cumulativeAmount)

in the Billing contract's domain (`agents.billing.vouchers.billing_domain`), where `bodyHash` is the
keccak-256 of the raw body bytes and `cumulativeAmount` is the total the user authorizes this gateway to
take, this request included. When that amount is non-zero the request also carries the matching voucher
signature (`Voucher(user, gateway, cumulativeAmount)`), which the gateway keeps and redeems on-chain.

Headers (values are decimal integers or 0x-hex):

    X-AOAI-User, X-AOAI-Nonce, X-AOAI-Expiry (unix seconds), X-AOAI-Body-Hash, X-AOAI-Job, X-AOAI-Amount,
    X-AOAI-Signature (65 bytes), X-AOAI-Voucher-Signature (65 bytes, when X-AOAI-Amount > 0)

`RequestVerifier.verify` checks, in order: header syntax, expiry (not past, not further ahead than
`max_ttl`), body hash, request signature, voucher signature, nonce freshness. A nonce is any uint256 (random
is fine: requests may arrive out of order); the verifier remembers every (user, nonce) until its request
expires, so a replay is refused for as long as it could otherwise be accepted. The seen-set lives in
memory, bounded by `max_ttl` and `max_pending_per_user`, and is persisted to SQLite so a restart does not
reopen the replay window.
"""

from __future__ import annotations

import heapq
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.billing.typed_data import (
    Eip712Domain,
    InvalidSignature,
    StructType,
    canonical_address,
    checksum_address,
    keccak,
    recover_signer,
    sign_struct,
)
from agents.billing.vouchers import SignedVoucher, Voucher, sign_voucher

REQUEST_TYPE = StructType(
    "Request",
    (
        ("address", "user"),
        ("address", "gateway"),
        ("uint256", "nonce"),
        ("uint256", "expiry"),
        ("bytes32", "bodyHash"),
        ("bytes32", "jobId"),
        ("uint256", "cumulativeAmount"),
    ),
)

HEADER_USER = "X-AOAI-User"
HEADER_NONCE = "X-AOAI-Nonce"
HEADER_EXPIRY = "X-AOAI-Expiry"
HEADER_BODY_HASH = "X-AOAI-Body-Hash"
HEADER_JOB = "X-AOAI-Job"
HEADER_AMOUNT = "X-AOAI-Amount"
HEADER_SIGNATURE = "X-AOAI-Signature"
HEADER_VOUCHER_SIGNATURE = "X-AOAI-Voucher-Signature"

DEFAULT_TTL = 60
DEFAULT_MAX_TTL = 300
_UINT256_MAX = 2**256 - 1


class AuthError(Exception):
    """The request is not authenticated; `reason` says why, fit for an HTTP 401 body."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RequestClaims:
    """The fields a user signs for one request."""

    user: str
    gateway: str
    nonce: int
    expiry: int
    body_hash: bytes
    job_id: bytes
    cumulative_amount: int

    def values(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "gateway": self.gateway,
            "nonce": self.nonce,
            "expiry": self.expiry,
            "bodyHash": self.body_hash,
            "jobId": self.job_id,
            "cumulativeAmount": self.cumulative_amount,
        }

    def digest(self, domain: Eip712Domain) -> bytes:
        return domain.digest(REQUEST_TYPE.hash(self.values()))

    def typed_data(self, domain: Eip712Domain) -> dict[str, Any]:
        return REQUEST_TYPE.typed_data(domain, self.values())


@dataclass(frozen=True)
class AuthenticatedRequest:
    """A request whose signature, expiry, body and nonce were checked."""

    user: str
    nonce: int
    expiry: int
    job_id: bytes
    cumulative_amount: int
    voucher: SignedVoucher | None
    """The voucher for `cumulative_amount`, checked; None when the amount is 0."""


def sign_request(
    signer: Any,
    domain: Eip712Domain,
    gateway: str,
    body: bytes,
    job_id: bytes,
    cumulative_amount: int,
    *,
    voucher: SignedVoucher | None = None,
    nonce: int | None = None,
    expiry: int | None = None,
    ttl: int = DEFAULT_TTL,
) -> dict[str, str]:
    """The headers that authenticate `body` as a request from `signer` (ape account or LocalAccount).

    `voucher` is the signed voucher for `cumulative_amount` (signed here if not given and the amount is
    non-zero). `nonce` defaults to 128 random bits, `expiry` to now + `ttl`.
    """
    claims = RequestClaims(
        user=checksum_address(signer.address),
        gateway=checksum_address(gateway),
        nonce=secrets.randbits(128) if nonce is None else nonce,
        expiry=int(time.time()) + ttl if expiry is None else expiry,
        body_hash=keccak(body),
        job_id=job_id,
        cumulative_amount=cumulative_amount,
    )
    signature = sign_struct(signer, domain, REQUEST_TYPE, claims.values())
    headers = {
        HEADER_USER: claims.user,
        HEADER_NONCE: str(claims.nonce),
        HEADER_EXPIRY: str(claims.expiry),
        HEADER_BODY_HASH: "0x" + claims.body_hash.hex(),
        HEADER_JOB: "0x" + job_id.hex(),
        HEADER_AMOUNT: str(cumulative_amount),
        HEADER_SIGNATURE: "0x" + signature.hex(),
    }
    if cumulative_amount:
        if voucher is None:
            voucher = sign_voucher(signer, domain, claims.gateway, cumulative_amount)
        expected = Voucher(claims.user, claims.gateway, cumulative_amount)
        if voucher.voucher != expected:
            raise ValueError(f"voucher {voucher.voucher} does not match the request's {expected}")
        headers[HEADER_VOUCHER_SIGNATURE] = "0x" + voucher.signature.hex()
    return headers


class NonceStore:
    """The (user, nonce) pairs seen, each kept until its request's expiry.

    In memory for speed; with `path`, also in a SQLite file (WAL, synchronous=NORMAL: a write survives a
    crash of the process; only an OS crash can lose the last moments) that is reloaded on start.
    Thread-safe.
    """

    def __init__(self, path: Path | None = None, *, max_pending_per_user: int = 10_000) -> None:
        self._max_pending_per_user = max_pending_per_user
        self._lock = threading.Lock()
        self._seen: dict[tuple[bytes, int], int] = {}
        self._expiries: list[tuple[int, bytes, int]] = []
        self._pending: dict[bytes, int] = {}
        self._db: sqlite3.Connection | None = None
        self._next_db_prune = 0.0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS nonces (user BLOB NOT NULL, nonce BLOB NOT NULL,"
                " expiry INTEGER NOT NULL, PRIMARY KEY (user, nonce)) WITHOUT ROWID"
            )
            # Expired rows are dropped at the first claim, against the verifier's clock.
            for user, nonce, expiry in self._db.execute("SELECT user, nonce, expiry FROM nonces"):
                self._remember(bytes(user), int.from_bytes(nonce, "big"), expiry)

    def __len__(self) -> int:
        return len(self._seen)

    def claim(self, user: bytes, nonce: int, expiry: int, now: float) -> str | None:
        """Records (user, nonce) until `expiry`; returns None, or why the nonce cannot be used."""
        with self._lock:
            self._prune(now)
            if (user, nonce) in self._seen:
                return "nonce already used"
            if self._pending.get(user, 0) >= self._max_pending_per_user:
                return f"too many unexpired requests for this address (at most {self._max_pending_per_user})"
            self._remember(user, nonce, expiry)
            if self._db is not None:
                # REPLACE: the row of an expired request with the same nonce may still await the periodic
                # DELETE in _prune.
                self._db.execute(
                    "INSERT OR REPLACE INTO nonces VALUES (?, ?, ?)",
                    (user, nonce.to_bytes(32, "big"), expiry),
                )
            return None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _remember(self, user: bytes, nonce: int, expiry: int) -> None:
        self._seen[(user, nonce)] = expiry
        self._pending[user] = self._pending.get(user, 0) + 1
        heapq.heappush(self._expiries, (expiry, user, nonce))

    def _prune(self, now: float) -> None:
        """Forgets the nonces of expired requests: replaying those fails the expiry check anyway."""
        while self._expiries and self._expiries[0][0] <= now:
            _, user, nonce = heapq.heappop(self._expiries)
            del self._seen[(user, nonce)]
            left = self._pending[user] - 1
            if left:
                self._pending[user] = left
            else:
                del self._pending[user]
        if self._db is not None and now >= self._next_db_prune:
            self._db.execute("DELETE FROM nonces WHERE expiry <= ?", (int(now),))
            self._next_db_prune = now + 60


class RequestVerifier:
    """Authenticates requests for one gateway; see the module documentation for the scheme.

    `verify` raises AuthError with the reason, or returns the authenticated request with its checked
    voucher. It does not price requests: the gateway checks that `cumulative_amount` grew by at least the
    request's price since the last voucher it holds for the user.
    """

    def __init__(
        self,
        domain: Eip712Domain,
        gateway: str,
        nonces: NonceStore | None = None,
        *,
        max_ttl: int = DEFAULT_MAX_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._domain = domain
        self._gateway = checksum_address(gateway)
        self._nonces = nonces if nonces is not None else NonceStore()
        self._max_ttl = max_ttl
        self._clock = clock

    @property
    def gateway(self) -> str:
        return self._gateway

    def verify(self, headers: Mapping[str, str], body: bytes) -> AuthenticatedRequest:
        fields = _lowercase(headers)
        user = _address(fields, HEADER_USER)
        nonce = _uint(fields, HEADER_NONCE)
        expiry = _uint(fields, HEADER_EXPIRY)
        body_hash = _bytes(fields, HEADER_BODY_HASH, 32)
        job_id = _bytes(fields, HEADER_JOB, 32)
        amount = _uint(fields, HEADER_AMOUNT)
        signature = _bytes(fields, HEADER_SIGNATURE, 65)

        now = self._clock()
        if expiry <= now:
            raise AuthError(f"request expired at {expiry}, it is now {int(now)}")
        if expiry > now + self._max_ttl:
            raise AuthError(f"expiry {expiry} is more than {self._max_ttl} s ahead")
        if keccak(body) != body_hash:
            raise AuthError("body hash mismatch: the body is not the one that was signed")

        claims = RequestClaims(user, self._gateway, nonce, expiry, body_hash, job_id, amount)
        try:
            signer = recover_signer(claims.digest(self._domain), signature)
        except InvalidSignature as exc:
            raise AuthError(f"invalid signature: {exc}") from exc
        if signer != user:
            raise AuthError(
                f"signature does not match {user}: wrong key, altered header, or signed for another gateway"
            )

        voucher = self._check_voucher(fields, user, amount) if amount else None

        refused = self._nonces.claim(canonical_address(user), nonce, expiry, now)
        if refused is not None:
            raise AuthError(refused)
        return AuthenticatedRequest(user, nonce, expiry, job_id, amount, voucher)

    def _check_voucher(self, fields: Mapping[str, str], user: str, amount: int) -> SignedVoucher:
        signed = SignedVoucher(
            Voucher(user, self._gateway, amount), _bytes(fields, HEADER_VOUCHER_SIGNATURE, 65)
        )
        try:
            signer = signed.signer(self._domain)
        except InvalidSignature as exc:
            raise AuthError(f"invalid voucher signature: {exc}") from exc
        if signer != user:
            raise AuthError(f"voucher signature does not match {user} for {amount} wei to this gateway")
        return signed


def _lowercase(headers: Mapping[str, str]) -> Mapping[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _field(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name.lower())
    if value is None:
        raise AuthError(f"missing header {name}")
    return value.strip()


def _uint(fields: Mapping[str, str], name: str) -> int:
    raw = _field(fields, name)
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 78:
        raise AuthError(f"malformed {name}: expected a decimal integer")
    value = int(raw)
    if value > _UINT256_MAX:
        raise AuthError(f"malformed {name}: above 2**256 - 1")
    return value


def _bytes(fields: Mapping[str, str], name: str, size: int) -> bytes:
    raw = _field(fields, name)
    try:
        if not raw.startswith(("0x", "0X")):
            raise ValueError
        value = bytes.fromhex(raw[2:])
    except ValueError:
        raise AuthError(f"malformed {name}: expected 0x-prefixed hex") from None
    if len(value) != size:
        raise AuthError(f"malformed {name}: expected {size} bytes, got {len(value)}")
    return value


def _address(fields: Mapping[str, str], name: str) -> str:
    raw = _field(fields, name)
    try:
        return checksum_address(raw)
    except (ValueError, TypeError):
        raise AuthError(f"malformed {name}: expected an address") from None
