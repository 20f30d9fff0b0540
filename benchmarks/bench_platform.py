"""Submission latency, quota safety, idempotency and dispatch rate of `wanka platform serve`.

    python benchmarks/bench_platform.py [--clients 200] [--pg-url postgresql://...] [--json]

For each store (SQLite always; PostgreSQL when `--pg-url` or $WANKA_TEST_PG_URL is given) a fresh
database is initialised and `wanka platform serve` started on 127.0.0.1 (a real process, one
uvicorn worker). Then:

1. load: `--clients` concurrent clients (httpx.AsyncClient, one request each, 20 tenants with
   nominal 2 + borrow 2 in a pool of 16 local accelerators) POST /jobs with distinct keys;
   client-side latency p50/p95/max. Checked: every answer is 202, no two keys share a job.
2. idempotency: the same key sent by 10 concurrent clients -> exactly one job.
3. quota safety: replaying the audit log (job_events) event by event, the accelerators held in
   the pool never exceed its capacity and no tenant ever holds more than nominal + borrow limit.
4. dispatch rate: 200 `true` jobs on a pool with room for all of them, submitted at once; jobs
   handed to the local executor per second = jobs / (last engine start - first admission).

Everything talks to 127.0.0.1 only, bounded in count and time. The machine is shared (2 cores,
other work running): absolute times carry that contention; the SQLite/PostgreSQL comparison is
from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

__all__ = ["Service", "check_invariants", "run_all", "run_load"]


class Service:
    """`wanka platform serve` on a free loopback port, in its own process group."""

    def __init__(self, url: str, tmp: Path) -> None:
        from wanka.platform.store import init_store

        self.url, self.tmp = url, tmp
        self.admin = init_store(url)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.base = f"http://127.0.0.1:{self.port}"
        exe = Path(sys.executable).with_name("wanka")
        self.log = open(tmp / "serve.log", "a")  # noqa: SIM115 (lives as long as the service)
        self.proc = subprocess.Popen(
            [str(exe), "platform", "serve", "--db", url, "--port", str(self.port),
             "--workdir", str(tmp / "jobs")],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        for _ in range(600):
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("serve did not come up; see " + str(tmp / "serve.log"))

    def call(self, method: str, path: str, token: str, body: Any = None) -> Any:
        h = {"Authorization": f"Bearer {token}"}
        r = httpx.request(method, self.base + "/api/v1" + path, json=body, headers=h, timeout=60)
        r.raise_for_status()
        return r.json()

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def setup(svc: Service, capacity: int, tenants: int, nominal: int, borrow: int) -> list[str]:
    svc.call("POST", "/pools", svc.admin, {"name": "p", "accelerator": "h100-sxm",
                                           "accelerators": capacity, "executor": "local"})  # fmt: skip
    toks = []
    for i in range(tenants):
        t = svc.call("POST", "/tenants", svc.admin, {"name": f"t{i:02d}"})
        toks.append(svc.call("POST", f"/tenants/{t['id']}/tokens", svc.admin, {})["token"])
        q = {"pool": "p", "accelerators": nominal, "borrow_limit": borrow}
        svc.call("PUT", f"/tenants/{t['id']}/quotas", svc.admin, q)
    return toks


async def _post(c: httpx.AsyncClient, tok: str, key: str, command: str) -> tuple[int, str, float]:
    body = {"name": key, "pool": "p", "accelerators": 1, "command": command}
    h = {"Authorization": f"Bearer {tok}", "Idempotency-Key": key}
    t0 = time.perf_counter()
    r = await c.post("/api/v1/jobs", json=body, headers=h)
    dt = time.perf_counter() - t0
    return r.status_code, (r.json().get("id") if r.status_code == 202 else r.text[:80]), dt


async def _burst(base: str, reqs: list[tuple[str, str]], command: str) -> list[tuple]:
    limits = httpx.Limits(max_connections=len(reqs), max_keepalive_connections=len(reqs))
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as c:
        return await asyncio.gather(*(_post(c, tok, key, command) for tok, key in reqs))


async def _get_burst(base: str, n: int) -> list[float]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as c:

        async def one() -> float:
            t0 = time.perf_counter()
            (await c.get("/healthz")).raise_for_status()
            return time.perf_counter() - t0

        return await asyncio.gather(*(one() for _ in range(n)))


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def run_load(svc: Service, toks: list[str], clients: int, command: str = "sleep 0.2") -> dict:
    base = asyncio.run(_get_burst(svc.base, clients))  # the HTTP stack alone, same load
    reqs = [(toks[i % len(toks)], f"load-{i}") for i in range(clients)]
    res = asyncio.run(_burst(svc.base, reqs, command))
    lat = [r[2] for r in res]
    ids = [r[1] for r in res if r[0] == 202]
    same = asyncio.run(_burst(svc.base, [(toks[0], "same-key")] * 10, command))
    same_ids = {r[1] for r in same if r[0] == 202}
    listed = [j for j in svc.call("GET", "/jobs?limit=1000", toks[0]) if j["name"] == "same-key"]
    return {
        "clients": clients,
        "accepted_202": len(ids),
        "statuses": sorted({r[0] for r in res}),
        "distinct_jobs": len(set(ids)),
        "p50_s": _pct(lat, 0.5),
        "p95_s": _pct(lat, 0.95),
        "max_s": max(lat),
        "baseline_healthz_p50_s": _pct(base, 0.5),
        "baseline_healthz_p95_s": _pct(base, 0.95),
        "same_key_10x": {
            "statuses": sorted(r[0] for r in same),
            "jobs": len(same_ids),
            "listed": len(listed),
        },
    }


def check_invariants(url: str) -> dict:
    """Replay job_events: accelerators held per pool and per tenant at every event."""
    from sqlalchemy import select

    from wanka.platform.models import Job, JobEvent, Pool, Quota
    from wanka.platform.store import Store

    store = Store(url)
    with store.read() as s:
        jobs = {j.id: j for j in s.scalars(select(Job)).all()}
        cap = {p.id: p.accelerators for p in s.scalars(select(Pool)).all()}
        limit = {(q.tenant_id, q.pool_id): q.accelerators + q.borrow_limit
                 for q in s.scalars(select(Quota)).all()}  # fmt: skip
        events = s.scalars(select(JobEvent).order_by(JobEvent.id)).all()
    store.dispose()
    hold = ("admitted", "running")
    pool_use: dict[str, int] = {}
    ten_use: dict[tuple[str, str], int] = {}
    worst_pool = worst_tenant = 0
    over_pool = over_tenant = 0
    for e in events:
        j = jobs[e.job_id]
        d = (e.to_state in hold) - ((e.from_state or "") in hold)
        if not d:
            continue
        pool_use[j.pool_id] = pool_use.get(j.pool_id, 0) + d * j.accelerators
        k = (j.tenant_id, j.pool_id)
        ten_use[k] = ten_use.get(k, 0) + d * j.accelerators
        worst_pool = max(worst_pool, pool_use[j.pool_id] - cap[j.pool_id])
        worst_tenant = max(worst_tenant, ten_use[k] - limit.get(k, 0))
        over_pool += pool_use[j.pool_id] > cap[j.pool_id]
        over_tenant += ten_use[k] > limit.get(k, 0)
    return {"events": len(events), "pool_overcommit_events": over_pool,
            "tenant_over_limit_events": over_tenant,
            "max_pool_excess": worst_pool, "max_tenant_excess": worst_tenant}  # fmt: skip


def _wait_done(url: str, n: int, timeout_s: float) -> bool:
    from sqlalchemy import func, select

    from wanka.platform.models import TERMINAL_STATES, Job
    from wanka.platform.store import Store

    store = Store(url)
    end = time.monotonic() + timeout_s
    try:
        while time.monotonic() < end:
            with store.read() as s:
                done = s.scalar(select(func.count()).where(Job.state.in_(TERMINAL_STATES)))
            if done >= n:
                return True
            time.sleep(0.5)
        return False
    finally:
        store.dispose()


def dispatch_rate(url: str, tmp: Path, jobs: int = 200) -> dict:
    from sqlalchemy import func, select

    from wanka.platform.models import Job
    from wanka.platform.store import Store

    svc = Service(url, tmp)
    try:
        toks = setup(svc, capacity=jobs, tenants=1, nominal=jobs, borrow=0)
        t0 = time.perf_counter()
        asyncio.run(_burst(svc.base, [(toks[0], f"d-{i}") for i in range(jobs)], "true"))
        submit_s = time.perf_counter() - t0
        finished = _wait_done(url, jobs, 300)
    finally:
        svc.stop()
    store = Store(url)
    with store.read() as s:
        first_adm, last_start = s.execute(
            select(func.min(Job.admitted_at), func.max(Job.started_at))
        ).one()
    store.dispose()
    span = (last_start or 0) - (first_adm or 0)
    return {"jobs": jobs, "all_finished": finished, "submit_s": submit_s,
            "admit_to_last_start_s": span,
            "dispatched_per_s": jobs / span if span > 0 else None}  # fmt: skip


def run_all(url: str, tmp: Path, clients: int) -> dict:
    svc = Service(url, tmp)
    try:
        toks = setup(svc, capacity=16, tenants=20, nominal=2, borrow=2)
        load = run_load(svc, toks, clients)
        finished = _wait_done(url, clients + 1, 300)
    finally:
        svc.stop()
    return {"load": load, "all_finished": finished, "invariants": check_invariants(url)}


def _pg_reset(url: str) -> None:
    from sqlalchemy import text

    from wanka.platform.store import make_engine

    eng = make_engine(url)
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    eng.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--pg-url", default=os.environ.get("WANKA_TEST_PG_URL"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="wanka-bench-platform-") as d:
        tmp = Path(d)
        stores = [("sqlite", f"sqlite:///{tmp}/load.db")]
        if a.pg_url:
            stores.append(("postgresql", a.pg_url))
        for name, url in stores:
            if name == "postgresql":
                _pg_reset(url)
            (tmp / name).mkdir()
            out[name] = run_all(url, tmp / name, a.clients)
            if name == "postgresql":
                _pg_reset(url)
            (tmp / f"{name}-d").mkdir()
            durl = f"sqlite:///{tmp}/dispatch.db" if name == "sqlite" else url
            out[name]["dispatch"] = dispatch_rate(durl, tmp / f"{name}-d")
    if a.json:
        print(json.dumps(out, indent=2))
        return
    for name, r in out.items():
        ld, inv, dp = r["load"], r["invariants"], r["dispatch"]
        print(f"{name}: {ld['clients']} concurrent submissions: {ld['accepted_202']} x 202, "
              f"{ld['distinct_jobs']} distinct jobs; latency p50 {ld['p50_s'] * 1e3:.0f} ms, "
              f"p95 {ld['p95_s'] * 1e3:.0f} ms, max {ld['max_s'] * 1e3:.0f} ms "
              f"(baseline: {ld['clients']} concurrent GET /healthz p50 "
              f"{ld['baseline_healthz_p50_s'] * 1e3:.0f} ms, p95 "
              f"{ld['baseline_healthz_p95_s'] * 1e3:.0f} ms)")  # fmt: skip
        print(f"  same key x10: statuses {ld['same_key_10x']['statuses']}, "
              f"{ld['same_key_10x']['jobs']} job(s) returned, {ld['same_key_10x']['listed']} listed")  # fmt: skip
        print(f"  quota replay over {inv['events']} events: pool over-commit events "
              f"{inv['pool_overcommit_events']}, tenant over-limit events {inv['tenant_over_limit_events']}")  # fmt: skip
        rate = dp["dispatched_per_s"]
        print(f"  dispatch: {dp['jobs']} jobs to the local executor, "
              f"{'n/a' if rate is None else f'{rate:.1f}'} jobs/s (all finished: {dp['all_finished']})")  # fmt: skip


if __name__ == "__main__":
    main()
