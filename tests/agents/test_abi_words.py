"""Events decoded word by word read exactly as ``eth_abi`` reads them, and refuse what its strict codec
refuses."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from eth_abi import encode
from eth_abi.codec import ABICodec
from eth_abi.decoding import UnsignedIntegerDecoder
from eth_abi.encoding import UnsignedIntegerEncoder
from eth_abi.exceptions import DecodingError
from eth_abi.registry import BaseEquals, registry
from hypothesis import given
from hypothesis import strategies as st
from web3 import Web3

from agents.node.abi import EventDecoder


def strict_codec() -> ABICodec:
    """eth_abi's own codec: importing ape re-registers ``uint`` so that short data reads as zero-padded."""
    strict = registry.copy()
    strict.unregister("uint")
    strict.register(BaseEquals("uint"), UnsignedIntegerEncoder, UnsignedIntegerDecoder, label="uint")
    return ABICodec(strict)


CODEC = strict_codec()
WORDS: dict[str, st.SearchStrategy[Any]] = {
    "uint8": st.integers(0, 2**8 - 1),
    "uint64": st.integers(0, 2**64 - 1),
    "uint256": st.integers(0, 2**256 - 1),
    "int8": st.integers(-(2**7), 2**7 - 1),
    "int256": st.integers(-(2**255), 2**255 - 1),
    "address": st.binary(min_size=20, max_size=20).map(lambda b: Web3.to_checksum_address(b)),
    "bool": st.booleans(),
    "bytes4": st.binary(min_size=4, max_size=4),
    "bytes32": st.binary(min_size=32, max_size=32),
}
TAILS: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=80),
    "bytes": st.binary(max_size=80),
    "uint256[]": st.lists(WORDS["uint256"], max_size=5),
    "int256[]": st.lists(WORDS["int256"], max_size=5),
    "address[]": st.lists(WORDS["address"], max_size=5),
}
KINDS = {**WORDS, **TAILS}


@st.composite
def events(draw: st.DrawFn) -> tuple[EventDecoder, list[bytes], bytes]:
    """An event of random one-word and dynamic arguments, some one-word ones indexed, and a log of it."""
    kinds = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=6))
    inputs: list[dict[str, Any]] = [
        {"name": f"a{i}", "type": k, "indexed": k in WORDS and draw(st.booleans())}
        for i, k in enumerate(kinds)
    ]
    values = [draw(KINDS[k]) for k in kinds]
    topics = [encode([i["type"]], [v]) for i, v in zip(inputs, values, strict=True) if i["indexed"]]
    data = encode(
        [i["type"] for i in inputs if not i["indexed"]],
        [v for i, v in zip(inputs, values, strict=True) if not i["indexed"]],
    )
    decoder = EventDecoder.of({"name": "Sample", "type": "event", "inputs": inputs})
    assert decoder.data_plan is not None
    return decoder, topics, data


def by_eth_abi(decoder: EventDecoder) -> EventDecoder:
    return dataclasses.replace(decoder, topic_words=(None,) * len(decoder.topic_params), data_plan=None)


def outcome(decoder: EventDecoder, topics: list[bytes], data: bytes, refusals: Any = DecodingError) -> Any:
    try:
        return decoder.decode(CODEC, topics, data)
    except refusals:
        return "refused"


@given(events())
def test_words_decode_as_eth_abi_decodes(event):
    decoder, topics, data = event
    assert decoder.decode(CODEC, topics, data) == by_eth_abi(decoder).decode(CODEC, topics, data)


@given(events(), st.data())
def test_a_corrupted_log_is_refused_or_read_as_eth_abi_reads_it(event, data):
    decoder, topics, payload = event
    if not payload:
        return
    at = data.draw(st.integers(0, len(payload) - 1))
    corrupted = payload[:at] + bytes([payload[at] ^ data.draw(st.integers(1, 255))]) + payload[at + 1 :]
    cut = corrupted[: data.draw(st.integers(0, len(corrupted)))]
    for sample in (corrupted, cut):
        # eth_abi overflows on a length beyond the index range and lets a bad string's UnicodeDecodeError
        # through; the words refuse both with a DecodingError
        refusals = (DecodingError, OverflowError, UnicodeDecodeError)
        expected = outcome(by_eth_abi(decoder), topics, sample, refusals)
        assert outcome(decoder, topics, sample) == expected


def test_tuples_and_fixed_arrays_are_left_to_eth_abi():
    struct = {"name": "s", "type": "tuple", "components": [{"name": "x", "type": "uint8"}]}
    for param in (struct, {"name": "f", "type": "uint256[2]"}):
        decoder = EventDecoder.of({"name": "E", "type": "event", "inputs": [param]})
        assert decoder.data_plan is None
    decoder = EventDecoder.of({"name": "E", "type": "event", "inputs": [struct]})
    assert decoder.decode(CODEC, [], encode(["(uint8)"], [(7,)])) == {"s": {"x": 7}}


def test_a_dirty_padding_is_refused():
    decoder = EventDecoder.of({"name": "E", "type": "event", "inputs": [{"name": "a", "type": "address"}]})
    with pytest.raises(DecodingError, match="padding"):
        decoder.decode(CODEC, [], b"\x01" + bytes(31))
