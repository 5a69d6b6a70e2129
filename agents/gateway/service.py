"""The gateway's logic without HTTP: find the model, authenticate, price, charge, infer, settle."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from agents.billing.request_auth import AuthenticatedRequest, NonceStore, RequestVerifier
from agents.billing.settlement import Redeemer, SettlementQueue
from agents.billing.typed_data import Eip712Domain
from agents.billing.vouchers import SignedVoucher
from agents.gateway.accounting import Accounts
from agents.gateway.catalog import Catalog, Generation, Job, Selector, UnknownGeneration
from agents.gateway.chain import ChainReader
from agents.gateway.ratelimit import RateLimiter
from agents.gateway.serving import Blobs, ModelCache, WeightsRefused, WeightsUnavailable
from agents.gateway.telemetry import Telemetry

log = logging.getLogger(__name__)
T = TypeVar("T")

NONCES_FILE = "nonces.sqlite"
SETTLEMENT_DIR = "settlement"


@dataclass(frozen=True)
class GatewaySettings:
    """Prices in wei per request (by job id, else `default_price`), limits, and settlement cadence."""

    default_price: int = 10**12
    prices: Mapping[int, int] = field(default_factory=dict)
    max_body_bytes: int = 16 * 1024
    rate: float = 50.0
    burst: int = 100
    max_ttl: int = 300
    poll_interval: float = 2.0
    confirmations: int = 0
    settle_every: int = 100
    settle_interval: float = 60.0
    cache_capacity: int = 4
    credit_ttl: float = 2.0

    def price(self, job_id: int) -> int:
        return self.prices.get(job_id, self.default_price)


class RequestRefused(Exception):
    """A request the gateway answers with `status` and `reason` (never a 5xx for the caller's mistakes)."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Served:
    job: Job
    generation: Generation
    price: int
    cumulative_amount: int
    result: Any


class MeteredRedeemer:
    """A Redeemer that counts the wei each batch actually redeemed."""

    def __init__(self, inner: Redeemer, telemetry: Telemetry) -> None:
        self._inner = inner
        self._telemetry = telemetry

    @property
    def gateway(self) -> str:
        return self._inner.gateway

    def redeemed(self, user: str) -> int:
        return self._inner.redeemed(user)

    def redeemable_credit(self, user: str) -> int:
        return self._inner.redeemable_credit(user)

    def redeem_batch(self, vouchers: Sequence[SignedVoucher]) -> str:
        users = {signed.voucher.user for signed in vouchers}
        before = {user: self._inner.redeemed(user) for user in users}
        tx = self._inner.redeem_batch(vouchers)
        self._telemetry.settlements.inc()
        self._telemetry.revenue_settled.inc(sum(self._inner.redeemed(u) - before[u] for u in users))
        return tx


class Gateway:
    """One gateway: its address, the catalogue it serves, its books. `start` begins polling the chain and
    settling; `close` stops both and settles everything signed so far."""

    def __init__(
        self,
        *,
        reader: ChainReader,
        blobs: Blobs,
        redeemer: Redeemer,
        domain: Eip712Domain,
        data_dir: Path,
        settings: GatewaySettings,
        start_block: int = 0,
    ) -> None:
        self.settings = settings
        self.domain = domain
        self.telemetry = Telemetry()
        self.address = redeemer.gateway
        self.reader = reader
        self.catalog = Catalog(reader, start_block=start_block, confirmations=settings.confirmations)
        self.models = ModelCache(blobs, settings.cache_capacity)
        self.verifier = RequestVerifier(
            domain, self.address, NonceStore(data_dir / NONCES_FILE), max_ttl=settings.max_ttl
        )
        self.queue = SettlementQueue(
            data_dir / SETTLEMENT_DIR,
            domain,
            MeteredRedeemer(redeemer, self.telemetry),
            settle_every=settings.settle_every,
            interval=settings.settle_interval,
        )
        journal = self.queue.journal
        self.accounts = Accounts(
            reader,
            self.address,
            lambda user: 0 if (v := journal.latest(user)) is None else v.voucher.cumulative_amount,
            credit_ttl=settings.credit_ttl,
        )
        self.limiter = RateLimiter(settings.rate, settings.burst)
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self.last_poll_error: str | None = None

    # Lifecycle

    def start(self) -> None:
        """Reads the catalogue up to the head, loads each job's best generation, then keeps polling."""
        self.refresh()
        self.queue.start()
        self._poller = threading.Thread(target=self._poll_loop, name="gateway-poller", daemon=True)
        self._poller.start()

    def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join()
            self._poller = None
        report = self.queue.close()
        log.info("closed: settled %d vouchers in %d transactions", report.submitted, len(report.transactions))

    def refresh(self) -> list[Generation]:
        """Polls the chain once and loads the best generation of every job that got a new one."""
        added = self.catalog.poll()
        for job_id in sorted({g.job_id for g in added}):
            job = self.catalog.job(job_id)
            try:
                generation = self.select(job, "best")
            except RequestRefused as refused:
                log.warning("job %d: nothing to serve yet: %s", job_id, refused.reason)
                continue
            self.telemetry.generation_served.labels(job=str(job_id)).set(generation.number)
        return added

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.settings.poll_interval):
            try:
                self.refresh()
                self.last_poll_error = None
            except Exception as error:
                self.last_poll_error = str(error)
                log.exception("polling the chain failed")

    # Requests

    def select(self, job: Job, selector: Selector) -> Generation:
        """The generation `selector` names, with its weights loaded and checked. Raises RequestRefused."""
        if isinstance(selector, int):
            try:
                generation = job.generation(selector)
            except UnknownGeneration as error:
                raise RequestRefused(404, str(error)) from None
            if generation.refused is not None:
                raise RequestRefused(409, generation.refused)
            self._load(job, generation)
            return generation
        unavailable: list[str] = []
        for generation in job.ranked(selector):
            try:
                self._load(job, generation)
            except RequestRefused as refused:
                if refused.status != 409:
                    unavailable.append(refused.reason)
                continue
            return generation
        if unavailable:
            raise RequestRefused(502, "; ".join(unavailable))
        raise RequestRefused(503, f"job {job.job_id} has no generation whose weights pass the hash check")

    def _load(self, job: Job, generation: Generation) -> None:
        try:
            self.models.get(job, generation)
        except WeightsRefused as error:
            self.catalog.refuse(generation, str(error))
            log.error("refusing to serve: %s", error)
            raise RequestRefused(409, str(error)) from None
        except WeightsUnavailable as error:
            raise RequestRefused(502, str(error)) from None

    def authenticate(self, job: Job, headers: Mapping[str, str], body: bytes) -> AuthenticatedRequest:
        from agents.billing.request_auth import AuthError

        started = time.perf_counter()
        try:
            request = self.verifier.verify(headers, body)
        except AuthError as error:
            raise RequestRefused(401, error.reason) from None
        finally:
            self.telemetry.auth_seconds.observe(time.perf_counter() - started)
        if int.from_bytes(request.job_id, "big") != job.job_id:
            raise RequestRefused(
                401, f"the request was signed for job 0x{request.job_id.hex()}, not job {job.job_id}"
            )
        wait = self.limiter.retry_after(request.user)
        if wait:
            raise RequestRefused(
                429, f"rate limit for {request.user} exceeded", {"Retry-After": str(max(1, round(wait)))}
            )
        return request

    def serve(
        self,
        job: Job,
        selector: Selector,
        headers: Mapping[str, str],
        body: bytes,
        infer: Callable[[Any], T],
    ) -> Served:
        """Authenticates, loads the generation, charges the voucher, records it durably, then runs
        `infer(model)`. Nothing is charged for a request that is refused."""
        from agents.gateway.accounting import PaymentRequired

        request = self.authenticate(job, headers, body)
        generation = self.select(job, selector)
        price = self.settings.price(job.job_id)
        try:
            added = self.accounts.charge(request.user, request.cumulative_amount, price)
        except PaymentRequired as error:
            raise RequestRefused(
                402, error.reason, {"X-AOAI-Held": str(error.held), "X-AOAI-Price": str(error.price)}
            ) from None
        if added and request.voucher is not None:
            started = time.perf_counter()
            self.queue.record(request.voucher)
            self.telemetry.journal_seconds.observe(time.perf_counter() - started)
            self.telemetry.revenue_signed.inc(added)
        model = self.models.get(job, generation)
        started = time.perf_counter()
        result = infer(model)
        self.telemetry.inference_seconds.labels(skill=job.skill.name).observe(time.perf_counter() - started)
        return Served(job, generation, price, request.cumulative_amount, result)
