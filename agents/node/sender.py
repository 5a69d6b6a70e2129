"""Transactions the short way: estimated, signed with the agent's ape account's key, sent raw, and their
receipt read as soon as the newHeads subscription pushes a block.

ape's ``contract.method(..., sender=account)`` makes about a dozen RPCs per transaction and web3 polls for
the receipt every 0.1 s; an agent sends several dependent transactions per round, so here a transaction is
one ``eth_estimateGas`` (which also names a revert before anything is signed), a nonce kept locally, one
``eth_sendRawTransaction`` and a receipt read when a new block arrives. It is signed here too: ape builds
and validates a transaction model per signature, 1.8 ms of CPU; RLP and libsecp256k1 take 0.15.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import coincurve
import rlp
from eth_utils import keccak

from agents.chain.heads import HeadWatch
from agents.node.accounts import signing_key

GAS_MARGIN = 1.25
"""Gas limit over the estimate: state may change between estimate and inclusion (a panel grows, a loop
runs longer); unused gas is not paid for."""
RECEIPT_TIMEOUT_S = 120.0


class Reverted(RuntimeError):
    """A transaction or call reverted with the named custom error."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


def raise_for_error(response: Mapping[str, Any], errors: Mapping[str, str], what: str) -> None:
    """Raises :class:`Reverted` (named by its selector in ``errors``) for a JSON-RPC revert, and
    ``ConnectionError`` for any other error response."""
    if "error" not in response:
        return
    error = response["error"]
    data = str(error.get("data") or "") if isinstance(error, dict) else ""
    if not data.startswith("0x"):
        raise ConnectionError(f"{what}: {error}")
    raise Reverted(errors.get(data[:10], "ContractLogicError"), f"{what}: {data}")


class TransactionSigner:
    """Signs EIP-1559 transactions of one account with its key: the bytes eth_account's signer gives
    (RFC 6979 nonces, low s)."""

    def __init__(self, key: bytes, chain_id: int, address: str) -> None:
        self._key = coincurve.PrivateKey(key)
        self.chain_id = chain_id
        public = self._key.public_key.format(compressed=False)[1:]
        if keccak(public)[12:] != bytes.fromhex(address.removeprefix("0x")):
            raise ValueError(f"the key does not belong to account {address}")

    def sign(self, nonce: int, to: str, value: int, data: str, gas: int, max_fee: int, tip: int) -> str:
        """The raw transaction, ``0x``-hex, as ``eth_sendRawTransaction`` takes it."""
        to_bytes, calldata = bytes.fromhex(to.removeprefix("0x")), bytes.fromhex(data.removeprefix("0x"))
        fields = [self.chain_id, nonce, tip, max_fee, gas, to_bytes, value, calldata, []]
        signature = self._key.sign_recoverable(keccak(b"\x02" + rlp.encode(fields)), hasher=None)
        r, s, y_parity = signature[:32], signature[32:64], signature[64]
        fields += [y_parity, int.from_bytes(r, "big"), int.from_bytes(s, "big")]
        return "0x" + (b"\x02" + rlp.encode(fields)).hex()


class Sender:
    """Sends the transactions of one account, one at a time, and waits for each to be mined."""

    def __init__(self, web3: Any, account: Any, chain_id: int, heads: HeadWatch, errors: Mapping[str, str]):
        """``account``: an unlocked ape account; ``errors``: custom error names by 4-byte selector."""
        self.web3 = web3
        self.me = str(account.address)
        self.signer = TransactionSigner(signing_key(account), chain_id, self.me)
        self.heads = heads
        self.errors = errors
        self._nonce: int | None = None
        self._tip: int | None = None

    def send(
        self, to: str, data: str, value: int = 0, what: str = "transaction", gas_floor: int = 0
    ) -> dict[str, Any]:
        """Sends a call of ``to`` with ``data``; returns the receipt of a successful transaction, raises
        :class:`Reverted` for one that would revert or did. ``gas_floor``: the least gas limit, for a call
        that may do more once mined than its estimate saw (another's transaction landing first)."""
        call = {"from": self.me, "to": to, "data": data, "value": hex(value)}
        estimate = self._request("eth_estimateGas", [call])
        raise_for_error(estimate, self.errors, what)
        raw = self._signed(to, data, value, max(gas_floor, int(int(estimate["result"], 16) * GAS_MARGIN)))
        seen = self.heads.head
        sent = self._request("eth_sendRawTransaction", [raw])
        if "error" in sent:
            self._nonce = None  # re-read from the node: another process may have used the account
            raise ConnectionError(f"{what}: {sent['error']}")
        self._nonce = (self._nonce or 0) + 1
        try:
            receipt = self._receipt(sent["result"], seen, what)
        except Exception:  # dropped, not mined in time, or the node went away: count again from the node
            self._nonce = None
            raise
        if int(receipt["status"], 16) != 1:  # lost a race after the estimate: name it by calling again
            raise_for_error(self._request("eth_call", [call, receipt["blockNumber"]]), self.errors, what)
            raise Reverted("TransactionFailed", f"{what}: {sent['result']} failed")
        return receipt

    def _signed(self, to: str, data: str, value: int, gas: int) -> str:
        if self._nonce is None:
            count = self._request("eth_getTransactionCount", [self.me, "pending"])
            raise_for_error(count, self.errors, "nonce")
            self._nonce = int(count["result"], 16)
        if self._tip is None:
            tip = self._request("eth_maxPriorityFeePerGas", [])
            raise_for_error(tip, self.errors, "priority fee")
            self._tip = int(tip["result"], 16)
        max_fee = 2 * self._base_fee() + self._tip
        return self.signer.sign(self._nonce, to, value, data, gas, max_fee, self._tip)

    def _base_fee(self) -> int:
        """The newest head's base fee: pushed with it, or asked for without a subscription."""
        if self.heads.latest() is not None and self.heads.base_fee is not None:
            return self.heads.base_fee
        return int(self.web3.eth.get_block("latest").get("baseFeePerGas", 0))

    def _receipt(self, tx_hash: str, seen: int, what: str) -> dict[str, Any]:
        """The receipt, read after each new head; a transaction the node no longer knows once a block
        has passed (a restarted node loses its pool) raises ConnectionError at once, for a retry."""
        deadline, sent_at = time.monotonic() + RECEIPT_TIMEOUT_S, seen
        while True:
            response = self._request("eth_getTransactionReceipt", [tx_hash])
            raise_for_error(response, self.errors, what)
            if response["result"] is not None:
                return dict(response["result"])
            if seen > sent_at:
                known = self._request("eth_getTransactionByHash", [tx_hash])
                raise_for_error(known, self.errors, what)
                if known["result"] is None:
                    raise ConnectionError(f"{what}: {tx_hash} was dropped by the node")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{what}: {tx_hash} not mined after {RECEIPT_TIMEOUT_S:g} s")
            self.heads.wait_beyond(seen, remaining)
            seen = self.heads.head

    def _request(self, method: str, params: list[Any]) -> Any:
        return self.web3.provider.make_request(method, params)
