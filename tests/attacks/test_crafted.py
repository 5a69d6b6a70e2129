"""Crafted updates: shapes and each attack's defining property."""

from __future__ import annotations

import pytest
import torch

from agents.attacks import (
    CRAFTED,
    AttackError,
    alie,
    alie_z,
    craft,
    flip_labels,
    gaussian_noise,
    ipm,
    scaled,
    sign_flip,
)
from agents.learning.aggregation import fedavg
from agents.learning.dataset import Dataset


@pytest.fixture
def honest() -> torch.Tensor:
    generator = torch.Generator().manual_seed(5)
    return torch.randn(16, 300, generator=generator) * 0.1 + 0.05


@pytest.mark.parametrize("name", sorted(CRAFTED))
@pytest.mark.parametrize("n_attackers", [0, 1, 4])
def test_every_attack_returns_the_malicious_rows(name: str, n_attackers: int, honest: torch.Tensor) -> None:
    rows = craft(name, honest, n_attackers)
    assert rows.shape == (n_attackers, honest.shape[1])
    assert rows.dtype == torch.float32
    assert bool(torch.isfinite(rows).all())


def test_craft_refuses_unknown_attacks_and_bad_input(honest: torch.Tensor) -> None:
    with pytest.raises(AttackError):
        craft("nope", honest, 1)
    with pytest.raises(AttackError):
        craft("sign_flip", honest[0], 1)
    with pytest.raises(AttackError):
        craft("alie", honest, -1)


def test_sign_flip_is_the_reversed_honest_mean(honest: torch.Tensor) -> None:
    rows = sign_flip(honest, 3)
    torch.testing.assert_close(rows, -honest.mean(dim=0).expand(3, -1))
    cos = torch.nn.functional.cosine_similarity(rows[0], honest.mean(dim=0), dim=0)
    assert float(cos) == pytest.approx(-1.0)


def test_scaled_boosts_honest_updates(honest: torch.Tensor) -> None:
    rows = scaled(honest, 20, factor=50.0)
    torch.testing.assert_close(rows[3], 50.0 * honest[3])
    torch.testing.assert_close(rows[17], 50.0 * honest[1])


def test_gaussian_noise_is_seeded_with_the_given_scale(honest: torch.Tensor) -> None:
    rows = gaussian_noise(honest, 4, sigma=2.0, seed=1)
    assert torch.equal(rows, gaussian_noise(honest, 4, sigma=2.0, seed=1))
    assert not torch.equal(rows, gaussian_noise(honest, 4, sigma=2.0, seed=2))
    assert float(rows.std()) == pytest.approx(2.0, rel=0.05)


def test_alie_stays_within_z_standard_deviations_of_every_coordinate(honest: torch.Tensor) -> None:
    z = alie_z(20, 4)
    assert z == pytest.approx(0.3853, abs=1e-3)  # s = 7: Phi^-1(13/20)
    rows = alie(honest, 4)
    mean, std = honest.mean(dim=0), honest.std(dim=0, correction=0)
    assert bool(((rows - mean).abs() <= z * std + 1e-6).all())
    assert bool((rows <= mean + 1e-6).all())  # every coordinate moved the same way
    inside = (rows[0] >= honest.min(dim=0).values) & (rows[0] <= honest.max(dim=0).values)
    assert bool(inside.all())


def test_ipm_has_a_negative_inner_product_with_the_honest_mean(honest: torch.Tensor) -> None:
    mean = honest.mean(dim=0)
    rows = ipm(honest, 4, epsilon=0.1)
    assert float(rows[0] @ mean) < 0
    torch.testing.assert_close(rows[0], -0.1 * mean)
    # With epsilon > n / n_attackers even the plain mean points backwards.
    assert float(fedavg(torch.cat([ipm(honest, 4, epsilon=5.0), honest])) @ mean) < 0
    assert float(fedavg(torch.cat([rows, honest])) @ mean) > 0


def test_label_flipping_maps_y_to_nine_minus_y() -> None:
    data = Dataset(torch.zeros(10, 2), torch.arange(10), torch.arange(10))
    flipped = flip_labels(data)
    assert flipped.targets.tolist() == list(range(9, -1, -1))
    assert torch.equal(flipped.labels, data.labels)
    with pytest.raises(AttackError):
        flip_labels(Dataset(torch.zeros(1, 2), torch.tensor([10]), torch.tensor([0])))
