"""A paying caller of a gateway: signs each request and its cumulative voucher with an ape account.

    client = GatewayClient.connect("http://127.0.0.1:8000", account, billing=billing_contract)
    client.classify("vision", pixels)        # or client.complete("language", "Of Mans First", 40)

The client keeps the running total it authorized to the gateway. It starts from the larger of its ledger
file (if given: totals survive between processes, like `aoai api call` runs) and what the chain says the
gateway redeemed; it never adopts a total the gateway claims, since that would let a dishonest gateway
inflate the next voucher. With `billing` it also checks that the gateway's EIP-712 domain is that
contract's, on that chain.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

import httpx
from eth_utils import to_checksum_address

from agents.billing.request_auth import DEFAULT_TTL, sign_request
from agents.billing.typed_data import Eip712Domain
from agents.billing.vouchers import SignedVoucher, billing_domain_of, sign_voucher

# httpx writes the headers and the body of a request separately; without TCP_NODELAY the body waits for
# the server's delayed ACK (about 40 ms on Linux loopback).
NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def http_client(base_url: str, timeout: float = 60.0) -> httpx.Client:
    return httpx.Client(
        base_url=base_url, timeout=timeout, transport=httpx.HTTPTransport(socket_options=NO_DELAY)
    )


class GatewayError(RuntimeError):
    """The gateway refused a request (`status`, `detail`), or does not match what the caller expects."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}" if status else detail)
        self.status = status
        self.detail = detail


class Ledger:
    """Totals authorized per (chain, Billing, gateway, user), in a JSON file written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self, key: str) -> int:
        if not self.path.exists():
            return 0
        return int(json.loads(self.path.read_text()).get(key, 0))

    def set(self, key: str, total: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entries = json.loads(self.path.read_text()) if self.path.exists() else {}
        entries[key] = max(total, int(entries.get(key, 0)))
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".ledger-")
        with os.fdopen(fd, "w") as handle:
            json.dump(entries, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)


class GatewayClient:
    def __init__(
        self,
        base_url: str,
        account: Any,
        *,
        domain: Eip712Domain,
        gateway: str,
        cumulative_amount: int = 0,
        ledger: Ledger | None = None,
        max_price: int | None = None,
        http: httpx.Client | None = None,
        ttl: int = DEFAULT_TTL,
    ) -> None:
        self._account = account
        self._domain = domain
        self._gateway = to_checksum_address(gateway)
        self._total = cumulative_amount
        self._ledger = ledger
        self._max_price = max_price
        self._http = http or http_client(base_url)
        self._ttl = ttl
        self._jobs: dict[str, dict[str, Any]] = {}
        self._voucher: SignedVoucher | None = None
        self._lock = threading.Lock()

    @classmethod
    def connect(
        cls,
        base_url: str,
        account: Any,
        *,
        billing: Any = None,
        ledger: Ledger | None = None,
        http: httpx.Client | None = None,
        **options: Any,
    ) -> GatewayClient:
        """A client for the gateway at `base_url`, its domain read from the gateway and, with `billing` (an
        ape contract instance), checked against the chain."""
        http = http or http_client(base_url)
        info = _json(http.get("/v1/gateway"))
        domain = Eip712Domain(info["domain_name"], info["domain_version"], info["chain_id"], info["billing"])
        gateway = to_checksum_address(info["gateway"])
        redeemed = 0
        if billing is not None:
            expected = billing_domain_of(billing)
            if expected != domain:
                raise GatewayError(
                    0, f"the gateway signs for {domain}, but the chain's Billing is {expected}"
                )
            redeemed = int(billing.redeemed(account.address, gateway))
        start = max(redeemed, ledger.get(_ledger_key(domain, gateway, account.address)) if ledger else 0)
        return cls(
            base_url,
            account,
            domain=domain,
            gateway=gateway,
            cumulative_amount=start,
            ledger=ledger,
            http=http,
            **options,
        )

    @property
    def cumulative_amount(self) -> int:
        return self._total

    @property
    def gateway(self) -> str:
        return self._gateway

    def jobs(self) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = _json(self._http.get("/v1/jobs"))
        return jobs

    def job(self, key: str | int) -> dict[str, Any]:
        key = str(key)
        if key not in self._jobs:
            self._jobs[key] = _json(self._http.get(f"/v1/jobs/{key}"))
        return self._jobs[key]

    def classify(self, job: str | int, pixels: list[float], generation: str | int = "best") -> dict[str, Any]:
        return self.call(job, {"pixels": pixels, "generation": generation})

    def complete(
        self,
        job: str | int,
        prompt: str,
        max_new_tokens: int = 64,
        *,
        temperature: float = 0.0,
        seed: int = 0,
        generation: str | int = "best",
    ) -> dict[str, Any]:
        payload = {
            "prompt": prompt,
            "max_new_tokens": max_new_tokens,
            "temperature": temperature,
            "seed": seed,
            "generation": generation,
        }
        return self.call(job, payload)

    def call(self, job: str | int, payload: dict[str, Any]) -> dict[str, Any]:
        """Signs `payload` for `job`'s route, paying the job's price, and returns the gateway's answer."""
        info = self.job(job)
        price = int(info["price"])
        if self._max_price is not None and price > self._max_price:
            raise GatewayError(
                0, f"job {info['job']} costs {price} wei, above the limit of {self._max_price}"
            )
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = self.authorize(body, int(info["job"]), price)
        response = self._http.post(info["route"], content=body, headers=headers)
        if 400 <= response.status_code < 500 and price:
            # Refused before any charge: the next request may reuse this total. (The ledger keeps the
            # largest total signed, which a restarted client safely resumes from.)
            with self._lock:
                if self._total == int(headers["X-AOAI-Amount"]):
                    self._total -= price
        result: dict[str, Any] = _json(response)
        return result

    def authorize(self, body: bytes, job_id: int, price: int) -> dict[str, str]:
        """Headers authorizing `body` for `job_id`, raising the running total by `price` (recorded in the
        ledger before the request leaves)."""
        with self._lock:
            total = self._total + price
            if total and (self._voucher is None or self._voucher.voucher.cumulative_amount != total):
                self._voucher = sign_voucher(self._account, self._domain, self._gateway, total)
            if self._ledger is not None:
                self._ledger.set(_ledger_key(self._domain, self._gateway, self._account.address), total)
            headers = sign_request(
                self._account,
                self._domain,
                self._gateway,
                body,
                job_id.to_bytes(32, "big"),
                total,
                voucher=self._voucher if total else None,
                ttl=self._ttl,
            )
            self._total = total
        headers["Content-Type"] = "application/json"
        return headers

    def close(self) -> None:
        self._http.close()


def _ledger_key(domain: Eip712Domain, gateway: str, user: str) -> str:
    return f"{domain.chain_id}:{domain.verifying_contract}:{gateway}:{to_checksum_address(user)}"


def _json(response: httpx.Response) -> Any:
    try:
        content = response.json()
    except ValueError:
        content = None
    if response.status_code >= 400:
        detail = content.get("detail") if isinstance(content, dict) else response.text
        raise GatewayError(response.status_code, str(detail))
    return content
