"""Fusing a site's existing chips into a mixed training job (`plan` with a `site:` block).

A design on an existing site runs each training goal on one chip kind; the chips the site already owns
that the design leaves idle (other kinds, not used by any of its jobs, retired or kept as their own
pool) can join that job instead. For the designs ranked first (`FUSE_TOP`, keeping `plan` fast), each
training job is searched again as one job over its own chips plus the idle existing chips of the kind
with the most idle compute (`search.hetero.search_hetero`: stage placement, layer partition, per-kind
tp, batch shares, vpp, cp). The job gains a `fused_existing` block: the chips, the mixed plan's
tokens/s, its speedup over the job alone (the larger of the design's own plan and the mixed model's
single-kind plan on the same chips, so the comparison is with the same model), whether it helps, and
the time to train at that speed (the job's goodput kept: the fused chips are few beside the job's).
The ranking is left as it was: the block says where fusing pays.

One precision runs the whole mixed job: the goal's, or fp16 when an existing kind lacks it (V100-class
chips have no bf16 units).
"""

from __future__ import annotations

from typing import Any

from wanka.catalogs import get_accelerator
from wanka.errors import WankaError

__all__ = ["FUSE_TOP", "FUSE_ASSUMPTION", "fuse_existing"]

FUSE_TOP = 3
"""Designs (by rank) whose training jobs are searched again with the idle existing chips."""

FUSE_ASSUMPTION = (
    f"fused_existing: the {FUSE_TOP} designs ranked first try each training job with the site's idle "
    "existing chips (one job over mixed kinds, wanka.search.hetero); the job's goodput is kept"
)


def _idle(site: Any, design: dict[str, Any], kind: str) -> list[tuple[Any, int]]:
    """(accelerator, count) of the site's existing chips of other kinds no job of `design` uses."""
    used: dict[str, int] = {}
    for j in design.get("jobs") or []:
        used[j["accelerator"]] = used.get(j["accelerator"], 0) + int(j.get("count") or 0)
    out = []
    for e in site.existing:
        if e.accelerator.id == kind:
            continue
        free = e.count - used.get(e.accelerator.id, 0)
        if free > 0:
            out.append((e, free))
    return out


def _precision(goal_precision: str, accs: list[Any]) -> str | None:
    for p in (goal_precision, "fp16"):
        if all(a.peak_flops.get(p) for a in accs):
            return p
    return None


def _fuse_job(site: Any, goal: Any, design: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    from wanka.search.hetero import Kind, search_hetero

    own = get_accelerator(job["accelerator"])
    idle = _idle(site, design, own.id)
    if not idle:
        return {"helps": False, "reason": "no idle existing chips of another kind"}

    def compute(e: Any, n: int) -> float:
        return n * max(e.accelerator.peak_flops.get(p) or 0.0 for p in ("bf16", "fp16"))

    e, free = max(idle, key=lambda x: compute(*x))
    prec = _precision(goal.precision, [own, e.accelerator])
    if prec is None:
        return {"helps": False, "reason": f"no precision both {own.id} and {e.accelerator.id} run"}
    kinds = [
        Kind(acc=own, count=int(job["count"]), gpus_per_node=own.gpus_per_node),
        Kind(acc=e.accelerator, count=free, gpus_per_node=e.gpus_per_node),
    ]
    try:
        res = search_hetero(
            goal.model,
            kinds,
            global_batch_size=goal.global_batch_size,
            precision=prec,
            references=False,
        )
    except WankaError as err:
        return {"helps": False, "reason": str(err)}
    mixed = res.get("best_mixed")
    alone = max(
        float(job.get("tokens_per_s") or 0.0),
        float(res["references"]["per_kind_hetero_model_tokens_per_s"][own.id] or 0.0),
    )
    if not mixed or not alone:
        return {"helps": False, "reason": "no mixed plan fits"}
    speedup = mixed["tokens_per_s"] / alone
    ttt = job.get("time_to_train_days")
    return {
        "accelerators": mixed["accelerators"],
        "precision": prec,
        "tokens_per_s": mixed["tokens_per_s"],
        "alone_tokens_per_s": alone,
        "speedup": speedup,
        "helps": speedup > 1.0,
        "time_to_train_days": ttt / speedup if isinstance(ttt, (int, float)) else None,
        "plan": mixed["plan"],
    }


def fuse_existing(spec: Any, result: dict[str, Any]) -> dict[str, Any]:
    """Add `fused_existing` to the training jobs of the first `FUSE_TOP` designs (module docstring)."""
    site = spec.site
    if site is None or not site.existing:
        return result
    goals = {g.id: g for g in spec.goals}
    for design in result["designs"][:FUSE_TOP]:
        helps = False
        for job in design.get("jobs") or []:
            goal = goals.get(job.get("id"))
            if goal is None or job.get("role") != "training" or job.get("plan") is None:
                continue
            job["fused_existing"] = _fuse_job(site, goal, design, job)
            helps |= bool(job["fused_existing"]["helps"])
        design["fused_existing"] = helps
    result["assumptions"].append(FUSE_ASSUMPTION)
    return result
