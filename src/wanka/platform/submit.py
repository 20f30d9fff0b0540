"""Accepting a job: validation, the performance gate, and idempotent insertion.

The same `Idempotency-Key` (per tenant) always yields the same job: a replay with the same body
returns it again (202), a different body under a used key is a 409. The unique index on
`(tenant_id, idempotency_key)` settles races: the loser of a concurrent insert reads the winner.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from wanka.errors import ConfigError
from wanka.platform.api import ApiError
from wanka.platform.auth import Principal
from wanka.platform.gate import quote_run
from wanka.platform.jobs import job_dict
from wanka.platform.metering import rate_at
from wanka.platform.models import Job, JobEvent, Pool, Quota
from wanka.platform.schemas import JobIn
from wanka.platform.store import Store, new_id, now

__all__ = ["body_sha256", "submit_job"]

MAX_KEY_CHARS = 128


def body_sha256(body: JobIn) -> str:
    return hashlib.sha256(json.dumps(body.model_dump(), sort_keys=True).encode()).hexdigest()


def _replay(store: Store, tenant_id: str, key: str, sha: str) -> dict[str, Any] | None:
    with store.read() as s:
        job = s.scalar(select(Job).where(Job.tenant_id == tenant_id, Job.idempotency_key == key))
        if job is None:
            return None
        if job.body_sha256 != sha:
            raise ApiError(409, "this Idempotency-Key was used with a different request body")
        return job_dict(job, s.get(Pool, job.pool_id))


def _check(store: Store, p: Principal, body: JobIn) -> tuple[Pool, float, str]:
    """The pool, its price now and currency; 4xx when the job can never run there."""
    with store.read() as s:
        pool = s.scalar(select(Pool).where(Pool.name == body.pool))
        if pool is None:
            raise ApiError(422, f"unknown pool {body.pool!r}")
        q = s.get(Quota, (p.tenant_id, pool.id))
        if q is None:
            raise ApiError(422, f"your tenant has no quota in pool {body.pool!r}")
        if body.accelerators > pool.accelerators:
            raise ApiError(
                422,
                f"accelerators ({body.accelerators}) exceed pool {pool.name!r} "
                f"({pool.accelerators})",
            )
        if body.accelerators > q.accelerators + q.borrow_limit:
            raise ApiError(
                422,
                f"accelerators ({body.accelerators}) exceed your quota in {pool.name!r} "
                f"({q.accelerators} + {q.borrow_limit} borrowable); the job could never start",
            )
        price, cur = rate_at(s, pool, now())
    return pool, price, cur


def submit_job(
    store: Store, p: Principal, body: JobIn, key: str | None, metrics: Any = None
) -> dict[str, Any]:
    """Accept (or replay) one job; returns its API view."""
    if p.tenant_id is None:
        raise ApiError(403, "admin tokens cannot submit jobs; use a tenant token")
    if key is not None and (not key or len(key) > MAX_KEY_CHARS):
        raise ApiError(400, f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} characters")
    sha = body_sha256(body)
    if key and (seen := _replay(store, p.tenant_id, key, sha)) is not None:
        return seen
    pool, price, cur = _check(store, p, body)
    state, reason, quote = ("staging" if body.datasets else "queued"), "", None
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
        quote = g.quote
        if g.rejected:
            state, reason = "rejected", g.rejected
    at = now()
    job = Job(
        id=new_id(),
        tenant_id=p.tenant_id,
        name=body.name,
        pool_id=pool.id,
        accelerators=body.accelerators,
        command=body.command,
        priority=body.priority,
        run=body.run,
        steps=body.steps,
        time_limit_s=body.time_limit_s,
        datasets=body.datasets,
        storage=body.storage,
        quote=quote,
        state=state,
        reason=reason,
        preemptions=0,
        idempotency_key=key,
        body_sha256=sha,
        created_at=at,
        finished_at=at if state == "rejected" else None,
    )
    try:
        with store.write() as s:
            s.add(job)
            s.flush()
            s.add(JobEvent(job_id=job.id, at=at, from_state=None, to_state=state, detail=reason))
    except IntegrityError:
        seen = _replay(store, p.tenant_id, key, sha) if key else None
        if seen is None:
            raise ApiError(
                409, "a concurrent request with this Idempotency-Key is in flight"
            ) from None
        return seen
    if metrics is not None:
        metrics.submitted.labels(outcome=state).inc()
    return job_dict(job, pool)
