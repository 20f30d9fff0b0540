"""Job lifecycle through the dispatcher: dataset staging hook, reclaim with preemption, billing of a
preempted spot job, invoices, kill -9 with the local executor."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from wanka.platform.api import create_app
from wanka.platform.metering import invoice
from wanka.platform.models import UsageRecord
from wanka.platform.staging import StagingDecision, StagingRequest, nothing_to_stage
from wanka.platform.store import Store, init_store


def test_staging_hook_holds_then_releases(tmp_path) -> None:
    """A job with datasets sits in `staging` with the stager's reason until it answers ready."""
    url = f"sqlite:///{tmp_path}/p.db"
    admin = init_store(url)
    ready = {"now": False}
    seen: list[StagingRequest] = []

    def stager(req: StagingRequest) -> StagingDecision:
        seen.append(req)
        return StagingDecision(ready=ready["now"], reason="copying corpus@v2 to s3://near")

    from platform_testlib import Api

    app = create_app(url, workdir=str(tmp_path / "jobs"), stager=stager, interval_s=0.05)
    with TestClient(app) as c:
        api = Api(c, admin, url)
        api.pool()
        _, tok = api.tenant("alpha")
        st, j = api.submit(tok, "train", "true", datasets=["corpus@v2"], storage="s3://near")
        assert st == 202 and j["state"] == "staging"
        time.sleep(0.5)
        job = api.job(tok, j["id"])
        assert job["state"] == "staging" and "copying corpus@v2" in job["reason"]
        assert seen[-1].datasets == ("corpus@v2",) and seen[-1].storage == "s3://near"
        ready["now"] = True
        assert api.wait(tok, j["id"], ("succeeded",)) == "succeeded"
        _, plain = api.submit(tok, "plain", "true")  # no datasets: the stager is not asked
        assert api.wait(tok, plain["id"], ("succeeded",)) == "succeeded"
        assert all(r.job_id == j["id"] for r in seen)
    assert nothing_to_stage(seen[0]).ready


def test_bad_dataset_reference_is_422(api) -> None:
    api.pool()
    _, tok = api.tenant("alpha")
    st, err = api.submit(tok, "x", "true", datasets=["no-version"])
    assert st == 422 and "datasets" in err["error"]


def test_reclaim_preempts_borrower_and_bills_spot_to_preemption(api) -> None:
    """Acceptance 4 (borrowing, reclaim) and 12 (preempted spot job billed only to the preemption):
    on a spot pool of 4, A (nominal 2, borrow 2) fills it while B is idle; B submits within its
    nominal 2 -> A's two newest jobs are preempted back to queued, B runs; A's preempted jobs are
    metered from start to preemption only, at the spot rate."""
    api.pool("spot", accelerators=4, tier="spot", price_per_accel_hour=1.2)
    _, a = api.tenant("alpha", pool="spot", accelerators=2, borrow_limit=2)
    _, b = api.tenant("beta", pool="spot", accelerators=2)
    ids = []
    for i in range(4):
        ids.append(api.submit(a, f"a{i}", "sleep 30", pool="spot")[1]["id"])
        time.sleep(0.05)  # distinct admission order
    assert all(api.wait(a, i, ("running",)) == "running" for i in ids)
    time.sleep(0.5)
    _, bj = api.submit(b, "b0", "sleep 30", pool="spot", accelerators=2)
    assert api.wait(b, bj["id"], ("running",)) == "running"
    states = [api.job(a, i) for i in ids]
    preempted = [j for j in states if j["preemptions"] == 1]
    assert len(preempted) == 2 and all(j["state"] == "queued" for j in preempted)
    for j in preempted:  # the event says why; the reason now says why it waits
        details = [e["detail"] or "" for e in api.call("GET", f"/jobs/{j['id']}/events", a)[1]]
        assert any("reclaims" in d for d in details)
    store = Store(api.url)
    with store.read() as s:
        rows = s.scalars(
            select(UsageRecord).where(UsageRecord.job_id.in_([j["id"] for j in preempted]))
        ).all()
        assert len(rows) == 2 and all(r.tier == "spot" for r in rows)
        assert all(0.4 < r.end - r.start < 10 for r in rows)
        assert all(r.cost == pytest.approx(r.accel_seconds / 3600 * 1.2) for r in rows)
        tid = rows[0].tenant_id
        period = time.strftime("%Y-%m", time.gmtime())
        inv = invoice(s, tid, period)
    store.dispose()
    assert inv["total"] == pytest.approx(sum(r.cost for r in rows))
    for t, i in [(a, x) for x in ids] + [(b, bj["id"])]:
        api.call("POST", f"/jobs/{i}/cancel", t)


def test_cancel_meters_and_invoice_is_ledger_times_rate(api) -> None:
    """Cancelling a running job meters it to the cancel time; the invoice total is the ledger."""
    api.pool(price_per_accel_hour=4.0)
    _, a = api.tenant("alpha")
    _, j = api.submit(a, "run", "sleep 30", accelerators=2)
    assert api.wait(a, j["id"], ("running",)) == "running"
    time.sleep(0.3)
    api.call("POST", f"/jobs/{j['id']}/cancel", a)
    period = time.strftime("%Y-%m", time.gmtime())
    st, inv = api.call("GET", f"/invoices/{period}", a)
    usage = api.call("GET", "/usage", a)[1]
    assert st == 200 and inv["total"] > 0
    assert inv["total"] == pytest.approx(usage["total_accel_hours"] * 4.0)
    assert inv["lines"][0]["accel_hours"] == pytest.approx(usage["total_accel_hours"])
