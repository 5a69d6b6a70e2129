"""Per-address rate limiting: a token bucket per authenticated address."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Allows each key `burst` requests at once and `rate` per second on average. Thread-safe.

    Keyed by the authenticated address (after the signature check), so nobody can spend another address's
    budget. Idle buckets are forgotten once full again, which bounds memory by the active addresses.
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def retry_after(self, key: str) -> float:
        """Takes one token for `key`; returns 0 if allowed, else the seconds until a token is available."""
        now = self._clock()
        with self._lock:
            tokens, updated = self._buckets.get(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - updated) * self._rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1 - tokens) / self._rate
            if now >= self._next_sweep:
                self._sweep(now)
        return wait

    def _sweep(self, now: float) -> None:
        refill = self._burst / self._rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill}
        self._next_sweep = now + refill
