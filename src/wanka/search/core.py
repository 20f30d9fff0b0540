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
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from wanka.errors import ConfigError
from wanka.hardware import Accelerator
from wanka.parallel import ParallelPlan
from wanka.search.rank import explain
from wanka.search.result import (
    GiB,
    SearchResult,
    dedupe,
    infeasible,
    overlap_dict,
    plan_record,
)
from wanka.search.scan import (
    PARALLEL_MIN,
    Scorer,
    _Job,
    _Partial,
    _pick_workers,
    _scan,
    _scan_parallel,
)
from wanka.search.space import (
    COLUMNS,
    SpaceDims,
    _param_split,
    count_candidates,
    plan_to_row,
    row_to_plan,
    space_dims,
    structural_candidates,
)
from wanka.workload.model import ModelSpec

__all__ = [
    "PARALLEL_MIN",
    "GiB",
    "Scorer",
    "SearchResult",
    "perf_scorer",
    "plan_record",
    "published_dims",
    "search",
    "search_run",
]

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
    model, seq_len = _checked_inputs(model, count, global_batch_size, seq_len)
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
    size = _Size(model, count, gpn, global_batch_size, seq_len)
    scorer, extra_scorer = _scorers(size, accelerator, dims, fabric, scorer, bool(extra_plans))
    structural = structural_candidates(
        model, dims, count=count, global_batch_size=global_batch_size, seq_len=seq_len
    )
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
        passes=[(p, o) for p in dims.precision for o in overlap_list],
        overlaps=overlap_list,
        scorer=scorer,
        k=max(top_k, 2),
        memory_limit=memory_limit_bytes,
        structural=structural,
    )
    total = count_candidates(
        model,
        dims,
        count=count,
        global_batch_size=global_batch_size,
        seq_len=seq_len,
        structural=structural,
    ) * len(job.passes)
    found = _run_scan(job, total, workers, progress)
    for precision, overlap in job.passes:  # stated plans, timed in every pass
        for plan in extra_plans:
            cols = {k: np.asarray([v]) for k, v in plan_to_row(plan).items()}
            found.consume(job, cols, precision, overlap_list.index(overlap), extra_scorer)
    seconds = time.perf_counter() - t0
    rec = partial(_record, size, accelerator, overlap_list, fabric, use_predict)
    return _result(size, accelerator, dims, total, found, seconds, top_k, rec)


@dataclass(frozen=True)
class _Size:
    """The sizes one search is for (the model already at the searched sequence length)."""

    model: ModelSpec
    count: int
    gpus_per_node: int
    global_batch_size: int
    seq_len: int


def _scorers(
    size: _Size,
    accelerator: Accelerator,
    dims: SpaceDims,
    fabric: Any,
    scorer: Scorer | None,
    stated_plans: bool,
) -> tuple[Scorer, Scorer]:
    """The scorer of the candidates and the one of stated plans (a stated, published layout is
    timed as stated, like `predict` does: Megatron's expert-folding rule is not applied to it)."""
    if scorer is not None:
        return scorer, scorer
    make = partial(
        perf_scorer,
        size.model,
        accelerator,
        count=size.count,
        gpus_per_node=size.gpus_per_node,
        global_batch_size=size.global_batch_size,
        seq_len=size.seq_len,
        fabric=fabric,
    )
    candidates = make(strict_experts=dims.strict_experts)
    return candidates, make(strict_experts=False) if stated_plans else candidates


def _record(
    size: _Size,
    accelerator: Accelerator,
    overlap_list: list[Any],
    fabric: Any,
    use_predict: bool,
    row: dict[str, Any],
    predict: bool,
) -> dict[str, Any]:
    """A row's record: timed again by `predict` (the top list), or from the stored metric row (the
    Pareto front: same model, no second evaluation); never by `predict` unless `use_predict`."""
    ov = overlap_list[int(row["overlap"])]
    predict = predict and use_predict
    r = plan_record(
        size.model,
        accelerator,
        row_to_plan(row, global_batch_size=size.global_batch_size),
        count=size.count,
        gpus_per_node=size.gpus_per_node,
        precision=row["precision"],
        row=row,
        use_predict=predict,
        overlap=ov if predict else None,
        fabric=fabric if predict else None,
    )
    if len(overlap_list) > 1:
        r["overlap"] = overlap_dict(ov)
    return r


def _result(
    size: _Size,
    accelerator: Accelerator,
    dims: SpaceDims,
    total: int,
    found: _Partial,
    seconds: float,
    top_k: int,
    rec: Callable[[dict[str, Any], bool], dict[str, Any]],
) -> SearchResult:
    """The SearchResult of a finished scan: top-k (deduplicated), Pareto front, explanation, and why
    nothing fits when nothing does."""
    top = [rec(r, True) for r in dedupe(found.board.top())[:top_k]]
    best = top[0] if top else None
    runner_up = _runner_up(top)
    why = None
    if best is None:
        why = infeasible(
            size.model,
            count=size.count,
            global_batch_size=size.global_batch_size,
            hbm=float(accelerator.hbm_bytes),
            min_mem=found.min_mem,
            evaluated=found.evaluated,
            pruned_mem=found.pruned,
        )
    context = {
        "model": size.model.name,
        "accelerator": accelerator.id,
        "count": size.count,
        "gpus_per_node": size.gpus_per_node,
        "global_batch_size": size.global_batch_size,
        "seq_len": size.seq_len,
        "precisions": list(dims.precision),
    }
    return SearchResult(
        space=dims.size(),
        after_divisibility=total,
        pruned_memory=found.pruned,
        evaluated=found.evaluated,
        feasible=found.feasible,
        seconds=seconds,
        best=best,
        top=top,
        pareto=[rec(r, False) for r in found.board.front()],
        explanation=explain(top[0], runner_up) if runner_up is not None else [],
        context=context,
        infeasible=why,
        dims=dims.as_dict(),
        runner_up=runner_up,
    )


def _checked_inputs(
    model: ModelSpec, count: int, global_batch_size: int, seq_len: int | None
) -> tuple[ModelSpec, int]:
    """Refuse non-positive sizes; the model at the searched sequence length."""
    if count <= 0:
        raise ConfigError(f"count must be positive, got {count}")
    if global_batch_size <= 0:
        raise ConfigError(f"global batch size must be positive, got {global_batch_size}")
    seq_len = int(seq_len or model.seq_len)
    if seq_len <= 0:
        raise ConfigError(f"sequence length must be positive, got {seq_len}")
    if seq_len != model.seq_len:
        model = replace(model, seq_len=seq_len)
    return model, seq_len


def _run_scan(
    job: _Job, total: int, workers: int | None, progress: Callable[[int, int], None] | None
) -> _Partial:
    """Scan every chunk in one process or in forked workers, reporting `progress(done, total)`."""
    if progress:
        progress(0, total)
    report = (lambda d: progress(d, total)) if progress else None
    n_workers = _pick_workers(workers, total)
    if n_workers <= 1:
        return _scan(job, 0, 1, progress=report)
    return _scan_parallel(job, n_workers, total, progress=report)


def _runner_up(top: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The plan the winner is explained against: the first with a lower throughput, else the second."""
    best = top[0] if top else None
    return next(
        (
            p
            for p in top[1:]
            if (p.get("tokens_per_s_per_gpu") or 0)
            < (best or {}).get("tokens_per_s_per_gpu", 0) * (1 - 1e-9)
        ),
        top[1] if len(top) > 1 else None,
    )


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

    The run's framework semantics apply to every candidate (its TP-overlap credit and loss,
    `perf.run_overlap`; its attention kernel, `perf.framework_accelerator`) and to the published layout
    (timed as `predict` times it, recompute inferred where the framework's recipes need it). Every candidate is judged against the chip's real memory; when the published layout itself is
    predicted not to fit, `published.fits` is false and `memory_note` says so. The published layout's
    degrees are added to the candidate lists and it is also timed explicitly, so the best plan is never
    worse than the published one when that fits.
    """
    from wanka.perf.predict import framework_accelerator, resolved_plan, run_overlap
    from wanka.search.space import contains

    plan, notes = resolved_plan(run)
    model: ModelSpec = run.model
    hw = run.hardware
    gbs = plan.global_batch_size
    precs = tuple(precisions or (run.precision,))
    dims = published_dims(run, precisions=precs, dim_overrides=kwargs.pop("dim_overrides", None))
    overlap = run_overlap(run)
    acc = framework_accelerator(run)  # the framework's attention kernel, as `predict` times it
    if not kwargs.get("overlaps") and kwargs.get("scorer") is None:
        kwargs["overlaps"] = [overlap]
    in_space = contains(model, dims, plan, count=hw.count, seq_len=model.seq_len)
    pub = plan_record(
        model,
        acc,
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
        acc,
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
    published = {
        "id": run.id,
        "plan": pub,
        "fits": pub.get("fits"),
        "in_space": in_space,
        "same_as_best": same,
        "gain": gain,
        "memory_note": memory_note,
        "assumptions": notes,
    }
    return replace(res, published=published)


def _score_one(plan: ParallelPlan, scorer: Scorer | None, precision: str) -> dict[str, Any] | None:
    if scorer is None:
        return None
    m = scorer({k: np.asarray([v]) for k, v in plan_to_row(plan).items()}, precision, None)
    return {k: np.asarray(v)[0].item() for k, v in m.items()}
