"""The gateway's settlement queue: keep each user's latest signed voucher durably, redeem them in batches.

Signed vouchers are revenue: `VoucherJournal` writes each one to SQLite before `record` returns (WAL,
synchronous=NORMAL: committed before the response leaves, so a killed or restarted gateway settles
everything the previous process recorded; only an OS crash or power loss can drop the newest records, and
since vouchers are cumulative a user's next request re-signs the whole total). A per-request fsync
(synchronous=FULL) cost 0.2-4 ms of disk latency per paid request, twice the gateway's whole budget.

`SettlementQueue.settle` reads `redeemed(user, gateway)` on-chain before sending anything and submits only
vouchers that authorize more than that, to users who still have redeemable credit; the contract itself pays
nothing for a voucher already redeemed, so a crash between sending a transaction and recording its result
can never make a user pay twice. The queue settles every `settle_every` new vouchers, every `interval`
seconds, and on `close`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from eth_utils import to_checksum_address

from agents.billing.typed_data import Eip712Domain, InvalidSignature
from agents.billing.vouchers import SignedVoucher, Voucher, verify_voucher

log = logging.getLogger(__name__)

JOURNAL_FILE = "vouchers.sqlite"


def _amount_key(amount: int) -> str:
    """A uint256 as 64 hex digits: SQLite compares these as text in numeric order."""
    return f"{amount:064x}"


class VoucherJournal:
    """The latest signed voucher of each user for one gateway, in `directory`/vouchers.sqlite.

    Also keeps, per user, the amount last seen redeemed on-chain (`settled`), a hint that spares chain
    reads for users with nothing new. Thread-safe.
    """

    def __init__(self, directory: Path, gateway: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._gateway = to_checksum_address(gateway)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(directory / JOURNAL_FILE, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vouchers (gateway TEXT NOT NULL, user TEXT NOT NULL,"
            " cumulative TEXT NOT NULL, signature BLOB NOT NULL, settled TEXT NOT NULL,"
            " recorded_at REAL NOT NULL, PRIMARY KEY (gateway, user))"
        )

    @property
    def gateway(self) -> str:
        return self._gateway

    def record(self, signed: SignedVoucher) -> bool:
        """Stores `signed` if it authorizes more than the user's stored voucher; True if it did."""
        voucher = signed.voucher
        if voucher.gateway != self._gateway:
            raise ValueError(f"voucher for gateway {voucher.gateway}, this journal is {self._gateway}'s")
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO vouchers VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (gateway, user) DO UPDATE SET"
                " cumulative = excluded.cumulative, signature = excluded.signature,"
                " recorded_at = excluded.recorded_at WHERE excluded.cumulative > vouchers.cumulative",
                (
                    self._gateway,
                    voucher.user,
                    _amount_key(voucher.cumulative_amount),
                    signed.signature,
                    _amount_key(0),
                    time.time(),
                ),
            )
            return cursor.rowcount > 0

    def latest(self, user: str) -> SignedVoucher | None:
        with self._lock:
            row = self._db.execute(
                "SELECT user, cumulative, signature FROM vouchers WHERE gateway = ? AND user = ?",
                (self._gateway, to_checksum_address(user)),
            ).fetchone()
        return None if row is None else self._signed(row)

    def unsettled(self) -> list[SignedVoucher]:
        """Vouchers that authorize more than was last seen redeemed, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT user, cumulative, signature FROM vouchers WHERE gateway = ? AND cumulative > settled"
                " ORDER BY recorded_at",
                (self._gateway,),
            ).fetchall()
        return [self._signed(row) for row in rows]

    def mark_settled(self, user: str, redeemed: int) -> None:
        """Records that `redeemed` wei of `user`'s vouchers are redeemed on-chain."""
        with self._lock:
            self._db.execute(
                "UPDATE vouchers SET settled = ? WHERE gateway = ? AND user = ? AND settled < ?",
                (_amount_key(redeemed), self._gateway, to_checksum_address(user), _amount_key(redeemed)),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _signed(self, row: tuple[str, str, bytes]) -> SignedVoucher:
        user, cumulative, signature = row
        return SignedVoucher(Voucher(user, self._gateway, int(cumulative, 16)), bytes(signature))


class Redeemer(Protocol):
    """The chain as the settlement queue needs it, for one gateway account."""

    @property
    def gateway(self) -> str: ...

    def redeemed(self, user: str) -> int: ...

    def redeemable_credit(self, user: str) -> int: ...

    def redeem_batch(self, vouchers: Sequence[SignedVoucher]) -> str:
        """Sends `redeemBatch` and waits for it; returns the transaction hash, raises if it failed."""
        ...


class ApeRedeemer:
    """Redeems through an ape contract instance of Billing, sending from an ape account (the gateway)."""

    def __init__(self, billing: Any, sender: Any) -> None:
        self._billing = billing
        self._sender = sender

    @property
    def gateway(self) -> str:
        return to_checksum_address(self._sender.address)

    def redeemed(self, user: str) -> int:
        return int(self._billing.redeemed(user, self._sender.address))

    def redeemable_credit(self, user: str) -> int:
        return int(self._billing.redeemableCreditOf(user))

    def redeem_batch(self, vouchers: Sequence[SignedVoucher]) -> str:
        receipt = self._billing.redeemBatch(
            [signed.voucher.as_tuple() for signed in vouchers],
            [signed.signature for signed in vouchers],
            sender=self._sender,
        )
        return str(receipt.txn_hash)


BILLING_SETTLEMENT_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "redeemBatch",
        "stateMutability": "nonpayable",
        "inputs": [
            {
                "name": "vouchers",
                "type": "tuple[]",
                "components": [
                    {"name": "user", "type": "address"},
                    {"name": "gateway", "type": "address"},
                    {"name": "cumulativeAmount", "type": "uint256"},
                ],
            },
            {"name": "signatures", "type": "bytes[]"},
        ],
        "outputs": [{"name": "total", "type": "uint256"}],
    },
    {
        "type": "function",
        "name": "redeemed",
        "stateMutability": "view",
        "inputs": [{"name": "user", "type": "address"}, {"name": "gateway", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "type": "function",
        "name": "redeemableCreditOf",
        "stateMutability": "view",
        "inputs": [{"name": "user", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
]


class Web3Redeemer:
    """Redeems through web3.py, signing locally with an eth-account LocalAccount (the gateway's key)."""

    def __init__(
        self, w3: Any, billing_address: str, account: Any, *, receipt_timeout: float = 120.0
    ) -> None:
        self._w3 = w3
        self._account = account
        self._billing = w3.eth.contract(
            address=to_checksum_address(billing_address), abi=BILLING_SETTLEMENT_ABI
        )
        self._receipt_timeout = receipt_timeout

    @property
    def gateway(self) -> str:
        return to_checksum_address(self._account.address)

    def redeemed(self, user: str) -> int:
        return int(self._billing.functions.redeemed(to_checksum_address(user), self.gateway).call())

    def redeemable_credit(self, user: str) -> int:
        return int(self._billing.functions.redeemableCreditOf(to_checksum_address(user)).call())

    def redeem_batch(self, vouchers: Sequence[SignedVoucher]) -> str:
        call = self._billing.functions.redeemBatch(
            [signed.voucher.as_tuple() for signed in vouchers], [signed.signature for signed in vouchers]
        )
        transaction = call.build_transaction(
            {"from": self.gateway, "nonce": self._w3.eth.get_transaction_count(self.gateway, "pending")}
        )
        raw = self._account.sign_transaction(transaction).raw_transaction
        tx_hash = self._w3.eth.send_raw_transaction(raw)
        receipt = self._w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self._receipt_timeout)
        if receipt["status"] != 1:
            raise RuntimeError(f"redeemBatch transaction {tx_hash.to_0x_hex()} failed")
        return str(tx_hash.to_0x_hex())


@dataclass
class SettlementReport:
    """What one `settle` did."""

    submitted: int = 0
    """Vouchers sent on-chain."""
    transactions: list[str] = field(default_factory=list)
    already_redeemed: int = 0
    """Vouchers skipped because the chain had already redeemed them (by an earlier run or another process)."""
    without_credit: int = 0
    """Vouchers skipped because their user has no redeemable credit; retried at the next settlement."""


class SettlementQueue:
    """Records signed vouchers durably and redeems them in batches; see the module documentation.

    Use as a context manager, or call `start` and `close`. `record` can be called from any thread.
    """

    def __init__(
        self,
        directory: Path,
        domain: Eip712Domain,
        redeemer: Redeemer,
        *,
        batch_size: int = 100,
        settle_every: int = 100,
        interval: float = 60.0,
    ) -> None:
        if batch_size < 1 or settle_every < 1 or interval <= 0:
            raise ValueError("batch_size and settle_every must be positive, interval above zero")
        self._domain = domain
        self._redeemer = redeemer
        self._journal = VoucherJournal(directory, redeemer.gateway)
        self._batch_size = batch_size
        self._settle_every = settle_every
        self._interval = interval
        self._recorded_since_settle = 0
        self._counter_lock = threading.Lock()
        self._settle_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._closed = False

    @property
    def journal(self) -> VoucherJournal:
        return self._journal

    def record(self, signed: SignedVoucher) -> bool:
        """Durably records `signed` (checking its signature first: one bad voucher would revert a whole
        batch on-chain). True if it raised the user's authorized total. Wakes the worker every
        `settle_every` new vouchers."""
        try:
            verify_voucher(self._domain, signed)
        except InvalidSignature as exc:
            raise ValueError(f"refusing an invalid voucher: {exc}") from exc
        if not self._journal.record(signed):
            return False
        with self._counter_lock:
            self._recorded_since_settle += 1
            due = self._recorded_since_settle >= self._settle_every
        if due:
            self._wake.set()
        return True

    def settle(self) -> SettlementReport:
        """Redeems every voucher that authorizes more than the chain has redeemed, in batches."""
        with self._settle_lock:
            with self._counter_lock:
                self._recorded_since_settle = 0
            report = SettlementReport()
            to_send: list[SignedVoucher] = []
            for signed in self._journal.unsettled():
                user = signed.voucher.user
                redeemed = self._redeemer.redeemed(user)
                if redeemed >= signed.voucher.cumulative_amount:
                    self._journal.mark_settled(user, redeemed)
                    report.already_redeemed += 1
                elif self._redeemer.redeemable_credit(user) == 0:
                    report.without_credit += 1
                else:
                    to_send.append(signed)
            for batch in _chunks(to_send, self._batch_size):
                report.transactions.append(self._redeemer.redeem_batch(batch))
                report.submitted += len(batch)
                for signed in batch:
                    user = signed.voucher.user
                    self._journal.mark_settled(user, self._redeemer.redeemed(user))
            if report.submitted or report.without_credit:
                log.info(
                    "settled %d vouchers in %d transactions; %d wait for credit",
                    report.submitted,
                    len(report.transactions),
                    report.without_credit,
                )
            return report

    def start(self) -> None:
        """Starts the background worker that settles every `interval` s or `settle_every` vouchers."""
        if self._worker is not None:
            raise RuntimeError("the settlement worker is already running")
        self._worker = threading.Thread(target=self._run, name="billing-settlement", daemon=True)
        self._worker.start()

    def close(self) -> SettlementReport:
        """Stops the worker, settles what is left (raising if that fails), and closes the journal.
        Closing again does nothing."""
        if self._closed:
            return SettlementReport()
        self._closed = True
        self._stopping.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        try:
            return self.settle()
        finally:
            self._journal.close()

    def __enter__(self) -> SettlementQueue:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.settle()
            except Exception:
                # The vouchers stay in the journal; the next run retries them.
                log.exception("settlement failed")


def _chunks(items: Sequence[SignedVoucher], size: int) -> Iterator[Sequence[SignedVoucher]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
