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

from agents.node.abi import EventDecoder


@dataclass(frozen=True)
class Event:
    """One decoded log."""

    name: str
    args: dict[str, Any]
    block: int
    tx: str
    index: int


def abi_dicts(contract_type: Any) -> list[dict[str, Any]]:
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
        self._decoders: dict[tuple[str, bytes], EventDecoder] = {}
        self.addresses: list[str] = []
        for address, contract_type in contracts:
            address = to_checksum_address(address)
            self.addresses.append(address)
            for abi in abi_dicts(contract_type):
                if abi.get("type") != "event":
                    continue
                decoder = EventDecoder.of(abi)
                self._decoders[(address.lower(), decoder.topic)] = decoder

    def poll(self, head: int | None = None) -> list[Event]:
        """Every event from the cursor to ``head`` (default: the node's current head), in chain order;
        advances the cursor. Logs are read with raw ``eth_getLogs`` requests and decoded here."""
        if head is None:
            head = int(self.web3.eth.block_number)
        events: list[Event] = []
        while self.next_block <= head:
            stop = min(head, self.next_block + self.chunk - 1)
            query = {"fromBlock": hex(self.next_block), "toBlock": hex(stop), "address": self.addresses}
            response = self.web3.provider.make_request("eth_getLogs", [query])  # type: ignore[arg-type]
            if "error" in response:
                raise ConnectionError(f"eth_getLogs failed: {response['error']}")
            events.extend(self.decode_all(response["result"]))
            self.next_block = stop + 1
        return events

    def log_filter(self, quiet: Iterable[str] = ()) -> dict[str, Any]:
        """A log filter (``eth_getLogs``, ``eth_subscribe``) for the cursor's contracts' events but the
        ``quiet`` ones, by name."""
        skip = set(quiet)
        topics = sorted({"0x" + d.topic.hex() for d in self._decoders.values() if d.name not in skip})
        return {"address": self.addresses, "topics": [topics]}

    def decode_all(self, logs: Iterable[dict[str, Any]]) -> list[Event]:
        """The events among raw ``logs`` (a receipt's) emitted by the cursor's contracts."""
        return list(filter(None, (self._decode(log) for log in logs)))

    def _decode(self, log: dict[str, Any]) -> Event | None:
        topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
        decoder = self._decoders.get((log["address"].lower(), topics[0])) if topics else None
        if decoder is None:
            return None
        return Event(
            name=decoder.name,
            args=decoder.decode(self.web3.codec, topics[1:], bytes.fromhex(log["data"][2:])),
            block=int(log["blockNumber"], 16),
            tx=log["transactionHash"][2:],
            index=int(log["logIndex"], 16),
        )
