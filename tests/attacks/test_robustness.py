"""A small federation: at 20% attackers sending boosted updates, plain FedAvg collapses while a robust rule
stays near the no-attack run."""

from __future__ import annotations

import pytest

from agents.attacks.simulation import SimConfig, simulate
from agents.learning.hyperparams import HyperParams

CFG = SimConfig(
    clients=10,
    rounds=4,
    f=2,
    cc_tau=3.0,
    hp=HyperParams(local_steps=10, batch_size=32, lr=0.1, momentum=0.9, checkpoint_every=10),
)


@pytest.fixture(scope="module")
def clean() -> float:
    return simulate(CFG, "fedavg").accuracy


@pytest.mark.parametrize("attack", ["scaled", "gaussian_noise"])
def test_a_robust_rule_holds_where_fedavg_collapses(clean: float, attack: str) -> None:
    attacked = simulate(CFG, "fedavg", attack, n_attackers=2).accuracy
    robust = simulate(CFG, "centered_clipping", attack, n_attackers=2).accuracy
    assert clean > 0.7
    assert attacked < clean - 0.25
    assert robust > clean - 0.05
