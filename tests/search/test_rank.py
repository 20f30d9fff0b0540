"""Ranking: top-k, Pareto fronts (checked against brute force), the running leaderboard, explanations."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from wanka.search.rank import Leaderboard, explain, pareto_mask, pareto_mask_2d, top_k_indices


def _brute_front(obj, maximize):
    y = np.asarray(obj, dtype=float) * np.where(np.asarray(maximize), -1.0, 1.0)
    keep = []
    for i in range(len(y)):
        dominated = any(np.all(y[j] <= y[i]) and np.any(y[j] < y[i]) for j in range(len(y)))
        dup_before = any(np.all(y[j] == y[i]) for j in range(i))
        keep.append(not dominated and not dup_before)
    return keep


def test_top_k_order_and_ties():
    """Top-k is best first; equal scores go to the lower tie-break, then the lower index."""
    s = np.array([1.0, 5.0, 3.0, 5.0, 4.0])
    assert top_k_indices(s, 3).tolist() == [1, 3, 4]
    assert top_k_indices(s, 2, tiebreak=np.array([0, 9, 0, 1, 0])).tolist() == [3, 1]
    assert top_k_indices(s, 10, mask=np.array([1, 0, 1, 0, 1], bool)).tolist() == [4, 2, 0]
    assert top_k_indices(s, 0).tolist() == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=30))
def test_pareto_2d_matches_brute_force(pts):
    """The sort-based 2-D front equals the quadratic definition (maximise first, minimise second)."""
    a = np.array([p[0] for p in pts], float)
    b = np.array([p[1] for p in pts], float)
    assert pareto_mask_2d(a, b).tolist() == _brute_front(np.c_[a, b], [True, False])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 3)), min_size=1, max_size=25
    )
)
def test_pareto_3d_matches_brute_force(pts):
    """The general front (tokens/s up, memory down, count down) equals the definition."""
    obj = np.array(pts, float)
    assert pareto_mask(obj, [True, False, False]).tolist() == _brute_front(
        obj, [True, False, False]
    )


def test_leaderboard_chunks_equal_one_pass():
    """Feeding chunks gives the same top-k and front as one big pass."""
    rng = np.random.default_rng(0)
    n = 300
    cols = {"tp": rng.integers(1, 9, n), "pp": rng.integers(1, 9, n)}
    met = {
        "tokens_per_s_per_gpu": rng.random(n).round(3),
        "peak_memory_bytes": rng.random(n).round(3),
    }
    ok = rng.random(n) > 0.3
    one = Leaderboard(k=7)
    one.add(cols, met, ok)
    many = Leaderboard(k=7)
    for s in range(0, n, 47):
        sl = slice(s, s + 47)
        many.add({k: v[sl] for k, v in cols.items()}, {k: v[sl] for k, v in met.items()}, ok[sl])
    key = lambda r: (r["tokens_per_s_per_gpu"], r["peak_memory_bytes"])
    assert [key(r) for r in one.top()] == [key(r) for r in many.top()]
    assert sorted(map(key, one.front())) == sorted(map(key, many.front()))
    best = max(met["tokens_per_s_per_gpu"][ok])
    assert one.top()[0]["tokens_per_s_per_gpu"] == best
    front = _brute_front(
        np.c_[met["tokens_per_s_per_gpu"][ok], met["peak_memory_bytes"][ok]], [True, False]
    )
    assert len(one.front()) == sum(front)


def test_explain_sorted_by_difference():
    """The explanation leads with the term that separates the winner from the runner-up."""
    best = {
        "step_time_s": 10.0,
        "tokens_per_s_per_gpu": 100.0,
        "peak_memory_gib": 50.0,
        "breakdown": {
            "compute_s": 8.0,
            "bubble_s": 1.0,
            "recompute_s": 0.0,
            "optimizer_s": 0.1,
            "exposed_comm_s": {"tp": 0.5, "dp": 0.4},
        },
    }
    runner = {
        "step_time_s": 12.0,
        "tokens_per_s_per_gpu": 83.3,
        "peak_memory_gib": 40.0,
        "breakdown": {
            "compute_s": 8.0,
            "bubble_s": 2.5,
            "recompute_s": 0.2,
            "optimizer_s": 0.1,
            "exposed_comm_s": {"tp": 0.7, "dp": 0.4},
        },
    }
    rows = explain(best, runner)
    assert rows[0]["term"].startswith("pipeline bubble")
    assert rows[0]["delta"] == 1.5
    assert rows[-3]["term"] == "step time (s)" and rows[-3]["delta"] == 2.0
    assert explain(best, None) == []
