"""Exhaustive parallel-layout search: enumerate (space.py), prune, time in bulk (perf), rank (rank.py).

Pipeline for one (model, accelerator, count, global batch, sequence length):

1. `space_dims` lists the candidates per dimension; `space` = their product (before any pruning);
2. `iter_candidates` drops what breaks a divisibility rule, in vectorised stages, and yields chunks;
3. `memory_lower_bound` drops candidates that cannot fit under any memory model (16-bit weights plus one
   micro-batch's layer inputs exceed the accelerator's memory);
4. the rest is timed with the vectorised step model (`wanka.perf.evaluate`) in chunks of 25,000 (small
   enough to stay in cache: about twice the rate of 200,000-row chunks on a 2-core VM), once per
   precision and per overlap policy; `evaluated` counts exactly those candidates;
5. a `Leaderboard` keeps the top-k and the Pareto front (tokens/s/GPU vs peak memory) as it goes.

The library never prints: pass `progress(done, total)` to follow it (the CLI draws a rich bar).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from wanka.errors import ConfigError, WankaError
from wanka.hardware import Accelerator
from wanka.parallel import ParallelPlan
from wanka.search.rank import Leaderboard, explain
from wanka.search.space import (
    COLUMNS,
    SpaceDims,
    _param_split,
    count_candidates,
    iter_candidates,
    memory_lower_bound,
    plan_to_row,
    row_to_plan,
    space_dims,
    structural_candidates,
)
from wanka.workload.model import ModelSpec

__all__ = [
    "GiB",
    "Scorer",
    "SearchResult",
    "perf_scorer",
    "plan_record",
    "published_dims",
    "search",
    "search_run",
]

GiB = float(2**30)

#: Scorer(cols, precision, overlap) -> metric arrays; must return at least tokens_per_s_per_gpu,
#: step_time_s, peak_memory_bytes and fits (bool). Optional: valid (bool) and breakdown arrays.
Scorer = Callable[[dict[str, np.ndarray], str, Any], dict[str, np.ndarray]]

#: StepArrays fields copied into the metric dict (when perf provides them).
_METRIC_FIELDS = (
    "tokens_per_s_per_gpu",
    "step_time_s",
    "model_tflops_per_gpu",
    "mfu",
    "peak_memory_bytes",
    "fits",
    "valid",
    "compute_s",
    "recompute_s",
    "bubble_s",
    "optimizer_s",
)


def perf_scorer(
    model: ModelSpec,
    accelerator: Accelerator,
    *,
    count: int,
    gpus_per_node: int,
    global_batch_size: int,
    seq_len: int,
    fabric: Any = None,
    strict_experts: bool = True,
) -> Scorer:
    """A scorer backed by `wanka.perf.evaluate` (imported lazily: perf is a lower layer, but optional here)."""
    from wanka import perf
    from wanka.perf.plans import PlanArrays

    def score(cols: dict[str, np.ndarray], precision: str, overlap: Any) -> dict[str, np.ndarray]:
        plans = PlanArrays(**{k: cols[k] for k in COLUMNS})
        kw: dict[str, Any] = {
            "count": count,
            "gpus_per_node": gpus_per_node,
            "global_batch_size": global_batch_size,
            "seq_len": seq_len,
            "precision": precision,
            "fabric": fabric,
        }
        if overlap is not None:
            kw["overlap"] = overlap
        if not strict_experts:
            kw["strict_experts"] = False
        st = perf.evaluate(model, accelerator, plans, **kw)
        out: dict[str, np.ndarray] = {}
        for name in _METRIC_FIELDS:
            v = getattr(st, name, None)
            if v is not None:
                out[name] = np.asarray(v)
        exposed = getattr(st, "exposed_comm_s", None)
        for ax in ("tp", "cp", "ep", "pp", "dp"):
            v = getattr(st, f"exposed_{ax}_s", None)
            if v is None and isinstance(exposed, dict):
                v = exposed.get(ax)
            if v is not None:
                out[f"exposed_{ax}_s"] = np.asarray(v)
        return out

    return score


@dataclass
class SearchResult:
    """What a search found; `to_dict()` is the `search --json` object."""

    space: int
    after_divisibility: int
    pruned_memory: int
    evaluated: int
    feasible: int
    seconds: float
    best: dict[str, Any] | None
    top: list[dict[str, Any]]
    pareto: list[dict[str, Any]]
    explanation: list[dict[str, Any]]
    context: dict[str, Any]
    infeasible: dict[str, Any] | None = None
    published: dict[str, Any] | None = None
    dims: dict[str, list] = field(default_factory=dict)
    runner_up: dict[str, Any] | None = None
    """The plan `explanation` compares the winner with: the best one with a lower throughput."""

    @property
    def best_plan(self) -> ParallelPlan | None:
        if self.best is None:
            return None
        p = self.best["parallelism"]
        return ParallelPlan(**p)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "space": self.space,
            "evaluated": self.evaluated,
            "feasible": self.feasible,
            "seconds": round(self.seconds, 4),
            "rate_per_s": round(self.evaluated / self.seconds) if self.seconds > 0 else None,
            "best": self.best,
            "top": self.top,
            "pareto": self.pareto,
            "pruned": {
                "divisibility": self.space - self.after_divisibility,
                "memory_bound": self.pruned_memory,
            },
            "explanation": self.explanation,
            "runner_up": self.runner_up,
            **self.context,
            "dimensions": self.dims,
        }
        if self.infeasible is not None:
            d["infeasible"] = self.infeasible
        if self.published is not None:
            d["published"] = self.published
        return d


def _parallelism_block(row: dict[str, Any], global_batch_size: int) -> dict[str, Any]:
    plan = row_to_plan(row, global_batch_size=global_batch_size)
    return {
        "tp": plan.tp,
        "pp": plan.pp,
        "vpp": plan.vpp,
        "cp": plan.cp,
        "ep": plan.ep,
        "etp": plan.etp,
        "dp": plan.dp,
        "fsdp": plan.fsdp,
        "distributed_optimizer": plan.distributed_optimizer,
        "sequence_parallel": plan.sequence_parallel,
        "recompute": plan.recompute,
        "micro_batch_size": plan.micro_batch_size,
        "global_batch_size": plan.global_batch_size,
    }


def _record_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """predict-shaped fields from a stored metric row (used when perf.predict is unavailable)."""

    def g(k: str) -> float | None:
        v = row.get(k)
        return None if v is None else float(v)

    exposed = {ax: g(f"exposed_{ax}_s") for ax in ("tp", "cp", "ep", "pp", "dp")}
    return {
        "tokens_per_s_per_gpu": g("tokens_per_s_per_gpu"),
        "step_time_s": g("step_time_s"),
        "model_tflops_per_gpu": g("model_tflops_per_gpu"),
        "mfu": g("mfu"),
        "peak_memory_gib": (g("peak_memory_bytes") or 0.0) / GiB,
        "fits": bool(row.get("fits", True)),
        "breakdown": {
            "compute_s": g("compute_s"),
            "recompute_s": g("recompute_s"),
            "bubble_s": g("bubble_s"),
            "exposed_comm_s": exposed,
            "optimizer_s": g("optimizer_s"),
        },
    }


def plan_record(
    model: ModelSpec,
    accelerator: Accelerator,
    plan: ParallelPlan,
    *,
    count: int,
    gpus_per_node: int,
    precision: str,
    row: dict[str, Any] | None = None,
    use_predict: bool = True,
    overlap: Any = None,
    fabric: Any = None,
) -> dict[str, Any]:
    """One plan as `{"parallelism": {...}, "precision", "count", <predict output fields>}`."""
    rec: dict[str, Any] = {
        "parallelism": {
            "tp": plan.tp,
            "pp": plan.pp,
            "vpp": plan.vpp,
            "cp": plan.cp,
            "ep": plan.ep,
            "etp": plan.etp,
            "dp": plan.dp,
            "fsdp": plan.fsdp,
            "distributed_optimizer": plan.distributed_optimizer,
            "sequence_parallel": plan.sequence_parallel,
            "recompute": plan.recompute,
            "micro_batch_size": plan.micro_batch_size,
            "global_batch_size": plan.global_batch_size,
        },
        "precision": precision,
        "count": count,
    }
    pred: dict[str, Any] | None = None
    if use_predict:
        try:
            from wanka import perf
            from wanka.spec import HardwareSpec, RunSpec

            run = RunSpec(
                id=None,
                model=model,
                parallelism=plan,
                precision=precision,
                hardware=HardwareSpec(
                    accelerator=accelerator, count=count, gpus_per_node=gpus_per_node
                ),
            )
            kw: dict[str, Any] = {"fabric": fabric}
            if overlap is not None:
                kw["overlap"] = overlap
            pred = dict(perf.predict(run, **kw))
            pred.pop("id", None)
            pred.pop("assumptions", None)
        except (ImportError, AttributeError, WankaError):
            pred = None
    if pred is None:
        pred = _record_from_row(row or {})
    rec.update(pred)
    return rec


def search(
    model: ModelSpec,
    accelerator: Accelerator,
    *,
    count: int,
    global_batch_size: int,
    seq_len: int | None = None,
    gpus_per_node: int | None = None,
    precisions: Sequence[str] = ("bf16",),
    dims: SpaceDims | None = None,
    overlaps: Sequence[Any] | None = None,
    fabric: Any = None,
    top_k: int = 10,
    memory_prune: bool = True,
    chunk_size: int = 25_000,
    progress: Callable[[int, int], None] | None = None,
    scorer: Scorer | None = None,
    extra_plans: Sequence[ParallelPlan] = (),
    use_predict: bool = True,
    dim_overrides: dict[str, Any] | None = None,
    workers: int | None = None,
    memory_limit_bytes: float | None = None,
) -> SearchResult:
    """Search every parallel layout of `model` on `count` accelerators; see the module docstring.

    Args:
        overlaps: overlap policies to search over (each one is a full pass over the candidates and
            multiplies `space`); None = perf's default policy only.
        extra_plans: plans timed in addition to the space (e.g. a published layout), always evaluated.
        scorer: replaces `wanka.perf.evaluate` (tests use a tiny fake).
        memory_limit_bytes: when given, a candidate is feasible when valid and its predicted peak memory is
            at most this (instead of perf's `fits`); `search_run` uses it when a published layout that ran
            is predicted not to fit, so the same memory model judges every candidate against what ran.
        workers: processes that time chunks in parallel (fork); None = one per core (at most 4) when more
            than PARALLEL_MIN candidates survive divisibility, else 1. `WANKA_SEARCH_WORKERS` overrides.
    Returns:
        a SearchResult; `best` is None when no candidate fits, and `infeasible` then says by how much.
    """
    t0 = time.perf_counter()
    if count <= 0:
        raise ConfigError(f"count must be positive, got {count}")
    if global_batch_size <= 0:
        raise ConfigError(f"global batch size must be positive, got {global_batch_size}")
    seq_len = int(seq_len or model.seq_len)
    if seq_len <= 0:
        raise ConfigError(f"sequence length must be positive, got {seq_len}")
    if seq_len != model.seq_len:
        model = replace(model, seq_len=seq_len)
    gpn = int(gpus_per_node or accelerator.gpus_per_node)
    for p in precisions:
        accelerator.peak(p)  # raises ConfigError when the chip lacks the number format
    if dims is None:
        dims = space_dims(
            model,
            count=count,
            global_batch_size=global_batch_size,
            precisions=tuple(precisions),
            max_etp=accelerator.scaleup_domain,
            **(dim_overrides or {}),
        )
    overlap_list: list[Any] = list(overlaps) if overlaps else [None]
    if len(overlap_list) > 1:
        dims = replace(dims, extra={**dims.extra, "overlap": len(overlap_list)})
    extra_scorer = scorer
    if scorer is None:
        scorer = perf_scorer(
            model,
            accelerator,
            count=count,
            gpus_per_node=gpn,
            global_batch_size=global_batch_size,
            seq_len=seq_len,
            fabric=fabric,
            strict_experts=dims.strict_experts,
        )
        if extra_plans:  # a stated (published) layout is timed as stated, like `predict` does
            extra_scorer = perf_scorer(
                model,
                accelerator,
                count=count,
                gpus_per_node=gpn,
                global_batch_size=global_batch_size,
                seq_len=seq_len,
                fabric=fabric,
                strict_experts=False,
            )
    structural = structural_candidates(
        model, dims, count=count, global_batch_size=global_batch_size, seq_len=seq_len
    )
    per_pass = count_candidates(
        model,
        dims,
        count=count,
        global_batch_size=global_batch_size,
        seq_len=seq_len,
        structural=structural,
    )
    passes = [(p, o) for p in dims.precision for o in overlap_list]
    total = per_pass * len(passes)
    hbm = float(accelerator.hbm_bytes)
    job = _Job(
        model=model,
        dims=dims,
        count=count,
        global_batch_size=global_batch_size,
        seq_len=seq_len,
        chunk_size=chunk_size,
        memory_prune=memory_prune,
        hbm=max(float(accelerator.hbm_bytes), memory_limit_bytes or 0.0),
        split=_param_split(model),
        passes=passes,
        overlaps=overlap_list,
        scorer=scorer,
        k=max(top_k, 2),
        memory_limit=memory_limit_bytes,
        structural=structural,
    )
    if progress:
        progress(0, total)
    n_workers = _pick_workers(workers, total)
    if n_workers <= 1:
        acc_part = _scan(job, 0, 1, progress=(lambda d: progress(d, total)) if progress else None)
    else:
        acc_part = _scan_parallel(
            job, n_workers, total, progress=(lambda d: progress(d, total)) if progress else None
        )
    for precision, overlap in passes:
        oi = overlap_list.index(overlap)
        for plan in extra_plans:
            row = plan_to_row(plan)
            acc_part.consume(
                job,
                {k: np.asarray([v]) for k, v in row.items()},
                precision,
                oi,
                extra_scorer or scorer,
            )
    board, evaluated, feasible, pruned_mem = (
        acc_part.board,
        acc_part.evaluated,
        acc_part.feasible,
        acc_part.pruned,
    )
    min_mem = acc_part.min_mem
    seconds = time.perf_counter() - t0

    def rec(row: dict[str, Any]) -> dict[str, Any]:
        plan = row_to_plan(row, global_batch_size=global_batch_size)
        r = plan_record(
            model,
            accelerator,
            plan,
            count=count,
            gpus_per_node=gpn,
            precision=row["precision"],
            row=row,
            use_predict=use_predict,
            overlap=overlap_list[int(row["overlap"])],
            fabric=fabric,
        )
        if len(overlap_list) > 1:
            r["overlap"] = _overlap_dict(overlap_list[int(row["overlap"])])
        return r

    def front_rec(row: dict[str, Any]) -> dict[str, Any]:
        """Pareto entries come from the stored metric row (same model, no second evaluation)."""
        plan = row_to_plan(row, global_batch_size=global_batch_size)
        r = plan_record(
            model,
            accelerator,
            plan,
            count=count,
            gpus_per_node=gpn,
            precision=row["precision"],
            row=row,
            use_predict=False,
        )
        if len(overlap_list) > 1:
            r["overlap"] = _overlap_dict(overlap_list[int(row["overlap"])])
        return r

    top_rows = _dedupe(board.top())[:top_k]
    top = [rec(r) for r in top_rows]
    pareto = [front_rec(r) for r in board.front()]
    best = top[0] if top else None
    runner = next(
        (
            p
            for p in top[1:]
            if (p.get("tokens_per_s_per_gpu") or 0)
            < (best or {}).get("tokens_per_s_per_gpu", 0) * (1 - 1e-9)
        ),
        top[1] if len(top) > 1 else None,
    )
    why = explain(top[0], runner) if runner is not None else []
    runner_up = runner
    infeasible = None
    if best is None:
        if min_mem is not None:
            need = min_mem[0]
            infeasible = {
                "binding_constraint": "memory",
                "reason": "no layout fits in accelerator memory",
                "min_peak_memory_gib": need / GiB,
                "hbm_gib": hbm / GiB,
                "short_by_gib": max(0.0, need - hbm) / GiB,
                "closest_plan": _parallelism_block(min_mem[1], global_batch_size),
            }
        elif evaluated == 0 and pruned_mem > 0:
            infeasible = {
                "binding_constraint": "memory",
                "reason": "every layout's 16-bit weights and one micro-batch of activations exceed "
                f"{hbm / GiB:.0f} GiB per accelerator",
                "hbm_gib": hbm / GiB,
            }
        else:
            infeasible = {
                "binding_constraint": "divisibility",
                "reason": f"no layout of {count} accelerators divides the model and batch "
                f"(global batch {global_batch_size}, heads {model.heads}, layers {model.layers})",
            }
    context = {
        "model": model.name,
        "accelerator": accelerator.id,
        "count": count,
        "gpus_per_node": gpn,
        "global_batch_size": global_batch_size,
        "seq_len": seq_len,
        "precisions": list(dims.precision),
    }
    return SearchResult(
        space=dims.size(),
        after_divisibility=total,
        pruned_memory=pruned_mem,
        evaluated=evaluated,
        feasible=feasible,
        seconds=seconds,
        best=best,
        top=top,
        pareto=pareto,
        explanation=why,
        context=context,
        infeasible=infeasible,
        dims=dims.as_dict(),
        runner_up=runner_up,
    )


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


def _overlap_dict(o: Any) -> dict[str, Any] | None:
    if o is None:
        return None
    try:
        from dataclasses import asdict

        return asdict(o)
    except TypeError:
        return {"policy": str(o)}


def _dedupe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for r in rows:
        key = tuple(r.get(k) for k in COLUMNS) + (r.get("precision"), r.get("overlap"))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def published_dims(
    run: Any,
    *,
    precisions: Sequence[str] | None = None,
    dim_overrides: dict[str, Any] | None = None,
) -> SpaceDims:
    """The search space of `search --run`: the default lists plus the run's own degrees (so its published
    layout is a candidate), Megatron's expert-folding rule relaxed when the published layout breaks it."""
    plan: ParallelPlan = run.parallelism
    model: ModelSpec = run.model
    hw = run.hardware
    gbs = plan.global_batch_size
    precs = tuple(precisions or (run.precision,))
    overrides = dict(dim_overrides or {})
    base = space_dims(
        model,
        count=hw.count,
        global_batch_size=gbs,
        precisions=precs,
        max_etp=hw.accelerator.scaleup_domain,
    )
    for name in ("vpp", "micro_batch_size", "tp", "pp", "cp", "ep", "etp"):
        vals = overrides.get(name) or getattr(base, name)
        overrides[name] = tuple(sorted(set(vals) | {getattr(plan, name)}))
    dims = space_dims(model, count=hw.count, global_batch_size=gbs, precisions=precs, **overrides)
    if model.moe is not None and (plan.tp * plan.cp * plan.dp) % (plan.etp * plan.ep):
        dims = replace(
            dims, strict_experts=False
        )  # the published layout breaks Megatron's folding rule
    return dims


def search_run(run: Any, *, precisions: Sequence[str] | None = None, **kwargs: Any) -> SearchResult:
    """Search the parallelism of a `RunSpec`, keeping its model, hardware, global batch and precision.

    The run's framework semantics apply to every candidate (its TP-overlap credit, `perf.run_overlap`) and
    to the published layout (timed as `predict` times it, recompute inferred where the framework's recipes
    need it). Every candidate is judged against the chip's real memory; when the published layout itself is
    predicted not to fit, `published.fits` is false and `memory_note` says so. The published layout's
    degrees are added to the candidate lists and it is also timed explicitly, so the best plan is never
    worse than the published one when that fits.
    """
    from wanka.perf.predict import resolved_plan, run_overlap
    from wanka.search.space import contains

    plan, notes = resolved_plan(run)
    model: ModelSpec = run.model
    hw = run.hardware
    gbs = plan.global_batch_size
    precs = tuple(precisions or (run.precision,))
    dims = published_dims(run, precisions=precs, dim_overrides=kwargs.pop("dim_overrides", None))
    overlap = run_overlap(run)
    if not kwargs.get("overlaps") and kwargs.get("scorer") is None:
        kwargs["overlaps"] = [overlap]
    in_space = contains(model, dims, plan, count=hw.count, seq_len=model.seq_len)
    pub = plan_record(
        model,
        hw.accelerator,
        plan,
        count=hw.count,
        gpus_per_node=hw.gpus_per_node,
        precision=run.precision,
        use_predict=kwargs.get("use_predict", True),
        row=_score_one(plan, kwargs.get("scorer"), run.precision),
        overlap=overlap,
    )
    memory_note = None
    if pub.get("fits") is False and pub.get("peak_memory_gib"):
        memory_note = (
            f"the published layout is predicted at {pub['peak_memory_gib']:.1f} GiB, above the usable "
            f"{hw.accelerator.hbm_bytes / GiB:.0f} GiB of {hw.accelerator.id} (it ran, so something it "
            "did is not modelled, e.g. activation offload); plans are searched under the real memory"
        )
    res = search(
        model,
        hw.accelerator,
        count=hw.count,
        global_batch_size=gbs,
        seq_len=model.seq_len,
        gpus_per_node=hw.gpus_per_node,
        precisions=precs,
        dims=dims,
        extra_plans=() if in_space else (plan,),
        **kwargs,
    )
    same = (
        res.best is not None
        and res.best["parallelism"] == pub["parallelism"]
        and res.best["precision"] == run.precision
    )
    gain = None
    if res.best is not None and pub.get("tokens_per_s_per_gpu"):
        gain = res.best["tokens_per_s_per_gpu"] / pub["tokens_per_s_per_gpu"]
    res.published = {
        "id": run.id,
        "plan": pub,
        "fits": pub.get("fits"),
        "in_space": in_space,
        "same_as_best": same,
        "gain": gain,
        "memory_note": memory_note,
        "assumptions": notes,
    }
    return res


def _score_one(plan: ParallelPlan, scorer: Scorer | None, precision: str) -> dict[str, Any] | None:
    if scorer is None:
        return None
    m = scorer({k: np.asarray([v]) for k, v in plan_to_row(plan).items()}, precision, None)
    return {k: np.asarray(v)[0].item() for k, v in m.items()}
