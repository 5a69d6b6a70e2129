"""The settlement queue: durable across restarts, batched, idempotent, never double-submitting."""

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_account import Account

from agents.billing.settlement import JOURNAL_FILE, ApeRedeemer, SettlementQueue, VoucherJournal, Web3Redeemer
from agents.billing.vouchers import SignedVoucher, sign_voucher

ETHER = 10**18


class CountingRedeemer:
    """Wraps a redeemer and remembers every batch it sent."""

    def __init__(self, inner):
        self._inner = inner
        self.batches = []

    @property
    def gateway(self):
        return self._inner.gateway

    def redeemed(self, user):
        return self._inner.redeemed(user)

    def redeemable_credit(self, user):
        return self._inner.redeemable_credit(user)

    def redeem_batch(self, vouchers):
        self.batches.append([(s.voucher.user, s.voucher.cumulative_amount) for s in vouchers])
        return self._inner.redeem_batch(vouchers)


@pytest.fixture
def payers(accounts, billing):
    """Five users with 10 ether of credit each."""
    chosen = [accounts[i] for i in (2, 3, 4, 6, 7)]
    for payer in chosen:
        billing.deposit(sender=payer, value=10 * ETHER)
    return chosen


@pytest.fixture
def redeemer(billing, gateway):
    return CountingRedeemer(ApeRedeemer(billing, gateway))


def queue_at(path, domain, redeemer, **kwargs):
    return SettlementQueue(path, domain, redeemer, **kwargs)


def test_settles_latest_vouchers_in_batches(
    tmp_path, billing, with_holder, domain, gateway, payers, redeemer
):
    queue = queue_at(tmp_path, domain, redeemer, batch_size=2)
    for payer in payers:
        for amount in (ETHER, 2 * ETHER):
            assert queue.record(sign_voucher(payer, domain, gateway.address, amount))
    report = queue.settle()
    assert report.submitted == 5
    assert len(report.transactions) == 3
    assert [len(batch) for batch in redeemer.batches] == [2, 2, 1]
    assert all(amount == 2 * ETHER for batch in redeemer.batches for _, amount in batch)
    for payer in payers:
        assert billing.redeemed(payer, gateway) == 2 * ETHER
    assert queue.journal.unsettled() == []


def test_older_voucher_does_not_replace_newer(tmp_path, domain, gateway, payers, redeemer):
    queue = queue_at(tmp_path, domain, redeemer)
    newer = sign_voucher(payers[0], domain, gateway.address, 5)
    assert queue.record(newer)
    assert not queue.record(sign_voucher(payers[0], domain, gateway.address, 4))
    assert not queue.record(newer)
    assert queue.journal.latest(payers[0].address) == newer


CRASHING_GATEWAY = """
import os, sys
from pathlib import Path
from agents.billing.settlement import VoucherJournal
from agents.billing.vouchers import SignedVoucher, Voucher

directory, gateway, *entries = sys.argv[1:]
journal = VoucherJournal(Path(directory), gateway)
for entry in entries:
    user, amount, signature = entry.split(":")
    journal.record(SignedVoucher(Voucher(user, gateway, int(amount)), bytes.fromhex(signature)))
os._exit(9)  # dies without closing anything
"""


def test_journal_survives_a_crash(tmp_path, billing, with_holder, domain, gateway, payers, redeemer):
    """A gateway process killed right after recording loses nothing: the next process settles it all."""
    entries = []
    for i, payer in enumerate(payers):
        signed = sign_voucher(payer, domain, gateway.address, (i + 1) * ETHER)
        entries.append(f"{payer.address}:{(i + 1) * ETHER}:{signed.signature.hex()}")
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_GATEWAY, str(tmp_path), gateway.address, *entries],
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert crashed.returncode == 9

    restarted = queue_at(tmp_path, domain, redeemer)
    assert len(restarted.journal.unsettled()) == len(payers)
    report = restarted.close()
    assert report.submitted == len(payers)
    assert restarted.close().submitted == 0
    for i, payer in enumerate(payers):
        assert billing.redeemed(payer, gateway) == (i + 1) * ETHER


def test_records_are_on_disk_before_record_returns(tmp_path, domain, gateway, payers, redeemer):
    queue = queue_at(tmp_path, domain, redeemer)
    signed = sign_voucher(payers[0], domain, gateway.address, 7)
    queue.record(signed)
    other_connection = sqlite3.connect(tmp_path / JOURNAL_FILE)
    rows = other_connection.execute("SELECT user, cumulative, signature FROM vouchers").fetchall()
    other_connection.close()
    assert rows == [(payers[0].address, f"{7:064x}", signed.signature)]


def test_never_submits_what_is_redeemed(tmp_path, billing, with_holder, domain, gateway, payers, redeemer):
    queue = queue_at(tmp_path, domain, redeemer)
    first, second = payers[:2]
    queue.record(sign_voucher(first, domain, gateway.address, ETHER))
    queue.record(signed := sign_voucher(second, domain, gateway.address, ETHER))
    # As if a previous process had sent the transaction but died before noting it: the chain has it.
    billing.redeem(signed.voucher.as_tuple(), signed.signature, sender=gateway)

    report = queue.settle()
    assert redeemer.batches == [[(first.address, ETHER)]]
    assert (report.submitted, report.already_redeemed) == (1, 1)
    assert queue.settle().submitted == 0
    assert len(redeemer.batches) == 1
    assert billing.redeemed(first, gateway) == ETHER
    assert billing.redeemed(second, gateway) == ETHER
    assert billing.creditOf(second) == 9 * ETHER


def test_waits_for_credit_and_retries(tmp_path, billing, with_holder, domain, gateway, accounts, redeemer):
    broke = accounts[1]
    queue = queue_at(tmp_path, domain, redeemer)
    queue.record(sign_voucher(broke, domain, gateway.address, 3 * ETHER))
    report = queue.settle()
    assert (report.submitted, report.without_credit) == (0, 1)
    assert redeemer.batches == []

    billing.deposit(sender=broke, value=ETHER)
    assert queue.settle().submitted == 1
    assert billing.redeemed(broke, gateway) == ETHER
    billing.deposit(sender=broke, value=5 * ETHER)
    assert queue.settle().submitted == 1
    assert billing.redeemed(broke, gateway) == 3 * ETHER
    assert queue.settle().submitted == 0


def test_refuses_invalid_or_foreign_vouchers(tmp_path, domain, gateway, outsider, payers, redeemer):
    queue = queue_at(tmp_path, domain, redeemer)
    honest = sign_voucher(payers[0], domain, gateway.address, 5)
    forged = SignedVoucher(honest.voucher.__class__(payers[1].address, gateway.address, 5), honest.signature)
    with pytest.raises(ValueError, match="refusing an invalid voucher"):
        queue.record(forged)
    with pytest.raises(ValueError, match="this journal is"):
        queue.record(sign_voucher(payers[0], domain, outsider.address, 5))
    assert queue.journal.unsettled() == []


def wait_until_settled(queue, timeout=60):
    """Polls the journal, not the chain: the in-process chain must not be used from two threads at once."""
    deadline = time.monotonic() + timeout
    while queue.journal.unsettled() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert queue.journal.unsettled() == []


def test_worker_settles_every_n_vouchers(tmp_path, billing, with_holder, domain, gateway, payers, redeemer):
    with queue_at(tmp_path, domain, redeemer, settle_every=3, interval=3_600) as queue:
        for payer in payers[:3]:
            queue.record(sign_voucher(payer, domain, gateway.address, ETHER))
        wait_until_settled(queue)
        assert len(redeemer.batches) == 1
        queue.record(sign_voucher(payers[3], domain, gateway.address, ETHER))
        assert len(redeemer.batches) == 1
    # Closing settles the rest.
    assert len(redeemer.batches) == 2
    for payer in payers[:4]:
        assert billing.redeemed(payer, gateway) == ETHER


def test_worker_settles_every_interval(tmp_path, billing, with_holder, domain, gateway, payers, redeemer):
    with queue_at(tmp_path, domain, redeemer, settle_every=1_000, interval=0.2) as queue:
        queue.record(sign_voucher(payers[0], domain, gateway.address, ETHER))
        wait_until_settled(queue)
        assert len(redeemer.batches) == 1
    assert billing.redeemed(payers[0], gateway) == ETHER


def test_web3_redeemer(tmp_path, chain, billing, with_holder, domain, gateway, payers):
    web3_redeemer = CountingRedeemer(
        Web3Redeemer(chain.provider.web3, billing.address, Account.from_key(gateway.private_key))
    )
    queue = queue_at(tmp_path, domain, web3_redeemer)
    for payer in payers[:2]:
        queue.record(sign_voucher(payer, domain, gateway.address, 2 * ETHER))
    assert queue.settle().submitted == 2
    assert queue.settle().submitted == 0
    assert len(web3_redeemer.batches) == 1
    assert billing.redeemed(payers[0], gateway) == 2 * ETHER
    assert web3_redeemer.redeemable_credit(payers[0].address) == 8 * ETHER


def test_journal_keeps_gateways_apart(tmp_path, domain, gateway, outsider, payers):
    mine = VoucherJournal(tmp_path, gateway.address)
    theirs = VoucherJournal(tmp_path, outsider.address)
    mine.record(sign_voucher(payers[0], domain, gateway.address, 5))
    assert theirs.unsettled() == []
    assert [s.voucher.cumulative_amount for s in mine.unsettled()] == [5]
