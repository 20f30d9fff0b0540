"""The performance-model gate and the what-if answer.

`quote_run`: a job that carries a run spec (the `wanka predict` format) is evaluated by
`wanka.perf.predict`; a run that does not fit in accelerator memory, or whose plan is not valid, is
rejected with the model's reason, and one that fits gets a quote: step time, tokens/s, duration
(`steps` x step time when the job gives `steps`), price from the pool's rate card, cost per token.

`whatif`: the expected start of a job on the current queue, through `wanka.sim` (no side effects).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from wanka.errors import InfeasiblePlan, WankaError

__all__ = ["GateResult", "WhatIfJob", "quote_run", "whatif"]

DEFAULT_WORK_S = 3600.0
"""Run time assumed for a job with neither a quote nor a time limit (what-if only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GateResult:
    rejected: str | None
    """Why the run cannot be admitted (memory, plan validity), or None."""
    quote: dict[str, Any] | None


def _quote(pred: dict[str, Any], run: Any, steps: int | None, price_h: float, cur: str) -> dict:
    n = run.hardware.count
    step_s = float(pred["step_time_s"])
    tokens_per_step = run.parallelism.global_batch_size * run.model.seq_len
    tokens_per_s = float(pred["tokens_per_s_per_gpu"]) * n
    price_per_hour = price_h * n
    q: dict[str, Any] = {
        "step_time_s": step_s,
        "tokens_per_s": tokens_per_s,
        "mfu": float(pred["mfu"]),
        "peak_memory_gib": float(pred["peak_memory_gib"]),
        "price_per_hour": price_per_hour,
        "currency": cur,
        "cost_per_million_tokens": (
            price_per_hour / 3600.0 / tokens_per_s * 1e6 if tokens_per_s > 0 else None
        ),
        "tokens_per_step": tokens_per_step,
        "source": "wanka.perf.predict",
    }
    if steps:
        q["steps"] = steps
        q["duration_s"] = steps * step_s
        q["price"] = steps * step_s / 3600.0 * price_per_hour
        q["tokens"] = steps * tokens_per_step
    return q


def quote_run(
    run_spec: dict[str, Any],
    *,
    accelerators: int,
    pool_accelerator: str,
    steps: int | None,
    price_per_accel_hour: float,
    currency: str = "USD",
) -> GateResult:
    """Gate one run spec; raises ConfigError when the spec itself is malformed."""
    from wanka.errors import ConfigError
    from wanka.perf.predict import predict
    from wanka.spec import parse_run

    run = parse_run(run_spec)
    if run.hardware.count != accelerators:
        raise ConfigError(
            f"run.hardware.count ({run.hardware.count}) must equal accelerators ({accelerators})"
        )
    if run.hardware.accelerator.id != pool_accelerator:
        raise ConfigError(
            f"run.hardware.accelerator ({run.hardware.accelerator.id}) is not the pool's "
            f"accelerator ({pool_accelerator})"
        )
    try:
        pred = predict(run)
    except InfeasiblePlan as e:
        return GateResult(rejected=f"the plan cannot run: {e}", quote=None)
    except WankaError as e:
        raise ConfigError(f"run: {e}") from None
    if not pred["fits"]:
        hbm = run.hardware.accelerator.hbm_bytes / 2**30
        return GateResult(
            rejected=(
                f"does not fit in memory: the model predicts {pred['peak_memory_gib']:.1f} GiB "
                f"per accelerator, {run.hardware.accelerator.id} has {hbm:.0f} GiB "
                "(use more accelerators, tensor/pipeline parallelism or recomputation)"
            ),
            quote=None,
        )
    return GateResult(rejected=None, quote=_quote(pred, run, steps, price_per_accel_hour, currency))


@dataclass(frozen=True, slots=True, kw_only=True)
class WhatIfJob:
    id: str
    tenant: str
    accelerators: int
    work_s: float | None
    """Expected run time (remaining, for a running job); None: DEFAULT_WORK_S."""
    running: bool
    order: float
    """Queue order (admission time for running jobs, creation time for queued ones)."""


def _cluster(accelerator: str, capacity: int, quotas: dict[str, int] | None) -> Any:
    from wanka.sim import ClusterSpec, NodeGroup

    gpn = 8 if capacity % 8 == 0 else 1  # 8-way servers where the count allows, else single cards
    group = NodeGroup(accelerator=accelerator, nodes=capacity // gpn, gpus_per_node=gpn)
    spec = ClusterSpec.from_groups([group], name="pool")
    if quotas:
        import dataclasses

        spec = dataclasses.replace(spec, tenant_quota=dict(quotas))
    return spec


def whatif(
    *,
    accelerator: str,
    capacity: int,
    jobs: list[WhatIfJob],
    candidate: WhatIfJob,
    quotas: dict[str, int] | None,
) -> dict[str, Any]:
    """Expected wait and start of `candidate` behind `jobs` (seconds from now), simulated.

    With `quotas` the pool is simulated with `wanka.sim`'s quota policy (nominal quotas, idle
    accelerators lent, reclaim); without, `capacity` is the tenant's own quota, served FIFO.
    """
    from wanka.sim import JobTable, simulate

    allj = sorted(jobs, key=lambda j: (not j.running, j.order)) + [candidate]
    n = len(allj)
    eps = 1e-6  # keeps the queue order through the simulator's stable sort by arrival
    works = [j.work_s if j.work_s and j.work_s > 0 else DEFAULT_WORK_S for j in allj]
    table = JobTable.build(
        name=[j.id for j in allj],
        arrival_s=[i * eps for i in range(n)],
        size=[min(j.accelerators, capacity) for j in allj],
        work_s=works,
        tenant=[j.tenant for j in allj],
    )
    cluster = _cluster(accelerator, capacity, quotas)
    res = simulate(cluster=cluster, trace=table, policy="quota" if quotas else "fifo")
    i = table.name.index(candidate.id)
    start = float(res.first_start_s[i])
    finish = float(res.finish_s[i])
    return {
        "expected_wait_s": None if math.isnan(start) else max(start - i * eps, 0.0),
        "expected_duration_s": works[-1],
        "expected_finish_s": None if math.isnan(finish) else finish,
        "queue_ahead": n - 1,
        "method": "wanka.sim "
        + (
            "quota policy on the whole pool"
            if quotas
            else "FIFO on the tenant's own quota (no borrowing)"
        ),
        "assumptions": [
            f"a job with neither a quote nor a time limit runs {DEFAULT_WORK_S:.0f} s",
            "running jobs keep their predicted remaining time",
        ],
    }
