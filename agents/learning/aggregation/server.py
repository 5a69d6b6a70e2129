"""Server optimizers applied to the aggregated update (the "pseudo-gradient" ``delta``).

FedAdam, FedYogi and FedAdagrad follow Reddi et al. 2021, "Adaptive Federated Optimization"
(Algorithm 2); FedAvgM is server momentum, Hsu, Qi, Brown 2019, "Measuring the Effects of
Non-Identical Data Distribution for Federated Visual Classification"; "fedavg" applies ``lr * delta``.
The state (m, v, t) serialises to canonical safetensors so anyone can recompute the next step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from agents.learning.codec import DEFAULT_MAX_BYTES, TensorSpec, decode_state, encode_state
from agents.learning.errors import AggregationInputError

ServerKind = Literal["fedavg", "fedavgm", "fedadam", "fedyogi", "fedadagrad"]
SERVER_KINDS: tuple[ServerKind, ...] = ("fedavg", "fedavgm", "fedadam", "fedyogi", "fedadagrad")
"""Server optimizers by the small integer id the chain stores (the index)."""


@dataclass(frozen=True)
class ServerState:
    """First moment ``m``, second moment ``v`` (both float32, length d) and the round count ``t``."""

    m: torch.Tensor
    v: torch.Tensor
    t: int

    @classmethod
    def initial(cls, d: int, tau: float) -> ServerState:
        """``m = 0``, ``v = tau^2`` (Reddi et al. initialise ``v_{-1} >= tau^2``), ``t = 0``."""
        return cls(torch.zeros(d), torch.full((d,), tau * tau), 0)

    def to_bytes(self) -> bytes:
        return encode_state({"m": self.m, "v": self.v, "t": torch.tensor(self.t, dtype=torch.int64)})

    @classmethod
    def from_bytes(cls, data: bytes, d: int, max_bytes: int = DEFAULT_MAX_BYTES) -> ServerState:
        spec = {
            "m": TensorSpec((d,), torch.float32),
            "v": TensorSpec((d,), torch.float32),
            "t": TensorSpec((), torch.int64),
        }
        tensors = decode_state(data, spec, max_bytes)
        return cls(tensors["m"], tensors["v"], int(tensors["t"]))


@dataclass(frozen=True)
class ServerOptimizer:
    """One of :data:`ServerKind` with its server learning rate and moment parameters."""

    kind: ServerKind = "fedavg"
    lr: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-3

    @classmethod
    def from_id(cls, kind_id: int, **params: float) -> ServerOptimizer:
        """The optimizer with chain id ``kind_id`` (see :data:`SERVER_KINDS`) and the given parameters."""
        if not 0 <= kind_id < len(SERVER_KINDS):
            raise AggregationInputError(f"unknown server optimizer id {kind_id}")
        return cls(SERVER_KINDS[kind_id], **params)

    def initial_state(self, d: int) -> ServerState:
        return ServerState.initial(d, self.tau)

    def step(self, state: ServerState, delta: torch.Tensor) -> tuple[torch.Tensor, ServerState]:
        """The change to add to the global weights, and the next state."""
        if delta.shape != state.m.shape or not bool(torch.isfinite(delta).all()):
            raise AggregationInputError(f"delta must be a finite vector of length {state.m.numel()}")
        t = state.t + 1
        if self.kind == "fedavg":
            return self.lr * delta, ServerState(state.m, state.v, t)
        if self.kind == "fedavgm":
            m = self.beta1 * state.m + delta
            return self.lr * m, ServerState(m, state.v, t)
        m = self.beta1 * state.m + (1 - self.beta1) * delta
        square = delta * delta
        if self.kind == "fedadagrad":
            v = state.v + square
        elif self.kind == "fedadam":
            v = self.beta2 * state.v + (1 - self.beta2) * square
        elif self.kind == "fedyogi":
            v = state.v - (1 - self.beta2) * square * torch.sign(state.v - square)
        else:
            raise AggregationInputError(f"unknown server optimizer {self.kind!r}")
        return self.lr * m / (v.sqrt() + self.tau), ServerState(m, v, t)
