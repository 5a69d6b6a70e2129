"""How many trace segments a verifier replays, and which ones (drawn from on-chain randomness)."""

from __future__ import annotations

import math

from agents.learning.errors import TraceError
from agents.learning.hashing import keccak256


def segments_to_check(q: float, p: float, num_segments: int | None = None) -> int:
    """Smallest k such that k random segments hit a faked one with probability >= ``p``.

    A trainer faking a fraction ``q`` of the steps fakes at least a fraction ``q`` of the segments.
    Without ``num_segments`` the draws are taken as independent (``1 - (1-q)^k >= p``, e.g. q=0.1,
    p=0.99 gives 44). With it, k distinct segments are drawn among ``num_segments`` of which
    ``ceil(q * num_segments)`` are faked, and the exact hypergeometric miss probability is used.
    """
    if not (0 < q <= 1 and 0 <= p < 1):
        raise TraceError(f"need 0 < q <= 1 and 0 <= p < 1, got q={q}, p={p}")
    if num_segments is None:
        return 0 if p == 0 else math.ceil(math.log1p(-p) / math.log1p(-q)) if q < 1 else 1
    if num_segments < 1:
        raise TraceError("a trace has at least one segment")
    faked = math.ceil(q * num_segments)
    for k in range(num_segments + 1):
        miss = math.comb(num_segments - faked, k) / math.comb(num_segments, k)
        if 1 - miss >= p:
            return k
    return num_segments


def draw_segments(randomness: bytes, num_segments: int, k: int) -> list[int]:
    """``k`` distinct segment indices from 32 bytes of chain randomness, in draw order.

    A partial Fisher-Yates shuffle of ``0..num_segments-1`` where draw ``j`` swaps position ``j``
    with ``j + r_j mod (num_segments - j)``, ``r_j = uint256(keccak256(abi.encode(randomness, j)))``:
    easy to recompute in Solidity.
    """
    if len(randomness) != 32:
        raise TraceError("randomness must be 32 bytes")
    if not 0 <= k <= num_segments:
        raise TraceError(f"cannot draw {k} distinct segments out of {num_segments}")
    pool = list(range(num_segments))
    for j in range(k):
        r = int.from_bytes(keccak256(randomness + j.to_bytes(32, "big")), "big")
        swap = j + r % (num_segments - j)
        pool[j], pool[swap] = pool[swap], pool[j]
    return pool[:k]
