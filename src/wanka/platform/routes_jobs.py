"""Tenant routes: jobs, what-if, quotas, usage, invoices. Every query is filtered by the caller's
tenant (an admin sees all); another tenant's object is a 404, never a 403."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy import and_, func, or_, select

from wanka.platform.api import ApiError, Caller
from wanka.platform.auth import Principal
from wanka.platform.jobs import enqueue, job_dict, pool_names, transition
from wanka.platform.metering import invoice, month_bounds, record_usage, usage_summary
from wanka.platform.models import JOB_STATES, Job, JobEvent, Pool, Quota, Tenant
from wanka.platform.schemas import JobIn
from wanka.platform.store import now
from wanka.platform.submit import submit_job

__all__ = ["cancel_job", "get_job", "router"]

router = APIRouter()


def _store(request: Request) -> Any:
    return request.app.state.store


def get_job(s: Any, p: Principal, job_id: str, lock: bool = False) -> Job:
    """The caller's job `job_id`; 404 for a missing job and for another tenant's."""
    if len(job_id) > 64:
        raise ApiError(404, "no such job")
    q = select(Job).where(Job.id == job_id)
    if not p.is_admin:
        q = q.where(Job.tenant_id == p.tenant_id)
    job = s.scalar(q.with_for_update() if lock else q)
    if job is None:
        raise ApiError(404, "no such job")
    return job


@router.post("/jobs", status_code=202)
def post_job(
    body: JobIn,
    request: Request,
    p: Caller,
    idempotency_key: str | None = Header(default=None, max_length=128),
) -> dict:
    t0 = time.perf_counter()
    app = request.app
    out = submit_job(_store(request), p, body, idempotency_key, app.state.metrics)
    app.state.metrics.submit_seconds.observe(time.perf_counter() - t0)
    app.state.dispatcher.wake.set()
    return out


@router.get("/jobs")
def list_jobs(
    request: Request,
    response: Response,
    p: Caller,
    state: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    cursor: str | None = Query(default=None, max_length=100),
) -> list[dict]:
    if state is not None and state not in JOB_STATES:
        raise ApiError(422, f"unknown state {state[:40]!r}; choose from {', '.join(JOB_STATES)}")
    q = select(Job)
    if not p.is_admin:
        q = q.where(Job.tenant_id == p.tenant_id)
    if state:
        q = q.where(Job.state == state)
    if cursor:
        try:
            c_at, c_id = cursor.split("_", 1)
            c_at_f = float(c_at)
        except ValueError:
            raise ApiError(
                422, "malformed cursor; pass the X-Next-Cursor of the last page"
            ) from None
        q = q.where(or_(Job.created_at < c_at_f, and_(Job.created_at == c_at_f, Job.id < c_id)))
    q = q.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    with _store(request).read() as s:
        jobs = s.scalars(q).all()
        names = pool_names(s)
    if len(jobs) == limit:
        response.headers["X-Next-Cursor"] = f"{jobs[-1].created_at!r}_{jobs[-1].id}"
    return [job_dict(j, names.get(j.pool_id)) for j in jobs]


@router.get("/jobs/{job_id}")
def read_job(job_id: str, request: Request, p: Caller) -> dict:
    with _store(request).read() as s:
        job = get_job(s, p, job_id)
        return job_dict(job, s.get(Pool, job.pool_id))


def cancel_job(store: Any, p: Principal, job_id: str) -> dict:
    """Cancel a job of the caller: queued ones at once; running ones stopped via the outbox."""
    with store.write() as s:
        job = get_job(s, p, job_id, lock=True)
        pool = s.get(Pool, job.pool_id)
        if job.state in ("succeeded", "failed", "cancelled", "rejected"):
            return job_dict(job, pool)
        at = now()
        if job.state == "running":
            record_usage(s, job, pool, job.started_at, at, "service-estimate")
        if job.state in ("admitted", "running"):
            enqueue(s, job.id, "cancel", at)
        transition(s, job, "cancelled", at, "cancelled by request")
        return job_dict(job, pool)


@router.post("/jobs/{job_id}/cancel")
def post_cancel(job_id: str, request: Request, p: Caller) -> dict:
    out = cancel_job(_store(request), p, job_id)
    request.app.state.dispatcher.wake.set()
    return out


@router.get("/jobs/{job_id}/events")
def job_events(job_id: str, request: Request, p: Caller) -> list[dict]:
    with _store(request).read() as s:
        get_job(s, p, job_id)
        rows = s.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id))
        return [
            {"at": e.at, "from": e.from_state, "to": e.to_state, "detail": e.detail or None}
            for e in rows.all()
        ]


@router.get("/jobs/{job_id}/logs")
def job_logs(job_id: str, request: Request, p: Caller) -> dict:
    with _store(request).read() as s:
        job = get_job(s, p, job_id)
        pool = s.get(Pool, job.pool_id)
    text = ""
    if job.engine_job_id:
        try:
            text = request.app.state.dispatcher.executor(pool).logs(job.engine_job_id)
        except Exception as e:  # noqa: BLE001 (an engine that is down has no logs now)
            raise ApiError(503, f"logs unavailable: {type(e).__name__}") from None
    return {"id": job.id, "logs": text}


@router.post("/jobs:whatif")
def post_whatif(body: JobIn, request: Request, p: Caller) -> dict:
    from wanka.platform.whatif import whatif_for

    if p.tenant_id is None:
        raise ApiError(403, "what-if answers for a tenant; use a tenant token")
    return whatif_for(_store(request), p.tenant_id, body)


def _per_tenant_pool(s: Any, agg: Any, states: tuple[str, ...]) -> dict[tuple[str, str], Any]:
    rows = s.execute(
        select(Job.tenant_id, Job.pool_id, agg)
        .where(Job.state.in_(states))
        .group_by(Job.tenant_id, Job.pool_id)
    ).all()
    return {(t, pl): v for t, pl, v in rows}


@router.get("/quotas")
def quotas(request: Request, p: Caller) -> list[dict]:
    q = (
        select(Quota, Pool, Tenant.name)
        .join(Pool, Pool.id == Quota.pool_id)
        .join(Tenant, Tenant.id == Quota.tenant_id)
    )
    if not p.is_admin:
        q = q.where(Quota.tenant_id == p.tenant_id)
    with _store(request).read() as s:
        rows = s.execute(q.order_by(Pool.name, Tenant.name)).all()
        used = _per_tenant_pool(s, func.sum(Job.accelerators), ("admitted", "running"))
        waiting = _per_tenant_pool(s, func.count(), ("queued", "staging"))
    out = []
    for qu, pool, tname in rows:
        k = (qu.tenant_id, qu.pool_id)
        u = int(used.get(k) or 0)
        out.append(
            {
                "tenant": tname,
                "pool": pool.name,
                "accelerator": pool.accelerator,
                "accelerators": qu.accelerators,
                "borrow_limit": qu.borrow_limit,
                "lend_limit": qu.lend_limit,
                "in_use": u,
                "borrowed": max(0, u - qu.accelerators),
                "queued_jobs": int(waiting.get(k) or 0),
                "pool_accelerators": pool.accelerators,
            }
        )
    return out


def _tenant_scope(p: Principal, tenant: str | None) -> str | None:
    if p.is_admin:
        return tenant
    return p.tenant_id


@router.get("/usage")
def usage(
    request: Request,
    p: Caller,
    from_: float | None = Query(None, alias="from"),
    to: float | None = None,
    group_by: str = Query("pool", pattern="^(pool|job|day)$"),
    tenant: str | None = Query(None, max_length=64),
) -> dict:
    hi = to if to is not None else now() + 1.0
    lo = from_ if from_ is not None else 0.0
    with _store(request).read() as s:
        return usage_summary(s, _tenant_scope(p, tenant), lo, hi, group_by)


@router.get("/invoices/{period}")
def get_invoice(
    period: str,
    request: Request,
    p: Caller,
    tenant: str | None = Query(None, max_length=64),
) -> dict:
    tid = _tenant_scope(p, tenant)
    if tid is None:
        raise ApiError(422, "an admin names the tenant: ?tenant=ID")
    month_bounds(period)  # validates YYYY-MM
    with _store(request).read() as s:
        if s.get(Tenant, tid) is None:
            raise ApiError(404, "no such tenant")
        return invoice(s, tid, period)


@router.get("/reports/cost-per-token")
def cost_per_token(request: Request, p: Caller) -> dict:
    with _store(request).read() as s:
        return usage_summary(s, _tenant_scope(p, None), 0.0, now() + 1.0, "job")
