"""`POST /jobs:whatif`: the job's quote and its expected start on the current queue (read only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from wanka.errors import ConfigError
from wanka.platform.api import ApiError
from wanka.platform.gate import WhatIfJob, quote_run, whatif
from wanka.platform.metering import rate_at
from wanka.platform.models import Job, Pool, Quota
from wanka.platform.schemas import JobIn
from wanka.platform.store import Store, now

__all__ = ["whatif_for"]


def _work(job: Job, at: float) -> float | None:
    q = job.quote or {}
    total = q.get("duration_s") or job.time_limit_s
    if total is None:
        return None
    if job.state == "running" and job.started_at:
        return max(total - (at - job.started_at), 1.0)
    return total


def whatif_for(store: Store, tenant_id: str, body: JobIn) -> dict[str, Any]:
    at = now()
    with store.read() as s:
        pool = s.scalar(select(Pool).where(Pool.name == body.pool))
        if pool is None:
            raise ApiError(422, f"unknown pool {body.pool!r}")
        quotas = {q.tenant_id: q for q in s.scalars(select(Quota).where(Quota.pool_id == pool.id))}
        if tenant_id not in quotas:
            raise ApiError(422, f"your tenant has no quota in pool {body.pool!r}")
        jobs = s.scalars(
            select(Job).where(
                Job.pool_id == pool.id, Job.state.in_(("queued", "admitted", "running"))
            )
        ).all()
        price, cur = rate_at(s, pool, at)
    quote, rejected = None, None
    if body.run is not None:
        try:
            g = quote_run(
                body.run,
                accelerators=body.accelerators,
                pool_accelerator=pool.accelerator,
                steps=body.steps,
                price_per_accel_hour=price,
                currency=cur,
            )
        except ConfigError as e:
            raise ApiError(422, f"run: {e}") from None
        quote, rejected = g.quote, g.rejected
    if rejected:
        return {"admissible": False, "reason": rejected, "quote": None}
    mine = quotas[tenant_id]
    strict = mine.borrow_limit == 0  # the tenant's own quota bounds it: simulate only its jobs
    own = [j for j in jobs if j.tenant_id == tenant_id] if strict else list(jobs)
    views = [
        WhatIfJob(
            id=j.id,
            tenant=j.tenant_id,
            accelerators=j.accelerators,
            work_s=_work(j, at),
            running=j.state != "queued",
            order=(j.admitted_at or j.created_at),
        )
        for j in own
    ]
    work = (quote or {}).get("duration_s") or body.time_limit_s
    cand = WhatIfJob(
        id="(this job)",
        tenant=tenant_id,
        accelerators=body.accelerators,
        work_s=work,
        running=False,
        order=at,
    )
    capacity = max(mine.accelerators, 1) if strict else pool.accelerators
    if body.accelerators > capacity:
        raise ApiError(422, f"accelerators ({body.accelerators}) exceed your quota ({capacity})")
    res = whatif(
        accelerator=pool.accelerator,
        capacity=capacity,
        jobs=views,
        candidate=cand,
        quotas=None if strict else {t: q.accelerators for t, q in quotas.items()},
    )
    return {"admissible": True, "quote": quote, **res}
