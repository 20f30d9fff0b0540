"""Exhaustive parallel-layout search: `space` enumerates, `perf` scores, `rank` ranks, `export` writes.

Public API: `search(model, accelerator, count=..., global_batch_size=...)` and `search_run(run)` return a
`SearchResult` (`to_dict()` is the `wanka search --json` object); `run_sweep` runs many searches on local
processes or Ray. See docs/search.md.
"""

from __future__ import annotations

from wanka.search.core import SearchResult, search, search_run
from wanka.search.export import FORMATS, export_plan
from wanka.search.rank import Leaderboard, explain, pareto_mask, top_k_indices
from wanka.search.space import SpaceDims, iter_candidates, space_dims

__all__ = [
    "FORMATS",
    "Leaderboard",
    "SearchResult",
    "SpaceDims",
    "explain",
    "export_plan",
    "iter_candidates",
    "pareto_mask",
    "search",
    "search_run",
    "space_dims",
    "top_k_indices",
]
