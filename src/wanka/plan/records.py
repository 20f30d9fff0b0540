"""Typed job records of a centre design: a training goal's plan on its partition, a serving demand's
count. Each has one `to_dict` (the `plan --json` vocabulary of docs/json.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from wanka.catalogs.economics import Economics
from wanka.errors import WankaError
from wanka.parallel import ParallelPlan
from wanka.plan.goodput import goodput, time_to_train_s
from wanka.plan.inputs import SECONDS_PER_DAY, Candidate, Goal, Serving
from wanka.plan.jobs import JobOption, serving_count
from wanka.search.core import GiB

__all__ = ["Job", "ServingJob", "TrainingJob", "serving_job", "training_job"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingJob:
    """A training goal on its partition: the plan re-timed on the design's fabric, time to train."""

    role: ClassVar[str] = "training"
    id: str
    model: str
    accelerator: str
    count: int
    tokens: float
    deadline_days: float
    global_batch_size: int
    search: dict[str, Any]
    plan: dict[str, Any] | None
    time_to_train_days: float
    tokens_per_s: float
    memory_margin: float
    infeasible: dict[str, Any] | None = None
    tokens_per_s_per_gpu: float = 0.0
    mfu: float | None = None
    goodput: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "role": self.role,
            "model": self.model,
            "accelerator": self.accelerator,
            "count": self.count,
            "tokens": self.tokens,
            "deadline_days": self.deadline_days,
            "global_batch_size": self.global_batch_size,
            "search": self.search,
            "plan": self.plan,
        }
        if self.plan is None:
            out["infeasible"] = self.infeasible
            out["time_to_train_days"] = self.time_to_train_days
            out["tokens_per_s"] = self.tokens_per_s
        else:
            out["tokens_per_s"] = self.tokens_per_s
            out["tokens_per_s_per_gpu"] = self.tokens_per_s_per_gpu
            out["mfu"] = self.mfu
            out["goodput"] = self.goodput
            out["time_to_train_days"] = self.time_to_train_days
        out["memory_margin"] = self.memory_margin
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ServingJob:
    """A serving demand on its partition, sized by `wanka.serve`."""

    role: ClassVar[str] = "serving"
    id: str
    model: str
    accelerator: str
    count: int
    tokens_per_s: float
    sized_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role,
            "model": self.model,
            "accelerator": self.accelerator,
            "count": self.count,
            "tokens_per_s": self.tokens_per_s,
            "sized_by": self.sized_by,
        }


Job = TrainingJob | ServingJob


def _retime(goal: Goal, cand: Candidate, opt: JobOption, fabric: Any) -> dict[str, Any]:
    """The job's best plan re-timed on `fabric` (predict-shaped record)."""
    from wanka.search.core import plan_record

    assert opt.plan is not None
    try:
        return plan_record(
            goal.model,
            cand.accelerator,
            ParallelPlan(**opt.plan["parallelism"]),
            count=opt.count,
            gpus_per_node=cand.accelerator.gpus_per_node,
            precision=opt.plan["precision"],
            fabric=fabric.fabric_tier() if fabric is not None else None,
        )
    except WankaError:
        return dict(opt.plan)


def training_job(goal: Goal, cand: Candidate, opt: JobOption, fabric: Any) -> TrainingJob:
    """`goal` at option `opt` on `cand`, its plan re-timed on `fabric` (None: perf's default)."""
    head: dict[str, Any] = {
        "id": goal.id,
        "model": goal.model.name,
        "accelerator": cand.accelerator.id,
        "count": opt.count,
        "tokens": goal.tokens,
        "deadline_days": goal.deadline_days,
        "global_batch_size": goal.global_batch_size,
        "search": opt.search_stats,
    }
    if opt.plan is None:
        return TrainingJob(
            **head,
            plan=None,
            infeasible=opt.infeasible,
            time_to_train_days=math.inf,
            tokens_per_s=0.0,
            memory_margin=-1.0,
        )
    plan = _retime(goal, cand, opt, fabric)
    tps_gpu = float(plan.get("tokens_per_s_per_gpu") or opt.tokens_per_s_per_gpu)
    gp = goodput(opt.count, cand.reliability)
    tps = tps_gpu * opt.count
    hbm = cand.accelerator.hbm_bytes / GiB
    return TrainingJob(
        **head,
        plan=plan,
        tokens_per_s=tps,
        tokens_per_s_per_gpu=tps_gpu,
        mfu=plan.get("mfu"),
        goodput=gp.to_dict(),
        time_to_train_days=time_to_train_s(goal.tokens, tps, gp.goodput) / SECONDS_PER_DAY,
        memory_margin=(hbm - float(plan.get("peak_memory_gib") or 0.0)) / hbm,
    )


def serving_job(s: Serving, cand: Candidate, eco: Economics) -> ServingJob:
    """Serving demand `s` on `cand`, with the count `wanka.serve` sizes."""
    rate = s.rate or s.tokens_per_s / s.output_len
    return ServingJob(
        id=s.id,
        model=s.model.name,
        accelerator=cand.accelerator.id,
        count=serving_count(s, cand, eco),
        tokens_per_s=s.tokens_per_s,
        sized_by=(
            f"wanka.serve: {rate:.4g} requests/s of {s.input_len:g}+{s.output_len:g} tokens"
            + (f", p99 TTFT <= {s.ttft_ms:g} ms" if s.ttft_ms else "")
            + (f", p99 TPOT <= {s.tpot_ms:g} ms" if s.tpot_ms else "")
        ),
    )
