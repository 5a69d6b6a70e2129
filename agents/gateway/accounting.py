"""What each user owes this gateway: the price check and the credit check of every paid request.

Vouchers are cumulative. The gateway holds, per user, the largest total it accepted (`held`); a request
must authorize at least `held + price`. And everything it holds unsettled, `total - redeemed(user, gateway)`,
must fit in the user's on-chain `spendableCreditOf`, so that settlement is paid in full.

Credit is read from the chain and cached for `credit_ttl` seconds; a request the cached figure refuses is
checked again against a fresh read (a deposit counts at once). Settlement moves `redeemed` up and credit
down by the same amount, which leaves the check unchanged, so only a withdrawal request can make the cache
optimistic, for at most `credit_ttl` seconds, and the Billing notice period covers that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class PaymentRequired(Exception):
    """HTTP 402: the voucher does not cover the request, or the credit does not cover the voucher."""

    def __init__(self, reason: str, held: int, price: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.held = held
        self.price = price


class CreditSource(Protocol):
    def spendable_credit(self, user: str) -> int: ...

    def redeemed(self, user: str, gateway: str) -> int: ...


@dataclass
class _Account:
    lock: threading.Lock
    held: int
    spendable: int = 0
    redeemed: int = 0
    fetched_at: float = float("-inf")


class Accounts:
    """Per-user totals held by the gateway `gateway`. `journal_total(user)` is the largest voucher total
    already recorded for the user (so a restarted gateway resumes from its journal). Thread-safe."""

    def __init__(
        self,
        chain: CreditSource,
        gateway: str,
        journal_total: Callable[[str], int],
        *,
        credit_ttl: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._chain = chain
        self._gateway = gateway
        self._journal_total = journal_total
        self._credit_ttl = credit_ttl
        self._clock = clock
        self._accounts: dict[str, _Account] = {}
        self._lock = threading.Lock()

    def held(self, user: str) -> int:
        return self._account(user).held

    def charge(self, user: str, cumulative_amount: int, price: int) -> int:
        """Accepts a request authorizing `cumulative_amount` in total at `price`; returns the wei newly
        authorized (at least `price`). Raises PaymentRequired."""
        account = self._account(user)
        with account.lock:
            held = account.held
            if cumulative_amount < held + price:
                raise PaymentRequired(
                    f"the voucher authorizes {cumulative_amount} wei in total, but this gateway already holds"
                    f" {held} wei from {user} and the request costs {price}: sign at least {held + price}",
                    held,
                    price,
                )
            if self._clock() - account.fetched_at > self._credit_ttl:
                self._refresh(user, account)
            if not self._covered(account, cumulative_amount):
                self._refresh(user, account)
                if not self._covered(account, cumulative_amount):
                    unsettled = cumulative_amount - account.redeemed
                    raise PaymentRequired(
                        f"insufficient credit: {user} would owe this gateway {unsettled} wei unsettled, and"
                        f" its spendable Billing credit is {account.spendable} wei; deposit more",
                        held,
                        price,
                    )
            account.held = cumulative_amount
        return cumulative_amount - held

    def _covered(self, account: _Account, cumulative_amount: int) -> bool:
        return cumulative_amount - account.redeemed <= account.spendable

    def _refresh(self, user: str, account: _Account) -> None:
        account.spendable = self._chain.spendable_credit(user)
        account.redeemed = self._chain.redeemed(user, self._gateway)
        account.fetched_at = self._clock()

    def _account(self, user: str) -> _Account:
        with self._lock:
            account = self._accounts.get(user)
            if account is None:
                account = self._accounts[user] = _Account(threading.Lock(), held=-1)
        if account.held < 0:
            with account.lock:
                if account.held < 0:
                    account.held = max(self._journal_total(user), self._chain.redeemed(user, self._gateway))
        return account
