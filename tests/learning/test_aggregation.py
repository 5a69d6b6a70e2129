"""Aggregation rules against naive reference computations, robustness properties and input errors."""

from __future__ import annotations

import statistics

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.learning.aggregation import (
    RULES,
    SERVER_KINDS,
    ServerOptimizer,
    ServerState,
    aggregate,
    centered_clipping,
    coordinate_median,
    fedavg,
    geometric_median,
    krum,
    krum_scores,
    multi_krum,
    rule_id,
    stack_updates,
    trimmed_mean,
)
from agents.learning.aggregation.kernels import GRAM_CHUNK, GRAM_GROUP, gram_matrix
from agents.learning.errors import AggregationInputError, WeightFormatError


def naive_krum_scores(x: np.ndarray, f: int) -> list[float]:
    n = len(x)
    scores = []
    for i in range(n):
        dists = sorted(float(np.sum((x[i].astype(np.float64) - x[j]) ** 2)) for j in range(n) if j != i)
        scores.append(sum(dists[: n - f - 2]))
    return scores


def naive_weiszfeld(x: np.ndarray, w: np.ndarray, iters: int = 2000) -> np.ndarray:
    x = x.astype(np.float64)
    z = (w[:, None] * x).sum(0) / w.sum()
    for _ in range(iters):
        d = np.maximum(np.sqrt(((x - z) ** 2).sum(1)), 1e-12)
        z = ((w / d)[:, None] * x).sum(0) / (w / d).sum()
    return z


@pytest.mark.parametrize("n", [1, 3, 8, 13, 30])
def test_fedavg_median_trimmed_mean_match_naive_loops(n: int, gen: torch.Generator) -> None:
    d = 37
    x = torch.randn(n, d, generator=gen)
    w = torch.rand(n, generator=gen) + 0.1
    xn, wn = x.numpy().astype(np.float64), w.numpy().astype(np.float64)
    expected_avg = sum(wn[i] * xn[i] for i in range(n)) / wn.sum()
    assert np.allclose(fedavg(x, w).numpy(), expected_avg, atol=1e-5)
    assert np.allclose(fedavg(x).numpy(), xn.mean(0), atol=1e-5)
    median = [statistics.median(xn[:, j]) for j in range(d)]
    assert np.allclose(coordinate_median(x).numpy(), median, atol=1e-6)
    for f in {0, 1, 2, (n - 1) // 3} & set(range((n + 1) // 2)):  # reductions, networks, sorting
        trimmed = [np.mean(sorted(xn[:, j])[f : n - f]) for j in range(d)]
        assert np.allclose(trimmed_mean(x, f).numpy(), trimmed, atol=1e-5)


@pytest.mark.parametrize(("n", "f"), [(5, 1), (9, 2), (20, 4), (40, 10)])
def test_krum_and_multi_krum_match_naive_pairwise_distances(n: int, f: int, gen: torch.Generator) -> None:
    x = torch.randn(n, 50, generator=gen) * (1 + torch.arange(n, dtype=torch.float32)[:, None] / n)
    scores = naive_krum_scores(x.numpy(), f)
    assert np.allclose(krum_scores(x, f).numpy(), scores, rtol=1e-5)
    assert torch.equal(krum(x, f), x[int(np.argmin(scores))])
    m = n - f
    best = np.argsort(scores, kind="stable")[:m]
    w = torch.rand(n, generator=gen) + 0.5
    expected = sum(float(w[i]) * x[i].double() for i in best) / float(w[best].sum())
    assert torch.allclose(multi_krum(x, f, m, w).double(), expected, atol=1e-5)


def test_geometric_median_matches_naive_weiszfeld(gen: torch.Generator) -> None:
    x = torch.randn(9, 20, generator=gen)
    x[0] += 50.0
    w = torch.rand(9, generator=gen) + 0.5
    ours = geometric_median(x, w, max_iter=500, tol=1e-12).double().numpy()
    ref = naive_weiszfeld(x.numpy(), w.numpy().astype(np.float64))
    assert np.allclose(ours, ref, atol=1e-4)
    assert np.linalg.norm(ours - x[1:].numpy().mean(0)) < 1.0  # the outlier barely moves it


def naive_centered_clipping(x: np.ndarray, tau: float, center: np.ndarray, iters: int) -> np.ndarray:
    v = center.astype(np.float64)
    for _ in range(iters):
        step = np.zeros_like(v)
        for i in range(len(x)):
            diff = x[i].astype(np.float64) - v
            norm = np.linalg.norm(diff)
            step += diff if norm <= tau else diff * tau / norm
        v = v + step / len(x)
    return v


def test_centered_clipping_matches_naive_loop(gen: torch.Generator) -> None:
    x = torch.randn(7, 30, generator=gen) * 3
    center = torch.randn(30, generator=gen)
    expected = naive_centered_clipping(x.numpy(), 2.0, center.numpy(), 3)
    assert np.allclose(
        centered_clipping(x, tau=2.0, center=center, iterations=3).numpy(), expected, atol=1e-5
    )


def test_large_blocks_agree_with_reference(gen: torch.Generator) -> None:
    """Inputs spanning several column blocks (the kernels' chunking) still match."""
    x = torch.randn(6, 300_000, generator=gen)
    assert torch.allclose(coordinate_median(x), torch.from_numpy(np.median(x.numpy(), axis=0)))
    assert torch.allclose(trimmed_mean(x, 1), x.sort(dim=0).values[1:5].mean(0), atol=1e-6)
    assert np.allclose(
        krum_scores(x[:, :1000], 1).numpy(), naive_krum_scores(x[:, :1000].numpy(), 1), rtol=1e-5
    )


def test_gram_matrix_spans_groups_chunks_and_a_remainder(gen: torch.Generator) -> None:
    """Columns beyond one group, a partial chunk at the end, and the extra row all count."""
    d = GRAM_GROUP + 3 * GRAM_CHUNK + 7
    x, extra = torch.randn(5, d, generator=gen), torch.randn(d, generator=gen)
    rows = torch.cat([x, extra[None]]).double()
    assert torch.allclose(gram_matrix(x, extra), rows @ rows.T, rtol=1e-6, atol=1e-2)


def test_finite_values_whose_sum_overflows_are_accepted() -> None:
    """The fast finite check sums in float32; a sum that overflows is not mistaken for a NaN."""
    x = torch.full((3, 4), 3e38)
    assert torch.allclose(fedavg(x), torch.full((4,), 3e38))


def test_distances_stay_accurate_for_nearly_identical_updates(gen: torch.Generator) -> None:
    """Updates sharing a large common part: plain float32 Gram entries would cancel catastrophically."""
    common = 10.0 * torch.randn(200_000, generator=gen)
    x = common + 1e-3 * torch.randn(9, 200_000, generator=gen)
    assert np.allclose(krum_scores(x, 2).numpy(), naive_krum_scores(x.numpy(), 2), rtol=1e-3)
    expected = naive_centered_clipping(x.numpy(), 0.1, x[0].numpy(), 2) - x[0].double().numpy()
    moved = centered_clipping(x, tau=0.1, center=x[0], iterations=2).double().numpy() - x[0].double().numpy()
    assert np.linalg.norm(moved - expected) < 1e-2 * np.linalg.norm(expected)


honest_rows = st.integers(3, 9).flatmap(
    lambda n: st.lists(st.lists(st.floats(-10, 10, width=32), min_size=4, max_size=4), min_size=n, max_size=n)
)


@settings(max_examples=60, deadline=None)
@given(honest=honest_rows, attack=st.floats(-1e6, 1e6, width=32), data=st.data())
def test_median_and_trimmed_mean_stay_in_honest_range(
    honest: list[list[float]], attack: float, data: st.DataObject
) -> None:
    h = torch.tensor(honest, dtype=torch.float32)
    b = data.draw(st.integers(0, len(honest) - 1), label="attackers")
    x = torch.cat([h, torch.full((b, 4), attack)])
    lo, hi = h.min(0).values - 1e-4, h.max(0).values + 1e-4
    for result in (coordinate_median(x), trimmed_mean(x, b)):
        assert bool(((result >= lo) & (result <= hi)).all())


@settings(max_examples=40, deadline=None)
@given(
    n_honest=st.integers(3, 10),
    attackers=st.integers(0, 3),
    seed=st.integers(0, 2**31),
    offset=st.floats(100, 1e5),
)
def test_krum_never_picks_an_outlier(n_honest: int, attackers: int, seed: int, offset: float) -> None:
    if n_honest + attackers <= 2 * attackers + 2:
        n_honest = attackers + 3
    g = torch.Generator().manual_seed(seed)
    center = torch.randn(16, generator=g)
    honest = center + 0.1 * torch.randn(n_honest, 16, generator=g)
    outliers = center + offset * torch.randn(attackers, 16, generator=g).sign()
    chosen = krum(torch.cat([honest, outliers]), attackers)
    assert float((chosen - center).norm()) < 1.0


def test_server_optimizers_match_reddi_formulas(gen: torch.Generator) -> None:
    d = 11
    deltas = [torch.randn(d, generator=gen) for _ in range(3)]
    for kind_id, kind in enumerate(SERVER_KINDS):
        opt = ServerOptimizer.from_id(kind_id, lr=0.3, beta1=0.9, beta2=0.99, tau=1e-3)
        state = opt.initial_state(d)
        m, v = np.zeros(d), np.full(d, 1e-6)
        for delta in deltas:
            step, state = opt.step(state, delta)
            g = delta.double().numpy()
            if kind == "fedavg":
                expected = 0.3 * g
            elif kind == "fedavgm":
                m = 0.9 * m + g
                expected = 0.3 * m
            else:
                m = 0.9 * m + 0.1 * g
                if kind == "fedadagrad":
                    v = v + g * g
                elif kind == "fedadam":
                    v = 0.99 * v + 0.01 * g * g
                else:
                    v = v - 0.01 * g * g * np.sign(v - g * g)
                expected = 0.3 * m / (np.sqrt(v) + 1e-3)
            assert np.allclose(step.numpy(), expected, rtol=1e-4, atol=1e-6), kind
        assert state.t == 3
        restored = ServerState.from_bytes(state.to_bytes(), d)
        assert torch.equal(restored.m, state.m) and torch.equal(restored.v, state.v) and restored.t == 3
        assert restored.to_bytes() == state.to_bytes()
    with pytest.raises(WeightFormatError):
        ServerState.from_bytes(state.to_bytes(), d + 1)
    with pytest.raises(AggregationInputError, match="server optimizer id"):
        ServerOptimizer.from_id(len(SERVER_KINDS))
    with pytest.raises(AggregationInputError, match="finite vector"):
        opt.step(state, torch.full((d,), float("nan")))


def test_registry_runs_each_rule_with_defaults(gen: torch.Generator) -> None:
    x = torch.randn(7, 25, generator=gen)
    w = torch.arange(1, 8, dtype=torch.float32)
    assert torch.allclose(aggregate(rule_id("fedavg"), x, w), fedavg(x, w))
    assert torch.equal(aggregate(rule_id("krum"), x), krum(x, 1))
    assert torch.equal(aggregate(rule_id("trimmed_mean"), x, f=2), trimmed_mean(x, 2))
    for rid in RULES:
        out = aggregate(rid, x, w)
        assert out.shape == (25,) and bool(torch.isfinite(out).all())
    assert sorted(RULES) == list(range(len(RULES)))
    with pytest.raises(AggregationInputError, match="unknown aggregation rule id"):
        aggregate(99, x)
    with pytest.raises(AggregationInputError, match="takes no parameters"):
        aggregate(rule_id("median"), x, f=1)


RULE_CALLS = {
    "fedavg": lambda x: fedavg(x),
    "median": coordinate_median,
    "trimmed_mean": lambda x: trimmed_mean(x, 1),
    "krum": lambda x: krum(x, 1),
    "multi_krum": lambda x: multi_krum(x, 1, 2),
    "geometric_median": lambda x: geometric_median(x),
    "centered_clipping": lambda x: centered_clipping(x, 1.0),
}


@pytest.mark.parametrize("name", sorted(RULE_CALLS))
@pytest.mark.parametrize("bad", ["nan", "inf", "empty_rows", "empty_cols", "float64", "one_dim"])
def test_rules_refuse_bad_updates(name: str, bad: str) -> None:
    x = torch.randn(8, 10)
    if bad == "nan":
        x[3, 4] = float("nan")
    elif bad == "inf":
        x[5, 0] = float("-inf")
    elif bad == "empty_rows":
        x = torch.empty(0, 10)
    elif bad == "empty_cols":
        x = torch.empty(8, 0)
    elif bad == "float64":
        x = x.double()
    else:
        x = x[0]
    with pytest.raises(AggregationInputError):
        RULE_CALLS[name](x)


def test_rules_refuse_too_few_updates_and_bad_parameters() -> None:
    x = torch.randn(4, 10)
    with pytest.raises(AggregationInputError, match=r"n > 2f \+ 2"):
        krum(x, 1)
    with pytest.raises(AggregationInputError, match=r"n > 2f"):
        trimmed_mean(x, 2)
    with pytest.raises(AggregationInputError, match="Multi-Krum"):
        multi_krum(torch.randn(5, 10), 1, 6)
    with pytest.raises(AggregationInputError, match="weights"):
        fedavg(x, torch.ones(3))
    with pytest.raises(AggregationInputError, match="weights"):
        fedavg(x, torch.tensor([1.0, -1.0, 1.0, 1.0]))
    with pytest.raises(AggregationInputError, match="weights"):
        fedavg(x, torch.zeros(4))
    with pytest.raises(AggregationInputError, match="centre"):
        centered_clipping(x, 1.0, center=torch.zeros(9))
    with pytest.raises(AggregationInputError, match="tau"):
        centered_clipping(x, 0.0)
    with pytest.raises(AggregationInputError, match="one length"):
        stack_updates([torch.zeros(3), torch.zeros(4)])
    with pytest.raises(AggregationInputError, match="no updates"):
        stack_updates([])
    assert stack_updates([torch.zeros(3), torch.ones(3)]).shape == (2, 3)
