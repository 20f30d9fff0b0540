"""Acceptance tests against the real engines .ci/run starts: Ray (Jobs API) and Slurm
(slurmrestd with JWT). Markers: ray, slurm."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from platform_engines import Server, ray_config, slurm_config

from wanka.platform.executors import get_executor
from wanka.platform.store import Store, init_store


def _pool(api, name: str, executor: str, config: dict, accelerators: int = 4) -> None:
    body = {
        "name": name,
        "accelerator": "h100-sxm",
        "accelerators": accelerators,
        "executor": executor,
        "executor_config": config,
        "price_per_accel_hour": 3.6,
    }
    st, p = api.call("POST", "/pools", api.admin, body)
    assert st == 201, p


def _ledger(url: str, job_id: str) -> list:
    from sqlalchemy import select

    from wanka.platform.models import UsageRecord

    store = Store(url)
    with store.read() as s:
        rows = s.scalars(select(UsageRecord).where(UsageRecord.job_id == job_id)).all()
    store.dispose()
    return rows


@pytest.mark.ray
def test_ray_jobs_run_and_are_metered(api) -> None:
    """Ray: a job runs to succeeded, a failing one ends failed; the ledger equals Ray's reported
    start/end x accelerators within 1 s, and the invoice is ledger x rate (acceptance 12)."""
    _pool(api, "ray", "ray", ray_config())
    _, a = api.tenant("alpha", pool="ray", accelerators=2)
    st, ok = api.submit(a, "ok", "sleep 1; echo done", pool="ray", accelerators=2)
    st2, bad = api.submit(a, "bad", "exit 3", pool="ray")
    assert st == st2 == 202
    assert api.wait(a, ok["id"], ("succeeded", "failed"), 120) == "succeeded"
    assert api.wait(a, bad["id"], ("succeeded", "failed"), 120) == "failed"
    info = httpx.get(
        ray_config()["address"] + f"/api/jobs/wanka-{ok['id']}", headers=_ray_headers()
    ).json()
    engine_s = (info["end_time"] - info["start_time"]) / 1000.0
    [row] = _ledger(api.url, ok["id"])
    assert row.source == "engine-report"
    assert abs(row.accel_seconds - 2 * engine_s) <= 1.0
    assert row.cost == pytest.approx(row.accel_seconds / 3600 * 3.6)
    assert "done" in api.call("GET", f"/jobs/{ok['id']}/logs", a)[1]["logs"]


def _ray_headers() -> dict:
    f = os.environ.get("WANKA_TEST_RAY_TOKEN_FILE")
    return {"Authorization": f"Bearer {Path(f).read_text().strip()}"} if f else {}


@pytest.mark.ray
def test_ray_job_stopped_outside_is_cancelled_and_metered(api) -> None:
    """Acceptance 10 on Ray: stop_job outside the service -> the reconciler marks it cancelled and
    meters it up to the engine's end time."""
    _pool(api, "ray", "ray", ray_config())
    _, a = api.tenant("alpha", pool="ray", accelerators=2)
    _, j = api.submit(a, "long", "sleep 60", pool="ray")
    assert api.wait(a, j["id"], ("running",), 120) == "running"
    r = httpx.post(
        ray_config()["address"] + f"/api/jobs/wanka-{j['id']}/stop", headers=_ray_headers()
    )
    assert r.status_code == 200
    assert api.wait(a, j["id"], ("cancelled", "failed"), 60) == "cancelled"
    [row] = _ledger(api.url, j["id"])
    assert 0 < row.accel_seconds < 60


@pytest.mark.slurm
def test_slurm_jobs_run_as_the_tenant_and_engine_isolates(api) -> None:
    """Slurm via slurmrestd + JWT: jobs run as the tenant's Unix user and reach succeeded/failed;
    one layer down, tenant B's user cannot cancel tenant A's engine job (acceptance 2)."""
    cfg = slurm_config()
    _pool(api, "slurm", "slurm", cfg)
    _, a = api.tenant("alpha", pool="slurm", accelerators=2)
    _, ok = api.submit(a, "ok", "whoami", pool="slurm")
    _, bad = api.submit(a, "bad", "exit 3", pool="slurm")
    _, held = api.submit(a, "held", "sleep 60", pool="slurm", key="held")
    assert api.wait(a, ok["id"], ("succeeded", "failed"), 60) == "succeeded"
    assert api.wait(a, bad["id"], ("succeeded", "failed"), 60) == "failed"
    assert api.job(a, bad["id"])["exit_code"] == 3
    assert "tenanta" in api.call("GET", f"/jobs/{ok['id']}/logs", a)[1]["logs"]
    assert api.wait(a, held["id"], ("running",), 60) == "running"
    exe = get_executor("slurm", cfg, "/tmp")
    eid = api.job(a, held["id"])["engine_job_id"]
    with pytest.raises(PermissionError):
        exe.cancel_as("tenantb", eid)
    api.call("POST", f"/jobs/{held['id']}/cancel", a)
    for _ in range(100):
        if exe.status(eid).state == "cancelled":
            break
        time.sleep(0.2)
    assert exe.status(eid).state == "cancelled"


@pytest.mark.slurm
def test_slurm_scancel_outside_and_ledger(api) -> None:
    """Acceptance 10 + 12 on Slurm: scancel outside the service -> cancelled, metered to Slurm's end
    time; a finished job's ledger equals Slurm's start/end x accelerators within 1 s."""
    cfg = slurm_config()
    _pool(api, "slurm", "slurm", cfg)
    _, a = api.tenant("alpha", pool="slurm", accelerators=2)
    _, ok = api.submit(a, "ok", "sleep 2", pool="slurm", accelerators=2)
    _, long = api.submit(a, "long", "sleep 120", pool="slurm", key="long")
    assert api.wait(a, ok["id"], ("succeeded",), 60) == "succeeded"
    exe = get_executor("slurm", cfg, "/tmp")
    st = exe.status(api.job(a, ok["id"])["engine_job_id"])
    [row] = _ledger(api.url, ok["id"])
    assert abs(row.accel_seconds - 2 * (st.end - st.start)) <= 1.0
    assert api.wait(a, long["id"], ("running",), 60) == "running"
    time.sleep(2.5)  # Slurm's start/end stamps have 1 s resolution: let the job run measurably
    subprocess.run(["scancel", api.job(a, long["id"])["engine_job_id"]], check=True)
    assert api.wait(a, long["id"], ("cancelled",), 60) == "cancelled"
    [row] = _ledger(api.url, long["id"])
    assert 0 < row.accel_seconds < 2 * 120


def _restd_pid() -> int:
    return int(Path("/var/lib/wanka-ci-slurm/run/slurmrestd.pid").read_text())


@pytest.mark.slurm
def test_slurmrestd_down_jobs_wait_then_dispatch_once(api) -> None:
    """Acceptance 8: slurmrestd stopped (by pid) -> jobs stay queued with executor_unavailable and
    the pool shows down; restarted -> each job is dispatched exactly once."""
    cfg = slurm_config()
    _pool(api, "slurm", "slurm", cfg)
    _, a = api.tenant("alpha", pool="slurm", accelerators=2)
    pid = _restd_pid()
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    os.kill(pid, signal.SIGTERM)
    try:
        time.sleep(0.5)
        ids = [api.submit(a, f"j{i}", "sleep 1", pool="slurm")[1]["id"] for i in range(2)]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            js = [api.job(a, i) for i in ids]
            if all("executor_unavailable" in (j["reason"] or "") for j in js):
                break
            time.sleep(0.2)
        assert all(j["state"] == "queued" and "executor_unavailable" in j["reason"] for j in js)
        pools = api.call("GET", "/executors", api.admin)[1]
        assert pools[0]["health"] == "down"
    finally:
        p = subprocess.Popen(
            cmdline,
            env={**os.environ, "SLURM_JWT": "daemon"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        Path("/var/lib/wanka-ci-slurm/run/slurmrestd.pid").write_text(f"{p.pid}\n")
    for i in ids:
        assert api.wait(a, i, ("succeeded",), 90) == "succeeded"
    owned = get_executor("slurm", cfg, "/tmp").list_owned()
    assert all(i in owned for i in ids)
    names = [j["name"] for j in get_executor("slurm", cfg, "/tmp")._jobs()]
    assert all(names.count(f"wanka-{i}") == 1 for i in ids)


@pytest.mark.slurm
@pytest.mark.slow
def test_kill9_service_mid_dispatch_reattaches(tmp_path) -> None:
    """Acceptance 9: kill -9 the service while Slurm jobs are being dispatched and run, restart it:
    every accepted job is still there, each has exactly one Slurm job, and all finish."""
    cfg = slurm_config()
    url = f"sqlite:///{tmp_path}/p.db"
    admin = init_store(url)
    srv = Server(url, tmp_path)
    srv.start()
    try:
        body = {
            "name": "slurm",
            "accelerator": "h100-sxm",
            "accelerators": 8,
            "executor": "slurm",
            "executor_config": cfg,
        }
        assert srv.call("POST", "/pools", admin, body)[0] == 201
        t = srv.call("POST", "/tenants", admin, {"name": "alpha"})[1]
        tok = srv.call("POST", f"/tenants/{t['id']}/tokens", admin, {})[1]["token"]
        srv.call("PUT", f"/tenants/{t['id']}/quotas", admin, {"pool": "slurm", "accelerators": 8})
        ids = []
        for i in range(8):
            st, j = srv.call(
                "POST",
                "/jobs",
                tok,
                {"name": f"k{i}", "pool": "slurm", "accelerators": 1, "command": "sleep 3"},
                {"Idempotency-Key": f"k{i}"},
            )
            assert st == 202
            ids.append(j["id"])
        time.sleep(0.3)
        srv.kill9()
        srv.start()
        for i in ids:
            for _ in range(300):
                st, j = srv.call("GET", f"/jobs/{i}", tok)
                if j["state"] == "succeeded":
                    break
                time.sleep(0.2)
            assert st == 200 and j["state"] == "succeeded", j
        names = [j["name"] for j in get_executor("slurm", cfg, "/tmp")._jobs()]
        assert all(names.count(f"wanka-{i}") == 1 for i in ids)
    finally:
        srv.stop()
