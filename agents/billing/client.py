"""An API user's side of billing: ETH credit on-chain, signed requests and vouchers off-chain."""

from __future__ import annotations

import threading
from typing import Any

from eth_utils import to_checksum_address

from agents.billing.request_auth import DEFAULT_TTL, sign_request
from agents.billing.vouchers import SignedVoucher, billing_domain_of, sign_voucher


class BillingClient:
    """Deposits credit and authenticates requests to one gateway, as `account` (an ape account).

    Each request authorizes the gateway to take its price on top of everything authorized before: the
    client keeps the running total (`cumulative_amount`) and signs a voucher for it with every paid request.
    Start it from the total the gateway last acknowledged; by default, from what the chain says the gateway
    redeemed, which is lower if the gateway holds vouchers it has not settled yet (it will then refuse the
    next request until the client catches up to the total it holds).
    """

    def __init__(
        self, billing: Any, account: Any, gateway: str, *, cumulative_amount: int | None = None
    ) -> None:
        self._billing = billing
        self._account = account
        self._gateway = to_checksum_address(gateway)
        self._domain = billing_domain_of(billing)
        if cumulative_amount is None:
            cumulative_amount = int(billing.redeemed(account.address, self._gateway))
        self._cumulative_amount = cumulative_amount
        self._last_voucher: SignedVoucher | None = None
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        return to_checksum_address(self._account.address)

    @property
    def gateway(self) -> str:
        return self._gateway

    @property
    def cumulative_amount(self) -> int:
        """Everything authorized to the gateway so far, in wei."""
        return self._cumulative_amount

    def deposit(self, amount: int) -> Any:
        """Adds `amount` wei to the account's credit; returns the receipt."""
        return self._billing.deposit(sender=self._account, value=amount)

    def credit(self) -> int:
        """Unspent credit, including any amount requested for withdrawal, in wei."""
        return int(self._billing.creditOf(self._account.address))

    def spendable_credit(self) -> int:
        """Credit that gateways accept new vouchers against, in wei."""
        return int(self._billing.spendableCreditOf(self._account.address))

    def request_withdrawal(self, amount: int) -> Any:
        """Starts the notice period to withdraw `amount` wei; returns the receipt."""
        return self._billing.requestWithdrawal(amount, sender=self._account)

    def withdraw(self) -> Any:
        """Withdraws the requested credit once the notice period is over; returns the receipt."""
        return self._billing.withdraw(sender=self._account)

    def authorize(self, body: bytes, job_id: bytes, price: int, *, ttl: int = DEFAULT_TTL) -> dict[str, str]:
        """The headers for one request with `body` to `job_id`, authorizing `price` more wei.

        Raises the running total by `price` and signs the voucher for the new total; a free request
        (`price` 0) repeats the current voucher.
        """
        if price < 0:
            raise ValueError(f"price must not be negative, got {price}")
        with self._lock:
            total = self._cumulative_amount + price
            voucher = self.voucher(total) if total else None
            headers = sign_request(
                self._account, self._domain, self._gateway, body, job_id, total, voucher=voucher, ttl=ttl
            )
            self._cumulative_amount = total
        return headers

    def voucher(self, cumulative_amount: int) -> SignedVoucher:
        """A voucher authorizing the gateway to take `cumulative_amount` wei in total."""
        last = self._last_voucher
        if last is None or last.voucher.cumulative_amount != cumulative_amount:
            last = self._last_voucher = sign_voucher(
                self._account, self._domain, self._gateway, cumulative_amount
            )
        return last
