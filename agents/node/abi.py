"""ABI entries prepared once, for what agents do on every block: decode logs and call views.

web3's ``get_event_data`` and contract functions re-derive types, selectors and formatters on every use;
agents decode every log of the protocol and read a few views per block, so here each event and view is
prepared once and a use is one ``eth_abi`` encode or decode around a raw JSON-RPC request. Values come
out as web3 gives them: checksummed addresses, arrays as lists, structs as named tuples (views) or dicts
by component name (events).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class EventDecoder:
    """One event: its topic and the decoding of a log's topics and data into arguments by name."""

    name: str
    topic: bytes
    topic_params: tuple[Param, ...]
    data_params: tuple[Param, ...]

    @classmethod
    def of(cls, entry: Param) -> EventDecoder:
        inputs = entry["inputs"]
        return cls(
            entry["name"],
            keccak(text=signature(entry)),
            tuple(i for i in inputs if i.get("indexed")),
            tuple(i for i in inputs if not i.get("indexed")),
        )

    def decode(self, codec: Any, topics: Sequence[bytes], data: bytes) -> dict[str, Any]:
        """The arguments of a log (``topics`` without the event's own); a dynamic indexed argument stays
        its keccak256, as the log holds nothing else of it."""
        if len(topics) != len(self.topic_params):
            raise ValueError(f"{self.name}: {len(topics)} topics for {len(self.topic_params)} indexed inputs")
        args: dict[str, Any] = {}
        for param, topic in zip(self.topic_params, topics, strict=True):
            kind = type_of(param)
            args[param["name"]] = (
                named(codec.decode([kind], topic)[0], param, _struct_dict) if _is_static(kind) else topic
            )
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
