"""Crafted (Byzantine) updates: pure functions of the honest updates the attackers can see.

Every attack takes the honest updates as one ``n x d`` float32 tensor (omniscient attackers, as in the
papers) and returns the ``n_attackers x d`` malicious rows. Randomised attacks draw from a private
``torch.Generator`` seeded by ``seed``, so a run is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist
from typing import Any

import torch

from agents.attacks.errors import AttackError


def _check(honest: torch.Tensor, n_attackers: int) -> tuple[int, int]:
    if not isinstance(honest, torch.Tensor) or honest.dim() != 2 or honest.shape[0] < 1:
        raise AttackError("honest updates must be one non-empty n x d tensor")
    if n_attackers < 0:
        raise AttackError(f"n_attackers must be non-negative, got {n_attackers}")
    return int(honest.shape[0]), int(honest.shape[1])


def _repeat(row: torch.Tensor, n_attackers: int) -> torch.Tensor:
    return row.to(torch.float32).expand(n_attackers, -1).clone()


def sign_flip(honest: torch.Tensor, n_attackers: int, scale: float = 1.0) -> torch.Tensor:
    """Every attacker sends ``-scale * mean(honest)``: the honest direction reversed.

    The "bit-flipping" attack of Karimireddy, He, Jaggi 2021, "Learning from History for Byzantine
    Robust Optimization" (omniscient form: the flipped honest mean).
    """
    _check(honest, n_attackers)
    return _repeat(-scale * honest.mean(dim=0), n_attackers)


def scaled(honest: torch.Tensor, n_attackers: int, factor: float = 100.0) -> torch.Tensor:
    """Attacker ``j`` sends honest update ``j mod n`` multiplied by ``factor``: an overshooting boost.

    Boosting as in Bhagoji et al. 2019, "Analyzing Federated Learning through an Adversarial Lens", and
    model replacement in Bagdasaryan et al. 2020, "How To Backdoor Federated Learning"; a plain mean
    then moves about ``factor * n_attackers / n_total`` times as far as the honest clients intend.
    """
    n, _ = _check(honest, n_attackers)
    return (factor * honest[torch.arange(n_attackers) % n]).to(torch.float32)


def gaussian_noise(honest: torch.Tensor, n_attackers: int, sigma: float = 1.0, seed: int = 0) -> torch.Tensor:
    """Each attacker sends i.i.d. ``N(0, sigma^2)`` coordinates.

    The Gaussian Byzantine workers of Blanchard et al. 2017, "Machine Learning with Adversaries:
    Byzantine Tolerant Gradient Descent".
    """
    _, d = _check(honest, n_attackers)
    generator = torch.Generator().manual_seed(seed)
    return sigma * torch.randn(n_attackers, d, generator=generator, dtype=torch.float32)


def alie_z(n_total: int, n_attackers: int) -> float:
    """Baruch et al.'s ``z_max``: with ``s = floor(n/2 + 1) - f``, ``z = Phi^-1((n - s) / n)``."""
    s = math.floor(n_total / 2 + 1) - n_attackers
    return max(0.0, NormalDist().inv_cdf(min(max((n_total - s) / n_total, 1e-12), 1 - 1e-12)))


def alie(honest: torch.Tensor, n_attackers: int, z: float | None = None) -> torch.Tensor:
    """ "A Little Is Enough": every attacker sends ``mean - z * std`` (coordinate-wise over the honest rows).

    Baruch, Baruch, Goldberg 2019, "A Little Is Enough: Circumventing Defenses For Distributed
    Learning". Each coordinate stays within ``z`` standard deviations of the honest mean, so median-
    and distance-based rules cannot tell it apart, yet all coordinates move the same way. ``z``
    defaults to the paper's :func:`alie_z` for ``n + n_attackers`` workers.
    """
    n, _ = _check(honest, n_attackers)
    if z is None:
        z = alie_z(n + n_attackers, n_attackers)
    mean, std = honest.mean(dim=0), honest.std(dim=0, correction=0)
    return _repeat(mean - z * std, n_attackers)


def ipm(honest: torch.Tensor, n_attackers: int, epsilon: float = 0.1) -> torch.Tensor:
    """Inner-product manipulation: every attacker sends ``-epsilon * mean(honest)``.

    Xie, Koyejo, Gupta 2019, "Fall of Empires: Breaking Byzantine-tolerant SGD by Inner Product
    Manipulation": a small ``epsilon`` slips past robust rules and drags their output's inner
    product with the true mean towards (or below) zero; ``epsilon > n / n_attackers`` makes even the
    plain mean point backwards.
    """
    _check(honest, n_attackers)
    return _repeat(-epsilon * honest.mean(dim=0), n_attackers)


CRAFTED: dict[str, Callable[..., torch.Tensor]] = {
    "sign_flip": sign_flip,
    "scaled": scaled,
    "gaussian_noise": gaussian_noise,
    "alie": alie,
    "ipm": ipm,
}


def craft(name: str, honest: torch.Tensor, n_attackers: int, **params: Any) -> torch.Tensor:
    """The ``n_attackers x d`` malicious rows of attack ``name`` (see :data:`CRAFTED`) against ``honest``."""
    if name not in CRAFTED:
        raise AttackError(f"unknown crafted attack {name!r}; known: {sorted(CRAFTED)}")
    return CRAFTED[name](honest, n_attackers, **params)
