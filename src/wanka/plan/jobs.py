"""One job on one chip type: the accelerator counts worth trying and the best plan at each.

Training goals: counts of the form node x 2^j x {1, 5/4, 3/2} that admit a layout, a handful kept around
the count the deadline needs (estimated from a probe search), each searched in a REDUCED plan space (vpp
in {1,2,4,8}, micro-batch in {1,2,4}, etp in {1,2,4,8}; every other dimension as `wanka search`).
Serving demands: the count `wanka.serve.plan` sizes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wanka.catalogs.economics import Economics
from wanka.errors import WankaError
from wanka.plan.goodput import goodput, time_to_train_s
from wanka.plan.inputs import SECONDS_PER_DAY, Candidate, Goal, Serving
from wanka.search.core import search
from wanka.search.space import count_candidates, space_dims
from wanka.workload.model import ModelSpec

__all__ = [
    "JobOption",
    "best_option",
    "job_options",
    "nice_counts",
    "serving_count",
    "serving_plan",
]

#: Reduced plan-search dimensions used by the designer (speed); see the module docstring.
REDUCED = {"vpp": (1, 2, 4, 8), "micro_batch_size": (1, 2, 4)}
REDUCED_ETP = (1, 2, 4, 8)
_COUNT_SHAPES = (1.0, 1.25, 1.5)


def nice_counts(node: int, available: int) -> list[int]:
    """node x 2^j x {1, 5/4, 3/2} (whole nodes), up to `available`, ascending.

    >>> nice_counts(8, 100)
    [8, 16, 24, 32, 40, 48, 64, 80, 96]
    """
    out: set[int] = set()
    j = 0
    while node * 2**j <= available:
        for f in _COUNT_SHAPES:
            n = int(round(node * 2**j * f / node)) * node
            if node <= n <= available:
                out.add(n)
        j += 1
    return sorted(out)


@dataclass(frozen=True, slots=True)
class JobOption:
    """The best plan of one job at one count on one chip type."""

    count: int
    plan: dict[str, Any] | None  # search record (parallelism + predict fields) or None
    tokens_per_s_per_gpu: float
    infeasible: dict[str, Any] | None = None
    search_stats: dict[str, Any] = field(default_factory=dict)

    def days(self, goal: Goal, cand: Candidate) -> float:
        """Time to train `goal` at this option's throughput, goodput included."""
        gp = goodput(self.count, cand.reliability).goodput
        tps = self.tokens_per_s_per_gpu * self.count
        return time_to_train_s(goal.tokens, tps, gp) / SECONDS_PER_DAY


def _dims(model: ModelSpec, count: int, gbs: int, precision: str) -> Any:
    kw: dict[str, Any] = dict(REDUCED)
    if model.moe is not None:
        kw["etp"] = REDUCED_ETP
    return space_dims(model, count=count, global_batch_size=gbs, precisions=(precision,), **kw)


def _precision(goal: Goal, cand: Candidate) -> str:
    acc = cand.accelerator
    prec = (
        goal.precision if acc.peak_flops.get(goal.precision) or goal.precision == "bf16" else "bf16"
    )
    try:
        acc.peak(prec)
    except WankaError:
        prec = "bf16"
    return prec


def _search_job(goal: Goal, cand: Candidate, count: int) -> JobOption:
    prec = _precision(goal, cand)
    res = search(
        goal.model,
        cand.accelerator,
        count=count,
        global_batch_size=goal.global_batch_size,
        seq_len=goal.model.seq_len,
        precisions=(prec,),
        dims=_dims(goal.model, count, goal.global_batch_size, prec),
        top_k=2,
    )
    stats = {
        "space": res.space,
        "evaluated": res.evaluated,
        "feasible": res.feasible,
        "seconds": res.seconds,
    }
    if res.best is None:
        return JobOption(count, None, 0.0, infeasible=res.infeasible, search_stats=stats)
    tps = float(res.best["tokens_per_s_per_gpu"])
    return JobOption(count, res.best, tps, search_stats=stats)


def _viable_counts(goal: Goal, cand: Candidate, available: int) -> list[int]:
    node = cand.accelerator.gpus_per_node
    gbs = goal.global_batch_size
    return [
        n
        for n in nice_counts(node, available)
        if count_candidates(
            goal.model,
            _dims(goal.model, n, gbs, "bf16"),
            count=n,
            global_batch_size=gbs,
            seq_len=goal.model.seq_len,
        )
        > 0
    ]


def _required_count(goal: Goal, cand: Candidate, tps_per_gpu: float) -> float:
    """Accelerators needed to meet the deadline at `tps_per_gpu`, with goodput at that size (2 rounds)."""
    if tps_per_gpu <= 0:
        return math.inf
    deadline_s = goal.deadline_days * SECONDS_PER_DAY
    n = goal.tokens / (deadline_s * tps_per_gpu)
    for _ in range(3):
        gp = goodput(max(1, int(math.ceil(n))), cand.reliability).goodput
        n = goal.tokens / (deadline_s * tps_per_gpu * gp)
    return n


def _pick_counts(viable: list[int], need: float, k: int) -> list[int]:
    """A handful of counts: one below the need, the first that meets it, the next ones, and the largest."""
    if not viable:
        return []
    above = [c for c in viable if c >= need]
    below = [c for c in viable if c < need]
    picks: list[int] = []
    if below:
        picks.append(below[-1])
    picks += above[: max(1, k - 2)]
    picks.append(viable[-1])
    out = sorted(set(picks))
    if len(out) < k:  # fill from the top of the available range
        for c in reversed(viable):
            if len(out) >= k:
                break
            if c not in out:
                out.append(c)
    return sorted(set(out))[: max(k, 2)]


def job_options(
    goal: Goal, cand: Candidate, k: int, available: int | None = None
) -> tuple[list[JobOption], float]:
    """Best plans of `goal` on `cand` at a handful of counts (up to `available`, default all on offer), and
    the estimated count the deadline needs."""
    viable = _viable_counts(goal, cand, cand.available if available is None else available)
    if not viable:
        return [], math.inf
    probe_count = viable[
        min(len(viable) - 1, max(0, int(np.searchsorted(viable, min(4096, viable[-1])))))
    ]
    probe = _search_job(goal, cand, probe_count)
    tps = probe.tokens_per_s_per_gpu
    if tps <= 0:  # try the largest size: more model-parallel room
        probe = _search_job(goal, cand, viable[-1])
        tps = probe.tokens_per_s_per_gpu
    need = _required_count(goal, cand, tps)
    counts = _pick_counts(viable, need, k)
    opts = [probe if c == probe.count else _search_job(goal, cand, c) for c in counts]
    if opts and all(o.plan is not None for o in opts):
        # refine the need with the measured throughput at the size nearest to it
        near = min(opts, key=lambda o: abs(o.count - need) if math.isfinite(need) else -o.count)
        need = _required_count(goal, cand, near.tokens_per_s_per_gpu)
    return opts, need


def best_option(goal: Goal, cand: Candidate, opts: list[JobOption]) -> JobOption | None:
    """The smallest count whose plan meets the deadline (goodput included), else the fastest."""
    ok = [o for o in opts if o.plan is not None]
    if not ok:
        return opts[-1] if opts else None
    meets = [o for o in ok if o.days(goal, cand) <= goal.deadline_days]
    if meets:
        return min(meets, key=lambda o: o.count)
    return min(ok, key=lambda o: o.days(goal, cand))


def serving_count(s: Serving, cand: Candidate, eco: Economics) -> int:
    """Accelerators (whole nodes) that serve `s` on this chip, sized by the serving model.

    `wanka.serve.plan.plan_serving` (analytic screening: KV-cache capacity, continuous batching, p99
    TTFT/TPOT against the limits) at rate = `rate` or tokens_per_s / output_len, within the chip's
    availability; the cheapest passing deployment's count, rounded up to whole nodes. A demand this chip
    cannot serve within its availability gets availability + one node (no design can host it).
    """
    node = cand.accelerator.gpus_per_node
    count, _ = serving_plan(s, cand.accelerator.id, cand.available)
    return cand.available + node if count is None else math.ceil(count / node) * node


@functools.cache
def serving_plan(s: Serving, accelerator_id: str, available: int) -> tuple[int | None, str]:
    """(accelerators of the cheapest `serve plan` deployment, or None; why there is none)."""
    from wanka.serve.plan import no_plan_reason, plan_serving

    lowp = {"nvfp4": "fp4", "mxfp4": "fp4", "fp8-blockwise": "fp8", "mxfp8": "fp8"}
    prec = lowp.get(s.precision, s.precision if s.precision in ("bf16", "fp16", "fp8") else "bf16")
    rate, most = s.rate or s.tokens_per_s / s.output_len, max(int(available), 1)
    try:
        res = plan_serving(
            s.model, [accelerator_id], rate=rate, input_len=s.input_len, output_len=s.output_len,
            ttft_ms=s.ttft_ms, tpot_ms=s.tpot_ms, max_count=most, precision=prec, per_chip=1,
            verify=False, framework=s.framework,
        )  # fmt: skip
    except WankaError as e:  # plan_serving's input checks name its CLI option
        return None, str(e).replace("--rate", "the job's request rate")
    if res.plans:
        return int(res.plans[0]["count"]), ""
    reason = no_plan_reason(res.best_reachable or {}, rate, f"the {most} available",
                            rate_name="the job's request rate", advice="")  # fmt: skip
    return None, reason
