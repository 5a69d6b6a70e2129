"""ABI entries prepared once, for what agents do on every block: decode logs and call views.

web3's ``get_event_data`` and contract functions re-derive types, selectors and formatters on every use;
agents decode every log of the protocol and read a few views per block, so here each event and view is
prepared once and a use is one ``eth_abi`` encode or decode around a raw JSON-RPC request. Events whose
arguments are all one-word types, strings, bytes and arrays of one-word types (every event agents read
each round) are decoded here word by word, as strictly as ``eth_abi`` and about ten times faster. Values
come out as web3 gives them: checksummed addresses, arrays as lists, structs as named tuples (views) or
dicts by component name (events).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from eth_abi.exceptions import DecodingError, InsufficientDataBytes, InvalidPointer, NonEmptyPaddingBytes
from eth_utils import keccak, to_checksum_address

Param = dict[str, Any]


def type_of(param: Param) -> str:
    """Canonical ABI type of a parameter, tuples expanded."""
    kind: str = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(type_of(c) for c in param["components"]) + ")" + kind[len("tuple") :]
    return kind


def signature(entry: Param) -> str:
    return f"{entry['name']}({','.join(type_of(i) for i in entry['inputs'])})"


def named(value: Any, param: Param, struct: Callable[[Param, list[Any]], Any]) -> Any:
    """``value`` as decoded by ``eth_abi``, with structs built by ``struct``, addresses checksummed and
    arrays as lists."""
    kind: str = param["type"]
    if kind.endswith("]"):
        inner = {**param, "type": kind[: kind.rindex("[")]}
        return [named(v, inner, struct) for v in value]
    if kind == "tuple":
        return struct(param, [named(v, c, struct) for c, v in zip(param["components"], value, strict=True)])
    return to_checksum_address(value) if kind == "address" else value


def _struct_dict(param: Param, values: list[Any]) -> dict[str, Any]:
    return {c["name"]: v for c, v in zip(param["components"], values, strict=True)}


def _struct_tuple(param: Param, values: list[Any]) -> Any:
    return _tuple_class(tuple(c["name"] for c in param["components"]))(*values)


_TUPLE_CLASSES: dict[tuple[str, ...], Any] = {}


def _tuple_class(names: tuple[str, ...]) -> Any:
    if names not in _TUPLE_CLASSES:
        _TUPLE_CLASSES[names] = namedtuple("Struct", names)  # type: ignore[misc]
    return _TUPLE_CLASSES[names]


def _is_static(kind: str) -> bool:
    return not (kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("("))


WordDecoder = Callable[[bytes], Any]
TailDecoder = Callable[[bytes, int], Any]
_ZERO_WORD = bytes(32)


def _uint(bound: int, word: bytes) -> int:
    value = int.from_bytes(word, "big")
    if value >= bound:
        raise NonEmptyPaddingBytes(f"padding bytes of {word.hex()} were not empty")
    return value


def _int(bits: int, word: bytes) -> int:
    value = int.from_bytes(word, "big", signed=True)
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise NonEmptyPaddingBytes(f"padding bytes of {word.hex()} were not sign bits")
    return value


def _address(word: bytes) -> str:
    if word[:12] != _ZERO_WORD[:12]:
        raise NonEmptyPaddingBytes(f"padding bytes of address {word.hex()} were not empty")
    return _checksummed(word[12:])


@lru_cache(maxsize=4096)
def _checksummed(address: bytes) -> str:
    """A network's few accounts and contracts recur in every log: each is checksummed once."""
    return to_checksum_address(address)


def _bool(word: bytes) -> bool:
    if word[:31] != _ZERO_WORD[:31] or word[31] > 1:
        raise NonEmptyPaddingBytes(f"{word.hex()} is not a boolean")
    return word[31] == 1


def _fixed_bytes(size: int, word: bytes) -> bytes:
    if word[size:] != _ZERO_WORD[size:]:
        raise NonEmptyPaddingBytes(f"padding bytes of bytes{size} {word.hex()} were not empty")
    return word[:size]


def word_decoder(kind: str) -> WordDecoder | None:
    """The decoder of a one-word ABI type, or None for any other type."""
    if kind == "address":
        return _address
    if kind == "bool":
        return _bool
    if kind in ("uint", "int"):
        kind += "256"
    if kind.startswith("uint") and kind[4:].isdigit():
        return partial(_uint, 1 << int(kind[4:]))
    if kind.startswith("int") and kind[3:].isdigit():
        return partial(_int, int(kind[3:]))
    if kind.startswith("bytes") and kind[5:].isdigit():
        return partial(_fixed_bytes, int(kind[5:]))
    return None


def _word_at(data: bytes, at: int) -> bytes:
    if at + 32 > len(data):
        raise InsufficientDataBytes(f"{len(data)} bytes of data, a word wanted at {at}")
    return data[at : at + 32]


def _bytes_at(data: bytes, at: int) -> bytes:
    """A ``bytes`` tail: its length word, then the bytes, zero-padded to whole words."""
    length = _uint(1 << 64, _word_at(data, at))
    end = at + 32 + length
    padded = end + -length % 32
    if padded > len(data):
        raise InsufficientDataBytes(f"{len(data)} bytes of data, {length} bytes wanted at {at + 32}")
    if data[end:padded] != _ZERO_WORD[: padded - end]:
        raise NonEmptyPaddingBytes(f"padding bytes after {length} bytes at {at + 32} were not empty")
    return data[at + 32 : end]


def _string_at(data: bytes, at: int) -> str:
    try:
        return _bytes_at(data, at).decode("utf-8")
    except UnicodeDecodeError as error:
        raise DecodingError(f"string at {at} is not UTF-8: {error}") from error


def _array_at(inner: WordDecoder, data: bytes, at: int) -> list[Any]:
    """A ``T[]`` tail of one-word ``T``: its length word, then the elements."""
    count = _uint(1 << 64, _word_at(data, at))
    if at + 32 * (count + 1) > len(data):
        raise InsufficientDataBytes(f"{len(data)} bytes of data, {count} words wanted at {at + 32}")
    return [inner(data[i : i + 32]) for i in range(at + 32, at + 32 * (count + 1), 32)]


def tail_decoder(kind: str) -> TailDecoder | None:
    """The decoder of a dynamic ABI type at an offset into data: strings, bytes and arrays of one-word
    types; None for any other type."""
    if kind == "string":
        return _string_at
    if kind == "bytes":
        return _bytes_at
    if kind.endswith("[]") and (inner := word_decoder(kind[:-2])) is not None:
        return partial(_array_at, inner)
    return None


Plan = tuple[tuple[str, WordDecoder | None, TailDecoder | None], ...]


def _data_plan(params: Sequence[Param]) -> Plan | None:
    """How to decode data of ``params`` word by word: per parameter its name and its word or tail decoder;
    None if a parameter is neither (a tuple, a fixed-size array)."""
    plan = []
    for param in params:
        kind = type_of(param)
        word, tail = word_decoder(kind), tail_decoder(kind)
        if word is None and tail is None:
            return None
        plan.append((param["name"], word, tail))
    return tuple(plan)


def decode_words(plan: Plan, data: bytes) -> dict[str, Any]:
    """Data decoded by a :func:`_data_plan`: heads in order, a dynamic argument at its offset."""
    if len(data) < 32 * len(plan):
        raise InsufficientDataBytes(f"{len(data)} bytes of data for {len(plan)} head words")
    args = {}
    for i, (name, word, tail) in enumerate(plan):
        head = data[32 * i : 32 * i + 32]
        if word is not None:
            args[name] = word(head)
            continue
        offset = _uint(1 << 64, head)
        if not 32 * len(plan) <= offset < len(data):
            raise InvalidPointer(f"offset {offset} of {name} points into the heads or past the data")
        args[name] = tail(data, offset)  # type: ignore[misc]
    return args


@dataclass(frozen=True)
class EventDecoder:
    """One event: its topic and the decoding of a log's topics and data into arguments by name."""

    name: str
    topic: bytes
    topic_params: tuple[Param, ...]
    data_params: tuple[Param, ...]
    topic_words: tuple[WordDecoder | None, ...]
    data_plan: Plan | None

    @classmethod
    def of(cls, entry: Param) -> EventDecoder:
        inputs = entry["inputs"]
        indexed = tuple(i for i in inputs if i.get("indexed"))
        data = tuple(i for i in inputs if not i.get("indexed"))
        return cls(
            entry["name"],
            keccak(text=signature(entry)),
            indexed,
            data,
            tuple(word_decoder(type_of(i)) for i in indexed),
            _data_plan(data),
        )

    def decode(self, codec: Any, topics: Sequence[bytes], data: bytes) -> dict[str, Any]:
        """The arguments of a log (``topics`` without the event's own); a dynamic indexed argument stays
        its keccak256, as the log holds nothing else of it."""
        if len(topics) != len(self.topic_params):
            raise ValueError(f"{self.name}: {len(topics)} topics for {len(self.topic_params)} indexed inputs")
        args: dict[str, Any] = {}
        for param, word, topic in zip(self.topic_params, self.topic_words, topics, strict=True):
            kind = type_of(param)
            if word is not None:
                args[param["name"]] = word(_word_at(topic, 0))
            else:
                args[param["name"]] = (
                    named(codec.decode([kind], topic)[0], param, _struct_dict) if _is_static(kind) else topic
                )
        if self.data_plan is not None:
            return {**args, **decode_words(self.data_plan, data)}
        values = codec.decode([type_of(p) for p in self.data_params], data)
        args.update(
            {p["name"]: named(v, p, _struct_dict) for p, v in zip(self.data_params, values, strict=True)}
        )
        return args


@dataclass(frozen=True)
class Function:
    """One function: its calldata for given arguments, and (for a view) its return data decoded."""

    name: str
    selector: bytes
    input_types: tuple[str, ...]
    outputs: tuple[Param, ...]

    @classmethod
    def of(cls, entry: Param) -> Function:
        return cls(
            entry["name"],
            keccak(text=signature(entry))[:4],
            tuple(type_of(i) for i in entry["inputs"]),
            tuple(entry["outputs"]),
        )

    def calldata(self, codec: Any, args: Sequence[Any]) -> str:
        if len(args) != len(self.input_types):
            raise TypeError(f"{self.name} takes {len(self.input_types)} arguments, not {len(args)}")
        return "0x" + (self.selector + codec.encode(list(self.input_types), list(args))).hex()

    def result(self, codec: Any, data: bytes) -> Any:
        """The single return value, or a list of them."""
        values = codec.decode([type_of(p) for p in self.outputs], data)
        decoded = [named(v, p, _struct_tuple) for p, v in zip(self.outputs, values, strict=True)]
        return decoded[0] if len(decoded) == 1 else decoded
