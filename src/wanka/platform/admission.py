"""Admission as pure functions: quotas with borrowing, lending and reclaim; weighted fair share.

The model is Kueue's (ClusterQueue `nominalQuota`, `borrowingLimit`, `lendingLimit`, a cohort that
shares unused quota, `reclaimWithinCohort`; kueue.sigs.k8s.io/docs/concepts/cluster_queue), with one
tenant's quota in one pool playing the ClusterQueue and the pool's tenants forming the cohort:

- tenant t may hold up to `nominal_t + borrow_limit_t` accelerators of the pool, and never more than
  the pool minus what the other tenants hold or keep back: `reserved_u = max(used_u, nominal_u -
  lend_limit_u)` (the part of u's nominal quota it does not lend is kept free for u);
- among queued jobs the next admitted is the one with the highest priority, then the tenant with the
  smallest weighted share `used_t / weight_t` (weighted fair share, dominant-resource style with one
  resource), then the oldest; a job that does not fit does not block later ones (BestEffortFIFO);
- a tenant within its nominal quota that cannot start because others borrow its share reclaims it:
  the borrowers' newest, lowest-priority jobs are preempted (back to queued) until it fits, and it is
  admitted in the same decision (the victims' quota is released at once; their engine jobs are
  stopped asynchronously by the dispatcher).

Nothing here touches the database; `dispatcher` builds the snapshot and applies the decisions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

__all__ = [
    "ActiveJob",
    "Decisions",
    "PoolView",
    "QueuedJob",
    "QuotaView",
    "decide",
    "headroom",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class QuotaView:
    nominal: int
    borrow_limit: int = 0
    lend_limit: int | None = None
    """Unused nominal quota this tenant lends to the cohort; None: all of it."""
    weight: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveJob:
    id: str
    tenant: str
    accelerators: int
    priority: int = 0
    admitted_at: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedJob:
    id: str
    tenant: str
    accelerators: int
    priority: int = 0
    created_at: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolView:
    """One pool at one instant: capacity, quotas by tenant, jobs holding quota."""

    capacity: int
    quotas: dict[str, QuotaView]
    active: tuple[ActiveJob, ...] = ()


@dataclass(slots=True)
class Decisions:
    admit: list[str] = field(default_factory=list)
    preempt: list[tuple[str, str]] = field(default_factory=list)
    """(job id, reason)."""
    wait: dict[str, str] = field(default_factory=dict)
    """job id -> why it still waits."""


def _reserved(q: QuotaView, used: int) -> int:
    keep = q.nominal - (q.nominal if q.lend_limit is None else min(q.lend_limit, q.nominal))
    return max(used, keep)


def headroom(pool: PoolView, used: dict[str, int], tenant: str) -> int:
    """Accelerators `tenant` may still take now (quota, borrowing limit and the cohort's holds)."""
    q = pool.quotas.get(tenant)
    if q is None:
        return 0
    others = sum(_reserved(qu, used.get(u, 0)) for u, qu in pool.quotas.items() if u != tenant)
    others += sum(n for u, n in used.items() if u not in pool.quotas)  # quota removed while running
    limit = min(q.nominal + q.borrow_limit, pool.capacity - others)
    return limit - used.get(tenant, 0)


def _why_not(pool: PoolView, used: dict[str, int], job: QueuedJob) -> str:
    q = pool.quotas.get(job.tenant)
    if q is None:
        return "no quota in this pool"
    mine = used.get(job.tenant, 0)
    if mine + job.accelerators > q.nominal + q.borrow_limit:
        return (
            f"quota: {mine} of {q.nominal} accelerators in use (+{q.borrow_limit} borrowable); "
            f"job needs {job.accelerators}"
        )
    return f"pool full: {sum(used.values())} of {pool.capacity} accelerators in use or held"


def _pick(pool: PoolView, used: dict[str, int], pending: list[QueuedJob]) -> QueuedJob | None:
    """The job to admit next: priority, then smallest weighted share, then age; must fit."""
    best, best_key, seen = None, None, set()
    room: dict[str, int] = {}
    for job in pending:  # pending is sorted by (-priority, created_at): first fit per tenant wins
        if job.tenant in seen:
            continue
        if job.tenant not in room:
            room[job.tenant] = headroom(pool, used, job.tenant)
        if job.accelerators > room[job.tenant]:
            continue
        seen.add(job.tenant)
        w = pool.quotas[job.tenant].weight
        key = (-job.priority, used.get(job.tenant, 0) / max(w, 1e-9), job.created_at, job.id)
        if best_key is None or key < best_key:
            best, best_key = job, key
    return best


def _reclaim(pool: PoolView, used: dict[str, int], job: QueuedJob) -> list[ActiveJob]:
    """Borrowers' jobs to preempt so that `job` (within its nominal quota) fits; [] if it can't."""
    q = pool.quotas.get(job.tenant)
    if q is None or used.get(job.tenant, 0) + job.accelerators > q.nominal:
        return []
    over = {u: used.get(u, 0) - qu.nominal for u, qu in pool.quotas.items()}
    victims = sorted(
        (a for a in pool.active if over.get(a.tenant, 0) > 0 and a.tenant != job.tenant),
        key=lambda a: (a.priority, -a.admitted_at),
    )
    trial, chosen = dict(used), []
    for v in victims:
        if headroom(pool, trial, job.tenant) >= job.accelerators:
            break
        if over[v.tenant] <= 0:
            continue
        chosen.append(v)
        trial[v.tenant] -= v.accelerators
        over[v.tenant] -= v.accelerators
    return chosen if headroom(pool, trial, job.tenant) >= job.accelerators else []


def decide(pool: PoolView, queued: list[QueuedJob], *, reclaim: bool = True) -> Decisions:
    """Which queued jobs to admit now, which running ones to preempt, and why the rest wait."""
    used: dict[str, int] = defaultdict(int)
    for a in pool.active:
        used[a.tenant] += a.accelerators
    pending = sorted(queued, key=lambda j: (-j.priority, j.created_at, j.id))
    out = Decisions()
    while pending:
        job = _pick(pool, used, pending)
        if job is None:
            break
        out.admit.append(job.id)
        used[job.tenant] += job.accelerators
        pending.remove(job)
    preempted: set[str] = set()
    for job in list(pending):
        if reclaim:
            view = PoolView(
                capacity=pool.capacity,
                quotas=pool.quotas,
                active=tuple(a for a in pool.active if a.id not in preempted),
            )
            victims = _reclaim(view, used, job)
            if victims:
                for v in victims:
                    out.preempt.append(
                        (v.id, f"preempted: {job.tenant} reclaims its nominal quota")
                    )
                    preempted.add(v.id)
                    used[v.tenant] -= v.accelerators
                out.admit.append(job.id)
                used[job.tenant] += job.accelerators
                continue
        out.wait[job.id] = _why_not(pool, used, job)
    return out
