"""The dispatcher: admission passes, the outbox, and the reconciler, on one background thread.

One pass (`cycle`): check executor health -> ask the stager about jobs with datasets -> admit per
pool (a write transaction that first bumps the pool's `lock_seq`, the row lock that serialises
admitters) -> work the outbox (dispatch / cancel; engine calls happen outside any transaction) ->
reconcile engine state into job rows and the usage ledger. A crash anywhere is safe: admission and
its outbox row commit together, and a dispatch first asks the engine (`find`) whether the job's
tagged engine job already exists, so a job is never started twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update

from wanka.platform import admission as adm
from wanka.platform.executors import EngineStatus, Executor, ExecutorUnavailable, get_executor
from wanka.platform.jobs import enqueue, transition
from wanka.platform.metering import record_usage
from wanka.platform.models import Job, Outbox, Pool, Quota, Tenant
from wanka.platform.staging import StagingRequest, resolve_stager
from wanka.platform.store import Store, now

__all__ = ["Dispatcher"]

log = logging.getLogger("wanka.platform")

HEALTH_EVERY_S = 2.0
ORPHANS_EVERY_S = 30.0
MAX_DISPATCH_ATTEMPTS = 5
ENGINE_TERMINAL = {"succeeded", "failed", "cancelled", "lost"}


class Dispatcher:
    """Runs `cycle` every `interval_s` (sooner when woken) until stopped."""

    def __init__(
        self,
        store: Store,
        workdir: str,
        *,
        stager: Any = None,
        interval_s: float = 0.25,
        metrics: Any = None,
    ) -> None:
        self.store, self.workdir, self.interval_s = store, workdir, interval_s
        self.stager = resolve_stager(stager)
        self.metrics = metrics
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._executors: dict[str, tuple[tuple, Executor]] = {}
        self._health_at: dict[str, float] = {}
        self._orphans_at = 0.0
        self.orphans: dict[str, list[str]] = {}

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="wanka-dispatcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.cycle()
            except Exception:  # keep serving; the next pass retries
                log.exception("dispatcher pass failed")
            self.wake.wait(self.interval_s)
            self.wake.clear()

    def executor(self, pool: Pool) -> Executor:
        key = (pool.executor, repr(sorted((pool.executor_config or {}).items())))
        cached = self._executors.get(pool.id)
        if cached is None or cached[0] != key:
            cached = (key, get_executor(pool.executor, pool.executor_config or {}, self.workdir))
            self._executors[pool.id] = cached
        return cached[1]

    def cycle(self) -> None:
        self.check_health()
        self.stage()
        with self.store.read() as s:
            pools = s.scalars(select(Pool)).all()
        for pool in pools:
            self.admit(pool)
        self.work_outbox()
        self.reconcile()
        if time.monotonic() - self._orphans_at > ORPHANS_EVERY_S:
            self.find_orphans()

    # ---- health -----------------------------------------------------------------------------
    def check_health(self, force: bool = False) -> None:
        with self.store.read() as s:
            pools = s.scalars(select(Pool)).all()
        for pool in pools:
            if not force and time.monotonic() - self._health_at.get(pool.id, -1e9) < HEALTH_EVERY_S:
                continue
            self._health_at[pool.id] = time.monotonic()
            try:
                ok, why = self.executor(pool).health()
            except Exception as e:  # noqa: BLE001 (adapter errors must not stop the loop)
                ok, why = False, f"{type(e).__name__}: {e}"
            self._set_health(pool.id, ok, why)

    def _set_health(self, pool_id: str, ok: bool, why: str) -> None:
        health = "up" if ok else "down"
        with self.store.write() as s:
            pool = s.get(Pool, pool_id)
            if pool is None:
                return
            pool.checked_at = now()
            if pool.health != health or pool.health_reason != why:
                pool.health, pool.health_reason = health, why[:1000]
                log.info("pool %s executor %s: %s", pool.name, health, why)

    # ---- staging ----------------------------------------------------------------------------
    def stage(self) -> None:
        with self.store.read() as s:
            rows = s.execute(
                select(Job.id, Job.tenant_id, Job.datasets, Job.storage, Job.state, Pool.name)
                .join(Pool, Pool.id == Job.pool_id)
                .where(Job.state.in_(("queued", "staging")), Job.datasets.is_not(None))
            ).all()
        for jid, tid, datasets, storage, _state, pool_name in rows:
            if not datasets:
                continue
            req = StagingRequest(
                job_id=jid, tenant_id=tid, datasets=tuple(datasets), storage=storage, pool=pool_name
            )
            try:
                d = self.stager(req)
            except Exception as e:  # noqa: BLE001 (adapter errors must not stop the loop)
                d = type("D", (), {"ready": False, "reason": f"stager error: {e}"})()
            to = "queued" if d.ready else "staging"
            reason = "" if d.ready else f"staging: {d.reason}"
            with self.store.write() as s:
                job = s.get(Job, jid)
                changed = job is not None and (job.state != to or (reason and job.reason != reason))
                if job is not None and changed and job.state in ("queued", "staging"):
                    transition(s, job, to, now(), reason)

    # ---- admission --------------------------------------------------------------------------
    def admit(self, pool: Pool) -> None:
        with self.store.read() as s:
            waiting = s.scalar(
                select(Job.id).where(Job.pool_id == pool.id, Job.state == "queued").limit(1)
            )
        if waiting is None:
            return
        t0 = time.perf_counter()
        with self.store.write() as s:
            s.execute(
                update(Pool).where(Pool.id == pool.id).values(lock_seq=Pool.lock_seq + 1)
            )  # the admission lock: one admitter per pool at a time (row lock on PostgreSQL)
            p = s.get_one(Pool, pool.id)
            queued = s.scalars(
                select(Job).where(Job.pool_id == pool.id, Job.state == "queued")
            ).all()
            if p.health == "down":
                self._hold(s, queued, f"executor_unavailable: {p.health_reason}")
                return
            active = s.scalars(
                select(Job).where(Job.pool_id == pool.id, Job.state.in_(("admitted", "running")))
            ).all()
            view = self._pool_view(s, p, active)
            dec = adm.decide(view, [_qj(j) for j in queued])
            self._apply(s, p, {j.id: j for j in queued}, {j.id: j for j in active}, dec)
        if self.metrics is not None:
            self.metrics.admission_seconds.observe(time.perf_counter() - t0)

    def _pool_view(self, s: Any, pool: Pool, active: Sequence[Job]) -> adm.PoolView:
        rows = s.execute(
            select(Quota, Tenant.weight)
            .join(Tenant, Tenant.id == Quota.tenant_id)
            .where(Quota.pool_id == pool.id)
        ).all()
        quotas = {
            q.tenant_id: adm.QuotaView(
                nominal=q.accelerators,
                borrow_limit=q.borrow_limit,
                lend_limit=q.lend_limit,
                weight=w,
            )
            for q, w in rows
        }
        act = tuple(
            adm.ActiveJob(
                id=j.id,
                tenant=j.tenant_id,
                accelerators=j.accelerators,
                priority=j.priority,
                admitted_at=j.admitted_at or 0.0,
            )
            for j in active
        )
        return adm.PoolView(capacity=pool.accelerators, quotas=quotas, active=act)

    def _hold(self, s: Any, queued: Sequence[Job], reason: str) -> None:
        for j in queued:
            if j.reason != reason:
                transition(s, j, "queued", now(), reason)

    def _apply(
        self,
        s: Any,
        pool: Pool,
        queued: dict[str, Job],
        active: dict[str, Job],
        dec: adm.Decisions,
    ) -> None:
        at = now()
        for jid, why in dec.preempt:
            job = active[jid]
            end = at
            if job.state == "running":
                record_usage(s, job, pool, job.started_at, end, "service-estimate")
            if job.engine_job_id:
                enqueue(s, job.id, "cancel", at)
            job.preemptions += 1
            job.engine_job_id, job.started_at, job.admitted_at = None, None, None
            transition(s, job, "queued", at, why)
        for jid in dec.admit:
            transition(s, queued[jid], "admitted", at, "")
            enqueue(s, jid, "dispatch", at)
        for jid, why in dec.wait.items():
            if queued[jid].reason != why:
                transition(s, queued[jid], "queued", at, why)
        if dec.admit or dec.preempt:
            self.wake.set()

    # ---- outbox -----------------------------------------------------------------------------
    def work_outbox(self) -> None:
        with self.store.read() as s:
            rows = s.execute(
                select(Outbox, Job, Pool)
                .join(Job, Job.id == Outbox.job_id)
                .join(Pool, Pool.id == Job.pool_id)
                .where(Outbox.not_before <= now())
                .order_by(Outbox.id)
                .limit(200)
            ).all()
        for box, job, pool in rows:
            if box.action == "dispatch":
                self._dispatch(box, job, pool)
            else:
                self._cancel(box, job, pool)

    def _done(self, box_id: int) -> None:
        with self.store.write() as s:
            row = s.get(Outbox, box_id)
            if row is not None:
                s.delete(row)

    def _retry(self, box_id: int, err: str) -> int:
        with self.store.write() as s:
            row = s.get(Outbox, box_id)
            if row is None:
                return 0
            row.attempts += 1
            row.not_before = now() + min(30.0, 0.5 * 2**row.attempts)
            row.last_error = err[:2000]
            return row.attempts

    def _dispatch(self, box: Outbox, job: Job, pool: Pool) -> None:
        if job.state != "admitted":
            self._done(box.id)
            return
        from wanka.platform.executors import JobSpec

        with self.store.read() as s:
            tenant = s.get(Tenant, job.tenant_id)
        spec = JobSpec(
            tenant_name=tenant.name if tenant else "",
            id=job.id,
            tenant=job.tenant_id,
            name=job.name,
            command=job.command,
            accelerators=job.accelerators,
            time_limit_s=job.time_limit_s,
        )
        exe = self.executor(pool)
        try:
            eid = exe.find(job.id) or exe.submit(spec)
        except ExecutorUnavailable as e:
            self._requeue(box.id, job.id, pool.id, f"executor_unavailable: {e}")
            return
        except Exception as e:  # noqa: BLE001 (adapter errors must not stop the loop)
            if self._retry(box.id, f"{type(e).__name__}: {e}") >= MAX_DISPATCH_ATTEMPTS:
                self._fail_dispatch(box.id, job.id, f"dispatch failed: {type(e).__name__}: {e}")
            return
        self._dispatched(box.id, job.id, eid, exe)

    def _dispatched(self, box_id: int, job_id: str, eid: str, exe: Executor) -> None:
        cancel_after = False
        with self.store.write() as s:
            row = s.get(Outbox, box_id)
            if row is not None:
                s.delete(row)
            job = s.get_one(Job, job_id)
            job.engine_job_id = eid
            if job.state != "admitted":
                cancel_after = True  # cancelled or preempted while we dispatched
        if cancel_after:
            exe.cancel(eid)
        elif self.metrics is not None:
            self.metrics.dispatched.inc()
        self.wake.set()

    def _requeue(self, box_id: int, job_id: str, pool_id: str, reason: str) -> None:
        with self.store.write() as s:
            row = s.get(Outbox, box_id)
            if row is not None:
                s.delete(row)
            job = s.get(Job, job_id)
            if job is not None and job.state == "admitted":
                job.admitted_at = None
                transition(s, job, "queued", now(), reason)
        self._set_health(pool_id, False, reason.removeprefix("executor_unavailable: "))

    def _fail_dispatch(self, box_id: int, job_id: str, reason: str) -> None:
        with self.store.write() as s:
            row = s.get(Outbox, box_id)
            if row is not None:
                s.delete(row)
            job = s.get(Job, job_id)
            if job is not None and job.state == "admitted":
                transition(s, job, "failed", now(), reason)

    def _cancel(self, box: Outbox, job: Job, pool: Pool) -> None:
        eid = job.engine_job_id or self.executor(pool).find(job.id)
        try:
            if eid:
                self.executor(pool).cancel(eid)
        except Exception as e:  # noqa: BLE001 (adapter errors must not stop the loop)
            if self._retry(box.id, f"{type(e).__name__}: {e}") < MAX_DISPATCH_ATTEMPTS * 4:
                return
        self._done(box.id)

    # ---- reconcile --------------------------------------------------------------------------
    def reconcile(self) -> None:
        with self.store.read() as s:
            rows = s.execute(
                select(Job, Pool)
                .join(Pool, Pool.id == Job.pool_id)
                .where(Job.state.in_(("admitted", "running")), Job.engine_job_id.is_not(None))
            ).all()
        for job, pool in rows:
            if job.engine_job_id is None:
                continue  # the query keeps only dispatched jobs
            try:
                st = self.executor(pool).status(job.engine_job_id)
            except ExecutorUnavailable:
                continue  # the engine keeps its jobs; look again when it is back
            except Exception as e:  # noqa: BLE001 (adapter errors must not stop the loop)
                log.warning("status of %s failed: %s", job.id, e)
                continue
            self._record(job.id, pool.id, st)

    def _record(self, job_id: str, pool_id: str, st: EngineStatus) -> None:
        if st.state == "pending":
            return
        with self.store.write() as s:
            job, pool = s.get(Job, job_id), s.get(Pool, pool_id)
            if job is None or pool is None or job.state not in ("admitted", "running"):
                return
            if st.state == "running":
                if job.state != "running":
                    job.started_at = st.start or now()
                    transition(s, job, "running", now())
                return
            end = st.end or now()
            start = job.started_at or st.start
            job.started_at = start
            job.exit_code = st.exit_code
            source = "engine-report" if st.end else "service-estimate"
            to = {"lost": "failed"}.get(st.state, st.state)
            detail = f"lost: {st.detail}" if st.state == "lost" else st.detail
            if st.state == "failed" and not detail and st.exit_code is not None:
                detail = f"exit code {st.exit_code}"
            job.finished_at = end
            record_usage(s, job, pool, start, end, source)
            transition(s, job, to, now(), detail)
        self.wake.set()

    # ---- orphans ----------------------------------------------------------------------------
    def find_orphans(self) -> None:
        """Engine jobs tagged by this platform that the database does not know (kept for /executors)."""
        self._orphans_at = time.monotonic()
        with self.store.read() as s:
            pools = s.scalars(select(Pool)).all()
            known = set(s.scalars(select(Job.id)).all())
        for pool in pools:
            try:
                owned = self.executor(pool).list_owned()
            except Exception as e:  # noqa: BLE001 (an engine that is down has nothing to list)
                log.info("orphan scan of %s skipped: %s", pool.name, e)
                continue
            self.orphans[pool.name] = sorted(j for j in owned if j not in known)


def _qj(j: Job) -> adm.QueuedJob:
    return adm.QueuedJob(
        id=j.id,
        tenant=j.tenant_id,
        accelerators=j.accelerators,
        priority=j.priority,
        created_at=j.created_at,
    )
