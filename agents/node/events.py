"""A resumable cursor over the protocol's contract logs, read with plain `eth_getLogs` over block ranges.

Why not a bot framework or a log subscription: `get_logs` needs no extra daemon, makes the backfill from
the deployment block explicit (an agent rebuilds its state from history on every start), works on any
node, and stops at once. Only the wake-up is pushed: :mod:`agents.chain.heads` says when a block arrived.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3
from web3._utils.events import get_event_data


@dataclass(frozen=True)
class Event:
    """One decoded log."""

    name: str
    args: dict[str, Any]
    block: int
    tx: str
    index: int


def _abi_dicts(contract_type: Any) -> list[dict[str, Any]]:
    return [entry.model_dump(mode="json", by_alias=True) for entry in contract_type.abi]


class LogCursor:
    """Yields the events of a set of contracts block range by block range, from ``start`` to the head."""

    def __init__(
        self, web3: Web3, contracts: Iterable[tuple[str, Any]], start: int, chunk: int = 5_000
    ) -> None:
        """``contracts``: (address, ape contract type) pairs; ``start``: first block to read."""
        self.web3 = web3
        self.next_block = start
        self.chunk = chunk
        self._decoders: dict[tuple[str, str], dict[str, Any]] = {}
        self.addresses: list[str] = []
        for address, contract_type in contracts:
            address = to_checksum_address(address)
            self.addresses.append(address)
            for abi in _abi_dicts(contract_type):
                if abi.get("type") != "event":
                    continue
                signature = f"{abi['name']}({','.join(_type_of(i) for i in abi['inputs'])})"
                topic = Web3.keccak(text=signature).hex().removeprefix("0x")
                self._decoders[(address, topic)] = abi

    def poll(self) -> list[Event]:
        """Every event from the cursor to the current head, in chain order; advances the cursor."""
        head = self.web3.eth.block_number
        events: list[Event] = []
        while self.next_block <= head:
            stop = min(head, self.next_block + self.chunk - 1)
            logs = self.web3.eth.get_logs(
                {"fromBlock": self.next_block, "toBlock": stop, "address": self.addresses}  # type: ignore[typeddict-item]
            )
            events.extend(filter(None, (self._decode(log) for log in logs)))
            self.next_block = stop + 1
        return events

    def _decode(self, log: Any) -> Event | None:
        if not log["topics"]:
            return None
        key = (to_checksum_address(log["address"]), bytes(log["topics"][0]).hex())
        abi = self._decoders.get(key)
        if abi is None:
            return None
        data = get_event_data(self.web3.codec, abi, log)
        return Event(
            name=abi["name"],
            args=_plain(dict(data["args"])),
            block=int(log["blockNumber"]),
            tx=bytes(log["transactionHash"]).hex(),
            index=int(log["logIndex"]),
        )


def _type_of(param: dict[str, Any]) -> str:
    """Canonical ABI type of a parameter, tuples expanded."""
    kind: str = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_type_of(c) for c in param["components"]) + ")" + kind[len("tuple") :]
    return kind


def _plain(value: Any) -> Any:
    """web3's AttributeDicts and tuples as plain dicts and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
