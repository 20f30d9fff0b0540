"""Ranking evaluated candidates: top-k, the Pareto front, and why the winner wins.

Everything here works on plain arrays (one entry per candidate) so it can run chunk by chunk: a
`Leaderboard` keeps the running top-k and the running Pareto front while a search streams its chunks.

Objectives: tokens/s per accelerator (higher is better), peak memory per accelerator (lower is better) and,
when several counts are searched, the accelerator count (lower is better).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "EXPLAIN_TERMS",
    "Leaderboard",
    "explain",
    "pareto_mask",
    "pareto_mask_2d",
    "top_k_indices",
]


def top_k_indices(
    score: np.ndarray, k: int, *, mask: np.ndarray | None = None, tiebreak: np.ndarray | None = None
) -> np.ndarray:
    """Indices of the k highest scores among `mask`, best first; ties go to the lower `tiebreak`.

    >>> top_k_indices(np.array([1.0, 5.0, 3.0, 5.0]), 2, tiebreak=np.array([0, 2, 0, 1])).tolist()
    [3, 1]
    """
    score = np.asarray(score, dtype=np.float64)
    idx = np.arange(len(score)) if mask is None else np.flatnonzero(mask)
    if k <= 0 or len(idx) == 0:
        return np.zeros(0, dtype=np.int64)
    s = score[idx]
    if len(idx) > k:
        part = np.argpartition(-s, k - 1)[:k]
        # keep every candidate tied with the k-th score so the tie-break below sees them all
        kth = s[part].min()
        part = np.flatnonzero(s >= kth)
        idx, s = idx[part], s[part]
    tb = np.zeros(len(idx)) if tiebreak is None else np.asarray(tiebreak, dtype=np.float64)[idx]
    order = np.lexsort((idx, tb, -s))
    return idx[order][:k].astype(np.int64)


def pareto_mask_2d(maximize: np.ndarray, minimize: np.ndarray) -> np.ndarray:
    """Non-dominated points for (maximise the first, minimise the second); exact duplicates keep the first.

    >>> pareto_mask_2d(np.array([3.0, 2.0, 1.0, 2.5]), np.array([3.0, 1.0, 0.5, 2.0])).tolist()
    [True, True, True, True]
    >>> pareto_mask_2d(np.array([3.0, 2.0, 1.0]), np.array([3.0, 1.0, 2.0])).tolist()
    [True, True, False]
    """
    a = np.asarray(maximize, dtype=np.float64)
    b = np.asarray(minimize, dtype=np.float64)
    n = len(a)
    out = np.zeros(n, dtype=bool)
    if n == 0:
        return out
    order = np.lexsort((np.arange(n), b, -a))  # best first objective, then lowest second
    bs = b[order]
    prev_min = np.minimum.accumulate(np.concatenate(([np.inf], bs[:-1])))
    out[order] = bs < prev_min  # strictly better second objective than all before
    return out


def pareto_mask(objectives: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
    """Non-dominated rows of an (n, k) objective matrix; `maximize[j]` gives each column's sense.

    A row is dominated when another is at least as good in every column and better in one. Exact
    duplicates keep their first occurrence. Quadratic in the front size; meant for fronts, not millions.

    >>> pareto_mask(np.array([[3, 3, 8], [2, 1, 8], [2, 1, 4], [1, 2, 8]]), [True, False, False]).tolist()
    [True, False, True, False]
    """
    x = np.asarray(objectives, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("objectives must be a 2-D array")
    sign = np.where(np.asarray(maximize, dtype=bool), -1.0, 1.0)
    y = x * sign  # now every column is "lower is better"
    n = len(y)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        if not keep[i]:
            continue
        le = np.all(y <= y[i], axis=1)
        lt = np.any(y < y[i], axis=1)
        dominated_by = le & lt
        same = np.all(y == y[i], axis=1)
        same[: i + 1] = False
        if dominated_by.any():
            keep[i] = False
            continue
        keep[same] = False  # later duplicates of a kept point
        # points that i dominates
        ge = np.all(y >= y[i], axis=1) & np.any(y > y[i], axis=1)
        keep[ge] = False
    return keep


@dataclass
class Leaderboard:
    """Running top-k and Pareto front over chunks of evaluated candidates.

    `add(cols, metrics, mask)` takes one chunk: `cols` the plan columns, `metrics` arrays of the same
    length (must include `tokens_per_s_per_gpu` and `peak_memory_bytes`), `mask` the feasible rows.
    Rows are stored as small dicts of numpy scalars, so memory stays at O(k + front).
    """

    k: int = 10
    extra: dict[str, Any] = field(default_factory=dict)
    """Constant fields stamped on every kept row (e.g. precision, count)."""
    _top: dict[str, np.ndarray] | None = None
    _front: dict[str, np.ndarray] | None = None

    @staticmethod
    def _concat(a: dict[str, np.ndarray] | None, b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if a is None:
            return b
        return {key: np.concatenate([a[key], b[key]]) for key in b}

    @staticmethod
    def _take(d: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
        return {key: v[idx] for key, v in d.items()}

    def add(
        self,
        cols: dict[str, np.ndarray],
        metrics: dict[str, np.ndarray],
        mask: np.ndarray,
        **constants: Any,
    ) -> None:
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            return
        tps = np.asarray(metrics["tokens_per_s_per_gpu"])[idx]
        mem = np.asarray(metrics["peak_memory_bytes"])[idx]
        top_local = idx[top_k_indices(tps, self.k, tiebreak=mem)]
        front_local = idx[pareto_mask_2d(tps, mem)]
        for name, local in (("_top", top_local), ("_front", front_local)):
            rows = {
                key: np.asarray(v)[local]
                for key, v in {**cols, **metrics}.items()
                if np.ndim(v) == 1 and len(v) == len(mask)
            }
            for ck, cv in constants.items():
                rows[ck] = np.full(len(local), cv, dtype=object if isinstance(cv, str) else None)
            merged = self._concat(getattr(self, name), rows)
            if name == "_top":
                keep = top_k_indices(
                    merged["tokens_per_s_per_gpu"], self.k, tiebreak=merged["peak_memory_bytes"]
                )
            else:
                keep = np.flatnonzero(
                    pareto_mask_2d(merged["tokens_per_s_per_gpu"], merged["peak_memory_bytes"])
                )
                keep = keep[np.argsort(-merged["tokens_per_s_per_gpu"][keep], kind="stable")]
            setattr(self, name, self._take(merged, keep))

    @staticmethod
    def _rows(d: dict[str, np.ndarray] | None) -> list[dict[str, Any]]:
        if d is None:
            return []
        n = len(d["tokens_per_s_per_gpu"])
        return [
            {key: (v[i].item() if hasattr(v[i], "item") else v[i]) for key, v in d.items()}
            for i in range(n)
        ]

    def top(self) -> list[dict[str, Any]]:
        """The kept top-k rows, best first."""
        return self._rows(self._top)

    def front(self) -> list[dict[str, Any]]:
        """The Pareto front (tokens/s/GPU up, peak memory down), highest throughput first."""
        return self._rows(self._front)

    def merge(self, other: Leaderboard) -> None:
        """Fold another leaderboard (e.g. another precision or worker) into this one."""
        for d in (other._top, other._front):
            if d is None:
                continue
            n = len(d["tokens_per_s_per_gpu"])
            self.add({}, d, np.ones(n, dtype=bool))


#: Step-time terms compared in `explain`, in display order: (label, key in a plan's breakdown).
EXPLAIN_TERMS: tuple[tuple[str, str], ...] = (
    ("compute", "compute_s"),
    ("recompute", "recompute_s"),
    ("pipeline bubble", "bubble_s"),
    ("exposed TP comm", "tp"),
    ("exposed CP comm", "cp"),
    ("exposed EP comm", "ep"),
    ("exposed PP comm", "pp"),
    ("exposed DP comm", "dp"),
    ("optimizer", "optimizer_s"),
)


def _term(plan: dict[str, Any], key: str) -> float | None:
    b = plan.get("breakdown") or {}
    if key in b and not isinstance(b[key], dict):
        return b[key]
    return (b.get("exposed_comm_s") or {}).get(key)


def explain(best: dict[str, Any], runner_up: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Why `best` beats `runner_up`: one row per step-time term and per headline figure.

    Each row: {"term", "best", "runner_up", "delta"} (delta = runner_up - best; positive means the winner
    spends less there). Plans are `predict`-shaped dicts (step_time_s, breakdown, peak_memory_gib, ...).
    The rows are sorted by |delta| so the term that decides the race comes first; `step time` closes.
    """
    rows: list[dict[str, Any]] = []
    if runner_up is None:
        return rows
    for label, key in EXPLAIN_TERMS:
        a, b = _term(best, key), _term(runner_up, key)
        if a is None and b is None:
            continue
        a, b = float(a or 0.0), float(b or 0.0)
        rows.append({"term": label + " (s)", "best": a, "runner_up": b, "delta": b - a})
    rows.sort(key=lambda r: -abs(r["delta"]))
    for label, key in (
        ("step time (s)", "step_time_s"),
        ("tokens/s/GPU", "tokens_per_s_per_gpu"),
        ("peak memory (GiB)", "peak_memory_gib"),
    ):
        a, b = best.get(key), runner_up.get(key)
        if a is not None and b is not None:
            rows.append(
                {
                    "term": label,
                    "best": float(a),
                    "runner_up": float(b),
                    "delta": float(b) - float(a),
                }
            )
    return rows
