"""The answer of the heterogeneous search (`search.hetero`): the best plan as run-spec fields and its
references, computed in the same run.

References for each kind alone come from the homogeneous search (`search.core.search`, every layout the
project models: vpp, cp, FSDP, recompute, overlap policies) on all of that kind's chips, the strongest
homogeneous answer the project has; the heterogeneous model's own single-kind plan is reported beside it
as a cross-check, and the larger of the two is the kind's reference. The best homogeneous subset is the
best kind alone; the sum-of-parts bound is every kind training alone at once; the naive equal split is
the best plan that spreads layers evenly over the stages and the batch evenly over the pipelines.
"""

from __future__ import annotations

import time
from typing import Any

from wanka.errors import WankaError
from wanka.hardware import PRECISIONS
from wanka.search.core import search
from wanka.spec_hetero import HeteroRunSpec

__all__ = ["answer", "homogeneous_search", "plan_dict"]


def plan_dict(spec: HeteroRunSpec) -> dict[str, Any]:
    """A heterogeneous plan as run-spec fields (`hardware` groups + `parallelism.stages`)."""
    stages: list[dict[str, Any]] = []
    for st in spec.stages:
        reps = st.replicas
        if len({(r.group, r.tp) for r in reps}) == 1 and len(set(spec.batch_shares)) == 1:
            g = spec.groups[reps[0].group].name
            stages.append({"group": g, "layers": st.layers, "tp": reps[0].tp, "dp": len(reps)})
        else:
            stages.append(
                {
                    "layers": st.layers,
                    "replicas": [
                        {
                            "group": spec.groups[r.group].name,
                            "tp": r.tp,
                            "batch_share": round(s, 12),
                        }
                        for r, s in zip(reps, spec.batch_shares, strict=True)
                    ],
                }
            )
    return {
        "hardware": [
            {
                "name": g.name,
                "accelerator": g.accelerator.id,
                "count": g.count,
                "gpus_per_node": g.gpus_per_node,
            }
            for g in spec.groups
        ],
        "parallelism": {
            "micro_batch_size": spec.micro_batch_size,
            "global_batch_size": spec.global_batch_size,
            "recompute": spec.recompute,
            "distributed_optimizer": spec.distributed_optimizer,
            "sequence_parallel": spec.sequence_parallel,
            "vpp": spec.vpp,
            "cp": spec.cp,
            "overlap_grad_reduce": spec.overlap_grad_reduce,
            "fused_kernels": spec.fused_kernels,
            "stages": stages,
        },
        "precision": spec.precision,
    }


def _best_dict(res: tuple[dict[str, Any], HeteroRunSpec], family: str) -> dict[str, Any]:
    out, spec = res
    best = {k: v for k, v in out.items() if k != "assumptions"}
    best["count"] = spec.count
    best["accelerators"] = {
        g.accelerator.id: spec.cp
        * sum(r.tp for s in spec.stages for r in s.replicas if r.group == i)
        for i, g in enumerate(spec.groups)
    }
    best["family"] = family
    best["plan"] = plan_dict(spec)
    return best


def homogeneous_search(model: Any, kind: Any, G: int, precision: str) -> dict[str, Any] | None:
    """The homogeneous search's best plan on all of one kind's chips (None when none fits or the
    precision is one the homogeneous search does not model, e.g. fp32)."""
    if precision not in PRECISIONS:
        return None
    try:
        res = search(
            model,
            kind.acc,
            count=kind.count,
            gpus_per_node=kind.gpus_per_node,
            global_batch_size=G,
            seq_len=model.seq_len,
            precisions=(precision,),
            top_k=1,
        )
    except WankaError:
        return None
    best = res.best
    if not best or not best.get("fits"):
        return None
    return {
        "tokens_per_s": float(best["tokens_per_s_per_gpu"]) * kind.count,
        "parallelism": best["parallelism"],
    }


def answer(
    model: Any,
    kinds: list[Any],
    *,
    precision: str,
    G: int,
    alone: list[Any],
    best_mixed: Any,
    best_naive: Any,
    counts: dict[str, int],
    t0: float,
    homogeneous: bool = True,
) -> dict[str, Any]:
    """The `search --json` object of a mixed fleet (module docstring)."""
    from wanka.errors import ConfigError

    regular = [homogeneous_search(model, k, G, precision) if homogeneous else None for k in kinds]
    own = [(r[0]["tokens_per_s"] if r else 0.0) for r in alone]
    reg = [(r["tokens_per_s"] if r else 0.0) for r in regular]
    homo = [max(a, b) for a, b in zip(own, reg, strict=True)]
    candidates = [(r, "single kind") for r in alone if r] + (
        [(best_mixed, "mixed")] if best_mixed else []
    )
    if not candidates:
        raise ConfigError(
            "no plan fits: every layout exceeds some chip's memory; add chips, raise the global "
            "batch's divisibility or pick a smaller model"
        )
    top = max(candidates, key=lambda x: x[0][0]["tokens_per_s"])
    best = _best_dict(top[0], top[1])
    sop = float(sum(homo))
    best_homo = max(homo)
    k_best = max(range(len(kinds)), key=lambda k: homo[k])
    eq = best_naive[0]["tokens_per_s"] if best_naive else None
    return {
        "model": model.name,
        "fleet": [{"accelerator": k.acc.id, "count": k.count} for k in kinds],
        "global_batch_size": G,
        "seq_len": model.seq_len,
        "precision": precision,
        "best": best,
        "best_mixed": _best_dict(best_mixed, "mixed") if best_mixed else None,
        "references": {
            "best_homogeneous_tokens_per_s": best_homo,
            "best_homogeneous_accelerator": kinds[k_best].acc.id,
            "best_homogeneous_parallelism": (regular[k_best] or {}).get("parallelism"),
            "per_kind_alone_tokens_per_s": {k.acc.id: h for k, h in zip(kinds, homo, strict=True)},
            "per_kind_homogeneous_search_tokens_per_s": {
                k.acc.id: (r["tokens_per_s"] if r else None)
                for k, r in zip(kinds, regular, strict=True)
            },
            "per_kind_hetero_model_tokens_per_s": {
                k.acc.id: h for k, h in zip(kinds, own, strict=True)
            },
            "sum_of_parts_tokens_per_s": sop,
            "equal_split_tokens_per_s": eq,
        },
        "sum_of_parts_efficiency": best["tokens_per_s"] / sop if sop else None,
        "speedup_vs_best_homogeneous": best["tokens_per_s"] / best_homo if best_homo else None,
        "speedup_vs_equal_split": best["tokens_per_s"] / eq if eq else None,
        **counts,
        "seconds": time.perf_counter() - t0,
    }
