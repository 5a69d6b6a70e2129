"""Vectorised building blocks over a stacked ``n x d`` float32 update tensor.

Column blocks keep temporaries small and cache-resident; sorting blocks are shared by a small thread
pool (numpy releases the GIL in its kernels). Nothing loops over clients or coordinates.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

import numpy as np
import torch

from agents.learning.aggregation.validation import check_finite
from agents.learning.errors import AggregationInputError

GRAM_BLOCK = 1 << 18
SORT_BLOCK = 1 << 13
NETWORK_MAX_N = 24
T = TypeVar("T")


def _map_blocks(fn: Callable[[int, int], T], d: int, block: int) -> list[T]:
    """``fn(start, stop)`` over column blocks, results in block order (so sums are deterministic)."""
    with ThreadPoolExecutor(max_workers=max(1, torch.get_num_threads())) as pool:
        return list(pool.map(lambda start: fn(start, min(start + block, d)), range(0, d, block)))


def weighted_sum(updates: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``weights @ updates`` (one matrix-vector product), refusing a non-finite result.

    NaN and infinity propagate through the product, so a finite result also proves finite input.
    """
    return check_finite(weights.to(torch.float32) @ updates)


def gram_matrix(updates: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
    """float64 Gram matrix of the rows (plus ``extra`` as a last row), after subtracting the row mean.

    Centring leaves pairwise distances unchanged and avoids cancellation in
    ``|a - b|^2 = G_aa + G_bb - 2 G_ab``. A non-finite input row makes the matrix non-finite.
    """
    n, d = updates.shape

    def block(start: int, stop: int) -> torch.Tensor:
        cols = updates[:, start:stop]
        if extra is not None:
            cols = torch.cat([cols, extra[None, start:stop]])
        centred = cols - cols[:n].mean(dim=0)
        return (centred @ centred.T).double()

    # Sequential over blocks: each product already uses all intra-op threads.
    return check_finite(
        torch.stack([block(s, min(s + GRAM_BLOCK, d)) for s in range(0, d, GRAM_BLOCK)]).sum(dim=0)
    )


def squared_distances(gram: torch.Tensor) -> torch.Tensor:
    """Pairwise squared Euclidean distances from a Gram matrix."""
    diag = gram.diagonal()
    return (diag[:, None] + diag[None, :] - 2 * gram).clamp_min(0.0)


@cache
def _sorting_network(n: int) -> tuple[tuple[int, int], ...]:
    """Batcher's odd-even merge sort comparators for ``n`` wires (pairs ``i < j``)."""
    size = 1 << max(0, (n - 1).bit_length())
    pairs = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return tuple((a, b) for a, b in pairs if b < n)


@cache
def _selection_network(n: int, lo: int, hi: int) -> tuple[tuple[int, int], ...]:
    """The comparators of :func:`_sorting_network` that decide sorted positions ``lo..hi-1``."""
    needed, kept = set(range(lo, hi)), []
    for a, b in reversed(_sorting_network(n)):
        if a in needed or b in needed:
            kept.append((a, b))
            needed |= {a, b}
    return tuple(reversed(kept))


def mean_of_sorted_range(updates: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """Per coordinate, the mean of the values at sorted positions ``lo..hi-1`` (refuses NaN/infinity).

    Small ``n`` runs a pruned sorting network as row-wise min/max (SIMD across coordinates);
    larger ``n`` sorts each block's transposed (coordinate-major) copy with numpy's SIMD sort.
    """
    n, d = updates.shape
    source = updates.numpy()
    out = np.empty(d, dtype=np.float32)
    network = _selection_network(n, lo, hi) if n <= NETWORK_MAX_N else None

    def block(start: int, stop: int) -> None:
        cols = source[:, start:stop]
        if not np.isfinite(cols).all():
            raise AggregationInputError("updates contain NaN or infinity")
        if network is None:
            ordered = np.ascontiguousarray(cols.T)
            ordered.sort(axis=1)
            out[start:stop] = ordered[:, lo:hi].mean(axis=1)
            return
        rows = list(cols.copy())
        spare = np.empty_like(rows[0])
        for a, b in network:
            np.minimum(rows[a], rows[b], out=spare)
            np.maximum(rows[a], rows[b], out=rows[b])
            rows[a], spare = spare, rows[a]
        out[start:stop] = np.mean(rows[lo:hi], axis=0)

    _map_blocks(block, d, SORT_BLOCK)
    return torch.from_numpy(out)
