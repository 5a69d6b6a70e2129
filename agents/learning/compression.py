"""Optional lossy compression of published updates: fp16, or int8 with one float32 scale per tensor.

The compression mode is part of the job's configuration, never read from the untrusted bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch

from agents.learning.codec import DEFAULT_MAX_BYTES, State, StateSpec, TensorSpec, decode_state, encode_state
from agents.learning.errors import WeightFormatError

Compression = Literal["none", "fp16", "int8"]
SCALE_SUFFIX = ".scale"
_FP16_MAX = float(torch.finfo(torch.float16).max)


def compressed_spec(spec: StateSpec, mode: Compression) -> dict[str, TensorSpec]:
    """The spec of an update's tensors as they travel in ``mode``."""
    if mode == "none":
        return dict(spec)
    if mode == "fp16":
        return {name: TensorSpec(s.shape, torch.float16) for name, s in spec.items()}
    if mode == "int8":
        out = {name: TensorSpec(s.shape, torch.int8) for name, s in spec.items()}
        out.update({name + SCALE_SUFFIX: TensorSpec((), torch.float32) for name in spec})
        return out
    raise WeightFormatError(f"unknown compression {mode!r}")


def compress(state: Mapping[str, torch.Tensor], mode: Compression) -> State:
    """Tensors of ``state`` in compressed form (int8 rounds to nearest, scale = max|x| / 127)."""
    if mode == "none":
        return dict(state)
    if mode == "fp16":
        too_large = [n for n, t in state.items() if t.numel() and float(t.abs().max()) > _FP16_MAX]
        if too_large:
            raise WeightFormatError(f"values exceed the float16 range in {too_large}")
        return {name: t.to(torch.float16) for name, t in state.items()}
    if mode == "int8":
        out: State = {}
        for name, t in state.items():
            peak = float(t.abs().max()) if t.numel() else 0.0
            scale = torch.tensor(peak / 127.0 if peak > 0 else 1.0, dtype=torch.float32)
            out[name] = torch.round(t.to(torch.float32) / scale).clamp(-127, 127).to(torch.int8)
            out[name + SCALE_SUFFIX] = scale
        return out
    raise WeightFormatError(f"unknown compression {mode!r}")


def decompress(tensors: Mapping[str, torch.Tensor], spec: StateSpec, mode: Compression) -> State:
    """Inverse of :func:`compress`, back to the dtypes of ``spec``."""
    if mode == "int8":
        return {
            name: (tensors[name].to(torch.float32) * tensors[name + SCALE_SUFFIX]).to(s.dtype)
            for name, s in spec.items()
        }
    return {name: tensors[name].to(s.dtype) for name, s in spec.items()}


def encode_update(update: Mapping[str, torch.Tensor], mode: Compression = "none") -> bytes:
    """Canonical safetensors bytes of an update in the given compression."""
    return encode_state(compress(update, mode))


def decode_update(
    data: bytes, spec: StateSpec, mode: Compression = "none", max_bytes: int = DEFAULT_MAX_BYTES
) -> State:
    """Strictly decode (see :func:`decode_state`) and decompress an update published in ``mode``."""
    return decompress(decode_state(data, compressed_spec(spec, mode), max_bytes), spec, mode)


def relative_error(original: Mapping[str, torch.Tensor], restored: Mapping[str, torch.Tensor]) -> float:
    """Relative L2 error ``||restored - original|| / ||original||`` over all tensors together."""
    diff = sum(float((restored[n].double() - original[n].double()).pow(2).sum()) for n in original)
    norm = sum(float(original[n].double().pow(2).sum()) for n in original)
    return (diff / norm) ** 0.5 if norm > 0 else diff**0.5
