"""Deterministic data shards: anyone can rebuild shard ``k`` of a job from ``(num_shards, seed, alpha)``.

IID: one permutation from the seed, cut into ``num_shards`` near-equal parts. Non-IID: for each label
the shard proportions are drawn from Dirichlet(alpha) (Hsu et al. 2019, "Measuring the Effects of
Non-Identical Data Distribution for Federated Visual Classification"); draws are repeated with the
same generator until every shard holds at least ``min_size`` examples. Randomness is numpy's PCG64
(``numpy.random.default_rng(seed)``), whose streams are stable across platforms.
"""

from __future__ import annotations

import numpy as np

from agents.learning.dataset import Dataset
from agents.learning.errors import ShardError

MAX_DIRICHLET_DRAWS = 1000


def shard_indices(
    labels: np.ndarray, num_shards: int, seed: int, alpha: float | None = None, min_size: int = 1
) -> list[np.ndarray]:
    """Sorted example indices of every shard."""
    n = len(labels)
    if num_shards < 1 or n < num_shards * min_size:
        raise ShardError(f"cannot cut {n} examples into {num_shards} shards of at least {min_size}")
    rng = np.random.default_rng(seed)
    if alpha is None:
        return [np.sort(part) for part in np.array_split(rng.permutation(n), num_shards)]
    if not alpha > 0:
        raise ShardError(f"Dirichlet alpha must be positive, got {alpha}")
    classes = np.unique(labels)
    members = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    for _ in range(MAX_DIRICHLET_DRAWS):
        proportions = rng.dirichlet(np.full(num_shards, alpha), size=len(classes))
        shards: list[list[np.ndarray]] = [[] for _ in range(num_shards)]
        for idx, p in zip(members, proportions, strict=True):
            cuts = (np.cumsum(p)[:-1] * len(idx)).astype(np.int64)
            for k, part in enumerate(np.split(idx, cuts)):
                shards[k].append(part)
        result = [np.sort(np.concatenate(parts)) for parts in shards]
        if min(len(r) for r in result) >= min_size:
            return result
    raise ShardError(f"no Dirichlet({alpha}) draw gave every one of {num_shards} shards {min_size} examples")


def shard(
    dataset: Dataset, num_shards: int, k: int, seed: int, alpha: float | None = None, min_size: int = 1
) -> Dataset:
    """Shard ``k`` of ``num_shards``: IID when ``alpha`` is None, else Dirichlet(alpha) over labels."""
    if not 0 <= k < num_shards:
        raise ShardError(f"shard index {k} out of range for {num_shards} shards")
    return dataset.subset(shard_indices(dataset.labels.numpy(), num_shards, seed, alpha, min_size)[k])
