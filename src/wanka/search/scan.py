"""The scan behind `search`: time the candidates chunk by chunk, in one process or forked ones.

`_Job` is everything a scan needs (inherited by fork, never pickled); `_Partial` is what one scan over
some chunks found, and partials merge. Memory pruning (`memory_lower_bound`) happens here, per chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from wanka.errors import ConfigError
from wanka.search.rank import Leaderboard
from wanka.search.space import COLUMNS, SpaceDims, iter_candidates, memory_lower_bound
from wanka.workload.model import ModelSpec

#: Scorer(cols, precision, overlap) -> metric arrays; must return at least tokens_per_s_per_gpu,
#: step_time_s, peak_memory_bytes and fits (bool). Optional: valid (bool) and breakdown arrays.
Scorer = Callable[[dict[str, np.ndarray], str, Any], dict[str, np.ndarray]]


#: Below this many candidates a search runs in one process (forking costs more than it saves).
PARALLEL_MIN = 1_000_000


@dataclass
class _Job:
    """Everything a (possibly forked) scan needs; inherited by fork, never pickled."""

    model: ModelSpec
    dims: SpaceDims
    count: int
    global_batch_size: int
    seq_len: int
    chunk_size: int
    memory_prune: bool
    hbm: float
    split: Any
    passes: list[tuple[str, Any]]
    overlaps: list[Any]
    scorer: Scorer
    k: int
    memory_limit: float | None = None
    structural: dict[str, np.ndarray] | None = None


@dataclass
class _Partial:
    """What one scan over some chunks found (mergeable)."""

    k: int
    board: Leaderboard = field(init=False)
    evaluated: int = 0
    feasible: int = 0
    pruned: int = 0
    done: int = 0
    min_mem: tuple[float, dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        self.board = Leaderboard(k=self.k)

    def consume(
        self, job: _Job, cols: dict[str, np.ndarray], precision: str, oi: int, fn: Scorer
    ) -> None:
        m = fn(cols, precision, job.overlaps[oi])
        n = len(cols["tp"])
        self.evaluated += n
        valid = np.asarray(m.get("valid", np.ones(n, dtype=bool)), dtype=bool)
        if job.memory_limit is not None:
            fits = valid & (
                np.asarray(m["peak_memory_bytes"], dtype=np.float64) <= job.memory_limit
            )
        else:
            fits = np.asarray(m["fits"], dtype=bool)
        tps = np.asarray(m["tokens_per_s_per_gpu"], dtype=np.float64)
        ok = fits & valid & np.isfinite(tps) & (tps > 0)
        self.feasible += int(ok.sum())
        self.board.add(cols, m, ok, precision=precision, overlap=oi)
        mem = np.asarray(m["peak_memory_bytes"], dtype=np.float64)
        vm = valid & np.isfinite(mem)
        if vm.any():
            i = int(np.argmin(np.where(vm, mem, np.inf)))
            if self.min_mem is None or mem[i] < self.min_mem[0]:
                self.min_mem = (
                    float(mem[i]),
                    {**{c: cols[c][i].item() for c in COLUMNS}, "precision": precision},
                )

    def merge(self, other: _Partial) -> None:
        self.board.merge(other.board)
        self.evaluated += other.evaluated
        self.feasible += other.feasible
        self.pruned += other.pruned
        self.done += other.done
        if other.min_mem is not None and (
            self.min_mem is None or other.min_mem[0] < self.min_mem[0]
        ):
            self.min_mem = other.min_mem


def _scan(
    job: _Job, part: int, nparts: int, progress: Callable[[int], None] | None = None
) -> _Partial:
    """Time the chunks whose running index is `part` modulo `nparts` (all of them for 0, 1)."""
    out = _Partial(k=job.k)
    for precision, overlap in job.passes:
        oi = job.overlaps.index(overlap)
        for chunk in iter_candidates(
            job.model,
            job.dims,
            count=job.count,
            global_batch_size=job.global_batch_size,
            seq_len=job.seq_len,
            chunk_size=job.chunk_size,
            part=part,
            nparts=nparts,
            structural=job.structural,
        ):
            n = len(chunk["tp"])
            if job.memory_prune:
                keep = (
                    memory_lower_bound(
                        job.model, chunk, count=job.count, seq_len=job.seq_len, split=job.split
                    )
                    <= job.hbm
                )
                out.pruned += n - int(keep.sum())
                if not keep.all():
                    chunk = {c: v[keep] for c, v in chunk.items()}
            if len(chunk["tp"]):
                out.consume(job, chunk, precision, oi, job.scorer)
            out.done += n
            if progress:
                progress(out.done)
    return out


_FORKED_JOB: _Job | None = None


def _scan_forked(args: tuple[int, int]) -> _Partial:
    assert _FORKED_JOB is not None
    return _scan(_FORKED_JOB, *args)


def _pick_workers(workers: int | None, total: int) -> int:
    import os

    env = os.environ.get("WANKA_SEARCH_WORKERS")
    if workers is None and env:
        try:
            workers = int(env)
        except ValueError:
            raise ConfigError(f"WANKA_SEARCH_WORKERS must be an integer, got {env!r}") from None
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if total > PARALLEL_MIN else 1
    if workers <= 0:
        raise ConfigError(f"workers must be positive, got {workers}")
    return workers


def _scan_parallel(
    job: _Job, workers: int, job_total: int, progress: Callable[[int], None] | None = None
) -> _Partial:
    """Split the chunks over `workers` forked processes (several parts each, for a live progress bar)."""
    import multiprocessing as mp

    global _FORKED_JOB
    try:
        ctx = mp.get_context("fork")
    except ValueError:  # no fork (Windows): one process
        return _scan(job, 0, 1, progress)
    parts = workers * 4
    # enough chunks that every part has work (a part that gets none still builds the structural grid)
    job = replace(job, chunk_size=max(10_000, min(job.chunk_size, job_total // (parts * 2) or 1)))
    _FORKED_JOB = job
    total = _Partial(k=job.k)
    try:
        with ctx.Pool(workers) as pool:
            for partial in pool.imap_unordered(_scan_forked, [(i, parts) for i in range(parts)]):
                total.merge(partial)
                if progress:
                    progress(total.done)
    finally:
        _FORKED_JOB = None
    return total
