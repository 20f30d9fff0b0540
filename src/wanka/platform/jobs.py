"""Job rows: state changes with their audit events, and the JSON shape the API returns."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wanka.platform.models import TERMINAL_STATES, Job, JobEvent, Outbox, Pool

__all__ = ["enqueue", "job_dict", "transition"]


def transition(s: Session, job: Job, to: str, at: float, detail: str = "") -> None:
    """Move `job` to state `to` (recording the event); terminal states stamp `finished_at`."""
    if job.state == to and not detail:
        return
    s.add(JobEvent(job_id=job.id, at=at, from_state=job.state, to_state=to, detail=detail[:2000]))
    job.state = to
    if detail or to in ("admitted", "running") + TERMINAL_STATES:
        job.reason = detail[:2000]
    if to == "admitted":
        job.admitted_at = at
    if to in TERMINAL_STATES and job.finished_at is None:
        job.finished_at = at


def enqueue(s: Session, job_id: str, action: str, at: float) -> None:
    """Write an outbox row (same transaction as the state change that needs it)."""
    s.add(Outbox(job_id=job_id, action=action, created_at=at, not_before=0.0))


def job_dict(job: Job, pool: Pool | str | None = None) -> dict[str, Any]:
    """The API's view of one job."""
    pool_name = pool.name if isinstance(pool, Pool) else pool
    out: dict[str, Any] = {
        "id": job.id,
        "name": job.name,
        "state": job.state,
        "reason": job.reason or None,
        "pool": pool_name,
        "accelerators": job.accelerators,
        "command": job.command,
        "priority": job.priority,
        "created_at": job.created_at,
        "admitted_at": job.admitted_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "exit_code": job.exit_code,
        "engine_job_id": job.engine_job_id,
        "preemptions": job.preemptions,
        "quote": job.quote,
        "idempotency_key": job.idempotency_key,
    }
    if job.run is not None:
        out["run"] = job.run
    if job.steps is not None:
        out["steps"] = job.steps
    if job.datasets:
        out["datasets"] = job.datasets
        out["storage"] = job.storage
    return out


def pool_names(s: Session) -> dict[str, str]:
    return dict(s.execute(select(Pool.id, Pool.name)).all())
