"""Flatten a state dict into one float32 vector and back, in the spec's (sorted-name) order."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from agents.learning.codec import State, StateSpec
from agents.learning.errors import WeightFormatError


def flatten_state(state: Mapping[str, torch.Tensor], spec: StateSpec) -> torch.Tensor:
    """Concatenate the tensors named in ``spec`` (sorted order) into one float32 vector."""
    if set(state) != set(spec):
        raise WeightFormatError(f"state names differ from the spec: {sorted(set(state) ^ set(spec))}")
    return torch.cat([state[name].detach().reshape(-1).to(torch.float32) for name in sorted(spec)])


def unflatten_state(vector: torch.Tensor, spec: StateSpec) -> State:
    """Split a vector made by :func:`flatten_state` back into tensors of the spec's shapes and dtypes."""
    names = sorted(spec)
    sizes = [spec[name].numel for name in names]
    if vector.dim() != 1 or vector.numel() != sum(sizes):
        raise WeightFormatError(f"vector of shape {tuple(vector.shape)} does not hold {sum(sizes)} values")
    parts = torch.split(vector, sizes)
    return {
        name: part.reshape(spec[name].shape).to(spec[name].dtype).clone()
        for name, part in zip(names, parts, strict=True)
    }
