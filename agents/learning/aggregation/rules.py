"""Aggregation rules: pure functions from a stacked ``n x d`` float32 update tensor to one ``d`` vector.

Each validates its input and raises :class:`~agents.learning.errors.AggregationInputError` on empty,
non-finite or mismatched input, or on too few updates for the number ``f`` of Byzantine ones it
must tolerate. Distance-based rules work on the ``n x n`` Gram matrix, so they read the updates
once or twice whatever their iteration count.
"""

from __future__ import annotations

import torch

from agents.learning.aggregation.kernels import (
    gram_matrix,
    mean_of_sorted_range,
    squared_distances,
    weighted_sum,
)
from agents.learning.aggregation.validation import check_finite, check_updates, check_weights
from agents.learning.errors import AggregationInputError


def fedavg(updates: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Sample-weighted mean of the updates (FedAvg).

    McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks from Decentralized Data".
    ``weights`` are typically the clients' example counts; uniform when None.
    """
    n, _ = check_updates(updates)
    return weighted_sum(updates, check_weights(weights, n))


def coordinate_median(updates: torch.Tensor) -> torch.Tensor:
    """Coordinate-wise median (mean of the two middle values for even n).

    Yin et al. 2018, "Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates".
    """
    n, _ = check_updates(updates)
    return mean_of_sorted_range(updates, (n - 1) // 2, n // 2 + 1)


def trimmed_mean(updates: torch.Tensor, f: int) -> torch.Tensor:
    """Coordinate-wise mean after dropping the ``f`` largest and ``f`` smallest values (needs n > 2f).

    Yin et al. 2018, "Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates".
    """
    if f < 0:
        raise AggregationInputError(f"f must be non-negative, got {f}")
    n, _ = check_updates(updates, 2 * f + 1, f"trimmed mean dropping {f} per side needs n > 2f")
    return mean_of_sorted_range(updates, f, n - f)


def krum_scores(updates: torch.Tensor, f: int) -> torch.Tensor:
    """Krum score per update: sum of squared distances to its ``n - f - 2`` nearest other updates."""
    if f < 0:
        raise AggregationInputError(f"f must be non-negative, got {f}")
    n, _ = check_updates(updates, 2 * f + 3, f"Krum tolerating f={f} needs n > 2f + 2")
    dist = squared_distances(gram_matrix(updates))
    dist.fill_diagonal_(float("inf"))
    return dist.sort(dim=1).values[:, : n - f - 2].sum(dim=1)


def krum(updates: torch.Tensor, f: int) -> torch.Tensor:
    """The update with the lowest Krum score (needs n > 2f + 2).

    Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent".
    """
    return updates[int(krum_scores(updates, f).argmin())].clone()


def multi_krum(updates: torch.Tensor, f: int, m: int, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted mean of the ``m`` updates with the lowest Krum scores (scores computed once).

    Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent".
    """
    scores = krum_scores(updates, f)
    n = scores.numel()
    if not 1 <= m <= n:
        raise AggregationInputError(f"Multi-Krum must keep between 1 and {n} updates, got m={m}")
    keep = torch.zeros(n, dtype=torch.float64)
    keep[scores.argsort(stable=True)[:m]] = 1.0
    return weighted_sum(updates, check_weights(keep * check_weights(weights, n), n))


def geometric_median(
    updates: torch.Tensor,
    weights: torch.Tensor | None = None,
    max_iter: int = 100,
    eps: float = 1e-8,
    tol: float = 1e-7,
) -> torch.Tensor:
    """Weighted geometric median by the smoothed Weiszfeld algorithm.

    Pillutla, Kakade, Harchaoui 2022, "Robust Aggregation for Federated Learning" (RFA). The
    iterate stays an affine combination ``beta @ updates``, so every iteration runs on the Gram
    matrix; ``eps`` smooths distances near zero; iteration stops when the objective improves by less
    than ``tol`` (relative) or after ``max_iter`` iterations.
    """
    n, _ = check_updates(updates)
    alpha = check_weights(weights, n)
    gram = gram_matrix(updates)
    beta, previous = alpha.clone(), float("inf")
    for _ in range(max_iter):
        dist = (gram.diagonal() - 2 * gram @ beta + beta @ gram @ beta).clamp_min(0.0).sqrt()
        objective = float(alpha @ dist)
        if previous - objective <= tol * objective:
            break
        previous = objective
        beta = alpha / dist.clamp_min(eps)
        beta = beta / beta.sum()
    return weighted_sum(updates, beta)


def centered_clipping(
    updates: torch.Tensor, tau: float, center: torch.Tensor | None = None, iterations: int = 1
) -> torch.Tensor:
    """Centered clipping: ``v <- v + mean_i clip_tau(x_i - v)``, ``iterations`` times from ``center``.

    Karimireddy, He, Jaggi 2021, "Learning from History for Byzantine Robust Optimization". ``center``
    is the previous aggregate (server momentum), zeros when None. Runs on the Gram matrix of the
    updates and the centre.
    """
    n, d = check_updates(updates)
    if not tau > 0 or iterations < 1:
        raise AggregationInputError(
            f"need tau > 0 and iterations >= 1, got tau={tau}, iterations={iterations}"
        )
    v0 = torch.zeros(d) if center is None else center
    if v0.shape != (d,) or v0.dtype != torch.float32:
        raise AggregationInputError(f"centre must be a float32 vector of length {d}")
    gram = gram_matrix(updates, check_finite(v0, "centre contains NaN or infinity"))
    gamma = torch.zeros(n + 1, dtype=torch.float64)
    gamma[n] = 1.0
    for _ in range(iterations):
        dist = (gram.diagonal()[:n] - 2 * (gram @ gamma)[:n] + gamma @ gram @ gamma).clamp_min(0.0).sqrt()
        clip = (tau / dist.clamp_min(1e-300)).clamp(max=1.0) / n
        gamma = gamma * (1 - clip.sum())
        gamma[:n] += clip
    return check_finite(torch.add(weighted_sum(updates, gamma[:n]), v0, alpha=float(gamma[n])))
