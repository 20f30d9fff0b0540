"""Searches made of several searches: one model over several accelerator counts (one answer, with the
Pareto front spanning the count), and the overlap-policy variants `search --search-overlap` sweeps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from wanka.hardware import Accelerator
from wanka.perf.params import OverlapPolicy
from wanka.search.core import search
from wanka.search.rank import pareto_mask
from wanka.workload.model import ModelSpec

__all__ = ["combine_counts", "overlap_variants", "search_counts"]


def overlap_variants() -> list[OverlapPolicy]:
    """TP-comm overlap off/on (TE userbuffers hide ~80%) x DP overlap on/off."""
    base = OverlapPolicy()
    return [replace(base, tp_hidden=t, dp_overlap=d) for t in (0.0, 0.8) for d in (True, False)]


def combine_counts(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One answer over several counts: totals, the best tokens/s/GPU, and the 3-axis Pareto front."""
    out = dict(max(results, key=lambda r: (r["best"] or {}).get("tokens_per_s_per_gpu") or -1))
    for k in ("space", "evaluated", "feasible", "seconds"):
        out[k] = sum(r[k] for r in results)
    out["pruned"] = {
        k: sum(r["pruned"][k] for r in results) for k in ("divisibility", "memory_bound")
    }
    pts = [p for r in results for p in r["pareto"]]
    if pts:
        obj = np.array([[p["tokens_per_s_per_gpu"], p["peak_memory_gib"], p["count"]] for p in pts])
        keep = pareto_mask(obj, [True, False, False])
        out["pareto"] = sorted(
            [p for p, k in zip(pts, keep) if k], key=lambda p: -p["tokens_per_s_per_gpu"]
        )
    out["counts"] = [
        {
            "count": r["count"],
            "evaluated": r["evaluated"],
            "feasible": r["feasible"],
            "best": r["best"],
        }
        for r in results
    ]
    return out


def search_counts(
    model: ModelSpec,
    accelerator: Accelerator,
    counts: Sequence[int],
    *,
    global_batch_size: int,
    gpus_per_node: int | None,
    precisions: Sequence[str],
    top_k: int,
    progress: Callable[[int, int], None] | None,
    overlaps: Sequence[Any] | None,
    memory_prune: bool,
    dim_overrides: dict[str, Any],
) -> dict[str, Any]:
    """`search` at each count; the JSON of the one search, or `combine_counts` of several."""
    per = [
        search(
            model,
            accelerator,
            count=c,
            global_batch_size=global_batch_size,
            seq_len=model.seq_len,
            gpus_per_node=gpus_per_node,
            precisions=precisions,
            top_k=top_k,
            progress=progress,
            overlaps=overlaps,
            memory_prune=memory_prune,
            dim_overrides=dim_overrides,
        ).to_dict()
        for c in counts
    ]
    return per[0] if len(per) == 1 else combine_counts(per)
