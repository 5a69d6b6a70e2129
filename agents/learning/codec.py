"""Canonical safetensors encoding of state dicts, and strict decoding of untrusted bytes.

Canonical form: tensors in sorted name order, laid out contiguously in that order, header JSON with
sorted keys and no whitespace, padded with spaces to a multiple of 8, no ``__metadata__``. It is a
valid safetensors file, and the same tensors always give the same bytes. Pickle is never used.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as _safetensors_load

from agents.learning import peerjson
from agents.learning.errors import WeightFormatError

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
MAX_HEADER_BYTES = 1024 * 1024

_DTYPE_NAMES: dict[torch.dtype, str] = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int8: "I8",
    torch.int32: "I32",
    torch.int64: "I64",
}

State = dict[str, torch.Tensor]


@dataclass(frozen=True)
class TensorSpec:
    """Expected shape and dtype of one named tensor."""

    shape: tuple[int, ...]
    dtype: torch.dtype

    @property
    def numel(self) -> int:
        return int(torch.Size(self.shape).numel())


StateSpec = Mapping[str, TensorSpec]


def spec_of(state: Mapping[str, torch.Tensor]) -> dict[str, TensorSpec]:
    """The spec (names, shapes, dtypes) of a state dict, e.g. of a freshly built model."""
    return {name: TensorSpec(tuple(t.shape), t.dtype) for name, t in sorted(state.items())}


def encode_state(state: Mapping[str, torch.Tensor]) -> bytes:
    """Canonical safetensors bytes of a state dict (see the module docstring)."""
    header: dict[str, object] = {}
    chunks: list[bytes] = []
    offset = 0
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        if tensor.dtype not in _DTYPE_NAMES:
            raise WeightFormatError(f"tensor {name!r}: dtype {tensor.dtype} is not supported")
        data = tensor.reshape(-1).view(torch.uint8).numpy().tobytes()  # little-endian, as on x86/ARM
        header[name] = {
            "data_offsets": [offset, offset + len(data)],
            "dtype": _DTYPE_NAMES[tensor.dtype],
            "shape": list(tensor.shape),
        }
        chunks.append(data)
        offset += len(data)
    header_bytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)
    return struct.pack("<Q", len(header_bytes)) + header_bytes + b"".join(chunks)


def _read_header(data: bytes) -> dict[str, object]:
    if len(data) < 8:
        raise WeightFormatError(f"truncated: {len(data)} bytes is shorter than the 8-byte header length")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > MAX_HEADER_BYTES:
        raise WeightFormatError(
            f"header length {header_len} exceeds {MAX_HEADER_BYTES} bytes: not safetensors"
        )
    if 8 + header_len > len(data):
        raise WeightFormatError(f"truncated: header of {header_len} bytes but only {len(data) - 8} follow")
    try:
        header = peerjson.loads(data[8 : 8 + header_len])
    except peerjson.PeerJSONError as exc:
        raise WeightFormatError(f"malformed header: {exc}") from exc
    if not isinstance(header, dict):
        raise WeightFormatError("malformed header: not a JSON object")
    header.pop("__metadata__", None)
    return header


def _check_header(header: Mapping[str, object], spec: StateSpec) -> None:
    missing = sorted(set(spec) - set(header))
    extra = sorted(set(header) - set(spec))
    if missing or extra:
        raise WeightFormatError(
            f"tensor names differ from the architecture: missing {missing}, extra {extra}"
        )
    for name, expected in spec.items():
        entry = header[name]
        if not isinstance(entry, dict):
            raise WeightFormatError(f"malformed header entry for {name!r}")
        if entry.get("dtype") != _DTYPE_NAMES[expected.dtype]:
            raise WeightFormatError(
                f"tensor {name!r}: dtype {entry.get('dtype')} but {_DTYPE_NAMES[expected.dtype]} expected"
            )
        if entry.get("shape") != list(expected.shape):
            raise WeightFormatError(
                f"tensor {name!r}: shape {entry.get('shape')} but {list(expected.shape)} expected"
            )


def decode_state(data: bytes, spec: StateSpec, max_bytes: int = DEFAULT_MAX_BYTES) -> State:
    """Decode untrusted safetensors bytes into a state dict matching ``spec`` exactly.

    Refuses, with :class:`WeightFormatError`: more than ``max_bytes`` (checked before parsing), a
    truncated or malformed file (a pickle included), missing or extra tensors, a wrong dtype or
    shape, and any NaN or infinity.
    """
    if len(data) > max_bytes:
        raise WeightFormatError(f"{len(data)} bytes exceeds the limit of {max_bytes} bytes")
    _check_header(_read_header(data), spec)
    try:
        tensors = _safetensors_load(bytes(data))
    except (SafetensorError, ValueError) as exc:
        raise WeightFormatError(f"malformed safetensors file: {exc}") from exc
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not all_finite(tensor):
            raise WeightFormatError(f"tensor {name!r} contains NaN or infinity")
    return dict(sorted(tensors.items()))


def all_finite(tensor: torch.Tensor) -> bool:
    """``torch.isfinite(tensor).all()`` for a float tensor (without autograd), through numpy: 3-6x faster on
    a model's small tensors, which makes decoding a vision checkpoint (12 tensors) 390 -> 215 us."""
    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16: NaN and infinity have every exponent bit set
        exponent = np.uint16(0x7F80)
        return not bool(np.any(tensor.view(torch.int16).numpy().view(np.uint16) & exponent == exponent))
    return bool(np.isfinite(tensor.numpy()).all())
