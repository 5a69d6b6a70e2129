"""An in-process federated simulation with the learning core, to measure crafted attacks against the
aggregation rules: ``clients`` trainers on Dirichlet non-IID shards, the first ``n_attackers`` of them
Byzantine, ``rounds`` rounds of deterministic local training and aggregation, then test accuracy.

Honest clients run :func:`~agents.learning.training.run_steps` over all their local steps at once
(bit-identical to :func:`train_locally`'s final weights, without encoding checkpoints). Robust rules are
configured for ``f`` Byzantine clients whatever the actual number: the defender does not know it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from agents.attacks.crafted import craft
from agents.attacks.data import flip_labels
from agents.learning.aggregation.registry import aggregate, rule_id
from agents.learning.codec import State
from agents.learning.dataset import Dataset
from agents.learning.errors import AggregationInputError
from agents.learning.evaluation import evaluate_state
from agents.learning.flat import flatten_state, unflatten_state
from agents.learning.hashing import sha256
from agents.learning.hyperparams import HyperParams
from agents.learning.sharding import shard_indices
from agents.learning.skills.registry import get_skill, initial_state
from agents.learning.training import initial_checkpoint, model_part, run_steps

LABEL_FLIP = "label_flip"


@dataclass(frozen=True)
class SimConfig:
    """One federation: clients, rounds, non-IID shards, local hyper-parameters and the rules' settings."""

    clients: int = 20
    rounds: int = 12
    alpha: float = 0.5
    hp: HyperParams = field(
        default_factory=lambda: HyperParams(
            local_steps=20, batch_size=32, lr=0.1, momentum=0.9, checkpoint_every=10
        )
    )
    f: int = 6
    """Byzantine clients the robust rules are configured to tolerate."""
    cc_tau: float = 1.0
    shard_seed: int = 7
    init_seed: int = 0
    skill: str = "vision"

    def rule_params(self, rule: str) -> dict[str, Any]:
        """Parameters handed to :func:`aggregate` for ``rule`` (beyond its registry defaults)."""
        params: dict[str, dict[str, Any]] = {
            "trimmed_mean": {"f": self.f},
            "krum": {"f": self.f},
            "multi_krum": {"f": self.f, "m": self.clients - self.f},
            "centered_clipping": {"tau": self.cc_tau},
        }
        return params.get(rule, {})


@dataclass(frozen=True)
class SimResult:
    accuracy: float
    refused_rounds: int
    """Rounds whose aggregation refused the updates (e.g. non-finite); the model was kept."""


def _client_seed(round_index: int, client: int) -> int:
    return int.from_bytes(sha256(f"aoai-sim:{round_index}:{client}".encode())[:8], "big") >> 1


def _local_update(cfg: SimConfig, state: State, data: Dataset, seed: int) -> State:
    skill = get_skill(cfg.skill)
    start = initial_checkpoint(state, cfg.hp)
    end = model_part(
        run_steps(skill, skill.default_config, start, state, data, seed, cfg.hp, 0, cfg.hp.local_steps)
    )
    return {name: end[name] - state[name] for name in end}


def simulate(
    cfg: SimConfig,
    rule: str,
    attack: str | None = None,
    n_attackers: int = 0,
    attack_params: Mapping[str, Any] | None = None,
) -> SimResult:
    """Final test accuracy of ``rule`` with ``n_attackers`` running ``attack`` (a crafted attack or
    :data:`LABEL_FLIP`) in every round."""
    skill = get_skill(cfg.skill)
    config, splits = skill.default_config, skill.load_data()
    spec = skill.spec(config)
    parts = shard_indices(splits.train.labels.numpy(), cfg.clients, cfg.shard_seed, cfg.alpha)
    shards = [splits.train.subset(p) for p in parts]
    poisoned = attack == LABEL_FLIP
    if poisoned:
        shards[:n_attackers] = [flip_labels(s) for s in shards[:n_attackers]]
    state = initial_state(skill, config, cfg.init_seed)
    rid, params = rule_id(rule), cfg.rule_params(rule)
    previous: torch.Tensor | None = None
    refused = 0
    for r in range(cfg.rounds):
        trained = range(cfg.clients) if poisoned or not n_attackers else range(n_attackers, cfg.clients)
        rows = [
            flatten_state(_local_update(cfg, state, shards[c], _client_seed(r, c)), spec) for c in trained
        ]
        stacked = torch.stack(rows)
        if n_attackers and attack is not None and not poisoned:
            extra = {"seed": r} if attack == "gaussian_noise" else {}
            malicious = craft(attack, stacked, n_attackers, **{**extra, **(attack_params or {})})
            stacked = torch.cat([malicious, stacked])
        if rule == "centered_clipping" and previous is not None:
            params = {**params, "center": previous}
        try:
            delta = aggregate(rid, stacked, **params)
        except AggregationInputError:
            refused += 1
            continue
        if not bool(torch.isfinite(delta).all()):
            refused += 1
            continue
        previous = delta
        change = unflatten_state(delta, spec)
        state = {name: state[name] + change[name] for name in state}
    metrics = evaluate_state(skill, config, state, splits.test)
    return SimResult(metrics["accuracy"], refused)
