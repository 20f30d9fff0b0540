"""A search's results: the `SearchResult` (the `search --json` object) and one plan's record.

A plan's record is `{"parallelism": {...}, "precision", "count", <predict output fields>}`: from
`perf.predict` when it can time the plan, else from the metric row the scan stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wanka import perf
from wanka.errors import WankaError
from wanka.hardware import Accelerator
from wanka.parallel import ParallelPlan
from wanka.search.space import COLUMNS, row_to_plan
from wanka.spec import HardwareSpec, RunSpec
from wanka.workload.model import ModelSpec

__all__ = [
    "GiB",
    "SearchResult",
    "dedupe",
    "infeasible",
    "overlap_dict",
    "parallelism_dict",
    "plan_record",
]

GiB = float(2**30)


@dataclass(frozen=True)
class SearchResult:
    """What a search found (frozen); `to_dict()` is the `search --json` object."""

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


def parallelism_dict(plan: ParallelPlan) -> dict[str, Any]:
    """The `parallelism` block of a plan record."""
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
    """predict-shaped fields from a stored metric row (when the caller asks for no predict call)."""

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
        "parallelism": parallelism_dict(plan),
        "precision": precision,
        "count": count,
    }
    pred: dict[str, Any] | None = None
    if use_predict:
        try:
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
        except WankaError:  # a plan predict refuses keeps the scan's own figures
            pred = None
    if pred is None:
        pred = _record_from_row(row or {})
    rec.update(pred)
    return rec


def overlap_dict(o: Any) -> dict[str, Any] | None:
    if o is None:
        return None
    try:
        from dataclasses import asdict

        return asdict(o)
    except TypeError:
        return {"policy": str(o)}


def dedupe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for r in rows:
        key = tuple(r.get(k) for k in COLUMNS) + (r.get("precision"), r.get("overlap"))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def infeasible(
    model: ModelSpec,
    *,
    count: int,
    global_batch_size: int,
    hbm: float,
    min_mem: tuple[float, dict[str, Any]] | None,
    evaluated: int,
    pruned_mem: int,
) -> dict[str, Any]:
    """Why no candidate fits: memory (by how much, and the closest plan) or divisibility."""
    if min_mem is not None:
        need = min_mem[0]
        closest = row_to_plan(min_mem[1], global_batch_size=global_batch_size)
        return {
            "binding_constraint": "memory",
            "reason": "no layout fits in accelerator memory",
            "min_peak_memory_gib": need / GiB,
            "hbm_gib": hbm / GiB,
            "short_by_gib": max(0.0, need - hbm) / GiB,
            "closest_plan": parallelism_dict(closest),
        }
    if evaluated == 0 and pruned_mem > 0:
        return {
            "binding_constraint": "memory",
            "reason": "every layout's 16-bit weights and one micro-batch of activations exceed "
            f"{hbm / GiB:.0f} GiB per accelerator",
            "hbm_gib": hbm / GiB,
        }
    return {
        "binding_constraint": "divisibility",
        "reason": f"no layout of {count} accelerators divides the model and batch "
        f"(global batch {global_batch_size}, heads {model.heads}, layers {model.layers})",
    }
