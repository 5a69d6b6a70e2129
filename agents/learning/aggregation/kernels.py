"""Vectorised building blocks over a stacked ``n x d`` float32 update tensor.

Gram matrices are batched products of small column chunks (float64 sums across chunks); order
statistics run over column blocks shared by a small thread pool (numpy releases the GIL in its
kernels); the weighted sum is one BLAS product. Nothing loops over clients or coordinates.
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

GRAM_CHUNK = 1 << 11
GRAM_GROUP = 1 << 20
CANCELLATION_RATIO = 1e-2
SORT_BLOCK = 1 << 13
NETWORK_MAX_N = 24
T = TypeVar("T")


@cache
def _pool() -> ThreadPoolExecutor:
    """One worker per intra-op thread torch was configured with, kept for the process's lifetime."""
    return ThreadPoolExecutor(max_workers=max(1, torch.get_num_threads()), thread_name_prefix="aggregation")


def _map_blocks(fn: Callable[[int, int], T], d: int, block: int) -> list[T]:
    """``fn(start, stop)`` over column blocks, results in block order; a single block runs inline.

    The blocks are dealt round-robin to the threads (the calling thread takes a share too), so a call
    costs one hand-off per thread rather than one per block.
    """
    starts = range(0, d, block)
    threads = min(len(starts), max(1, torch.get_num_threads()))

    def run(part: int) -> list[T]:
        return [fn(start, min(start + block, d)) for start in starts[part::threads]]

    if threads == 1:
        return run(0)
    others = [_pool().submit(run, part) for part in range(1, threads)]
    runs = [run(0)] + [future.result() for future in others]
    return [runs[i % threads][i // threads] for i in range(len(starts))]


def weighted_sum(updates: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``weights @ updates``, refusing a non-finite result.

    One BLAS vector-matrix product streams the updates once with all of torch's threads; measured here it
    beats column blocks shared by a thread pool (1.1 ms against 1.8-5.7 ms at n=10, d=1e6; 0.19 s against
    0.40-0.45 s at d=5e7), whose pool threads each ran a multithreaded BLAS call. NaN and infinity
    propagate through the products, so a finite result also proves finite input.
    """
    return check_finite(weights.to(torch.float32) @ updates)


def _chunk_products(cols: torch.Tensor) -> torch.Tensor:
    """float64 sum of the float32 Gram matrices of ``cols``'s ``GRAM_CHUNK``-column chunks.

    One batched product over all chunks: each small product stays in cache and the batch spreads over
    torch's threads (measured 2.0 ms against 5.4 ms for one ``cols @ cols.T`` at n=10, d=1e6).
    """
    whole = cols.shape[1] - cols.shape[1] % GRAM_CHUNK
    chunks = cols[:, :whole].unflatten(1, (-1, GRAM_CHUNK))
    gram = torch.bmm(chunks.transpose(0, 1), chunks.permute(1, 2, 0)).double().sum(dim=0)
    rest = cols[:, whole:]
    return gram + (rest @ rest.T).double()


def _blocked_gram(updates: torch.Tensor, extra: torch.Tensor | None, centre: bool) -> torch.Tensor:
    """Gram matrix of the rows (and ``extra``), a group of ``GRAM_GROUP`` columns at a time (bounded
    temporaries when ``extra`` or ``centre`` need a copy). ``centre`` subtracts the rows'
    coordinate-wise mean first."""
    n, d = updates.shape
    size = n + (extra is not None)
    gram = torch.zeros(size, size, dtype=torch.float64)
    for start in range(0, d, GRAM_GROUP):
        stop = min(start + GRAM_GROUP, d)
        cols = updates[:, start:stop]
        if extra is not None:
            cols = torch.cat([cols, extra[None, start:stop]])
        if centre:
            cols = cols - updates[:, start:stop].mean(dim=0)
        gram += _chunk_products(cols)
    return check_finite(gram)


def gram_matrix(updates: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
    """float64 Gram matrix of the rows, plus ``extra`` as a last row when given.

    The plain product reads the updates once. When some pair of rows is so close, relative to the
    largest norm, that ``|a - b|^2 = G_aa + G_bb - 2 G_ab`` would lose precision to float32
    rounding, it is recomputed after subtracting the coordinate-wise mean of the rows (which leaves
    every distance unchanged). A non-finite input row makes the matrix non-finite and is refused.
    """
    gram = _blocked_gram(updates, extra, centre=False)
    closest = float(squared_distances(gram).fill_diagonal_(float("inf")).min())
    if closest < CANCELLATION_RATIO * float(gram.diagonal().max()):
        gram = _blocked_gram(updates, extra, centre=True)
    return gram


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
def _selection_network(n: int, positions: frozenset[int]) -> tuple[tuple[int, int], ...]:
    """The comparators of :func:`_sorting_network` that decide the sorted ``positions``."""
    needed, kept = set(positions), []
    for a, b in reversed(_sorting_network(n)):
        if a in needed or b in needed:
            kept.append((a, b))
            needed |= {a, b}
    return tuple(reversed(kept))


def mean_of_sorted_range(updates: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """Per coordinate, the mean of the values at sorted positions ``lo..hi-1`` (refuses NaN/infinity).

    When fewer values are dropped than kept (a trimmed mean), the dropped extremes come off a float64
    total, in which NaN or infinity would also show: dropping at most the minimum and the maximum takes
    two reductions. Otherwise small ``n`` runs a pruned sorting network as row-wise min/max (SIMD across
    coordinates) for the positions it needs, and larger ``n`` sorts each block's transposed
    (coordinate-major) copy with numpy's SIMD sort.
    """
    n, d = updates.shape
    source = updates.numpy()
    out = np.empty(d, dtype=np.float32)
    dropped = [*range(lo), *range(hi, n)]
    by_dropping = len(dropped) < hi - lo
    by_reductions = by_dropping and max(lo, n - hi) <= 1
    positions = frozenset(dropped if by_dropping else range(lo, hi))
    network = _selection_network(n, positions) if n <= NETWORK_MAX_N and not by_reductions else None

    def sorted_rows(cols: np.ndarray) -> list[np.ndarray]:
        """Rows of a copy of ``cols`` whose ``positions`` hold the sorted values there."""
        assert network is not None
        rows = list(cols.copy())
        spare = np.empty_like(rows[0])
        for a, b in network:
            np.minimum(rows[a], rows[b], out=spare)
            np.maximum(rows[a], rows[b], out=rows[b])
            rows[a], spare = spare, rows[a]
        return rows

    def block(start: int, stop: int) -> None:
        cols = source[:, start:stop]
        if by_dropping and (by_reductions or network is not None):
            total = cols.sum(axis=0, dtype=np.float64)
            if not np.isfinite(total).all():
                raise AggregationInputError("updates contain NaN or infinity")
            if by_reductions:
                total -= cols.min(axis=0) if lo else 0.0
                total -= cols.max(axis=0) if hi < n else 0.0
            else:
                rows = sorted_rows(cols)
                total -= np.sum([rows[i] for i in dropped], axis=0, dtype=np.float64)
            out[start:stop] = total / (hi - lo)
            return
        if not np.isfinite(cols).all():
            raise AggregationInputError("updates contain NaN or infinity")
        if network is not None:
            out[start:stop] = np.mean(sorted_rows(cols)[lo:hi], axis=0)
            return
        ordered = np.ascontiguousarray(cols.T)
        ordered.sort(axis=1)
        out[start:stop] = ordered[:, lo:hi].mean(axis=1)

    _map_blocks(block, d, SORT_BLOCK)
    return torch.from_numpy(out)
