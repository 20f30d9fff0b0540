"""The dashboard: server-rendered pages on the same app (no build step), login by token.

Pages: `/ui/login`, `/ui/jobs` (list, submit form; the table refreshes itself every 2 s),
`/ui/jobs/{id}` (events, logs, cancel), `/ui/quotas` (gauges), `/ui/usage` (SVG charts of
accelerator-hours and cost per day and per pool, this month's invoice), `/ui/admin` (pools with
executor health and orphans, tenants). The token is kept in an HttpOnly, SameSite=Strict cookie;
every page applies the same tenant scoping as the API. Without a live token a page answers 401
with the login form.
"""

from __future__ import annotations

import datetime as dt
import html
import time
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from wanka.platform.api import ApiError, principal
from wanka.platform.auth import Principal, resolve_token
from wanka.platform.jobs import job_dict, pool_names
from wanka.platform.metering import invoice, usage_summary
from wanka.platform.models import Job, JobEvent, Pool, Quota, Tenant
from wanka.platform.routes_jobs import cancel_job, get_job
from wanka.platform.schemas import JobIn
from wanka.platform.store import now
from wanka.platform.submit import submit_job

__all__ = ["LoginNeeded", "login_needed_handler", "router"]

router = APIRouter(prefix="/ui", include_in_schema=False)
COOKIE = "wanka_token"
E = html.escape

CSS = """
body{font-family:system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
nav{background:#1d2330;padding:.6em 1em}nav a{color:#fff;margin-right:1.2em;text-decoration:none}
main{padding:1em 1.5em;max-width:1100px}table{border-collapse:collapse;width:100%;background:#fff}
td,th{border-bottom:1px solid #e3e6ea;padding:.35em .5em;text-align:left;font-size:.92em}
.state-succeeded{color:#12734a}.state-failed,.state-rejected{color:#b3261e}
.state-running{color:#1558d6}.gauge{background:#e3e6ea;width:240px;height:14px;display:inline-block}
.gauge>span{background:#1558d6;height:14px;display:block}.bor>span{background:#d98e04}
form.inline{display:inline}input,select{margin:.2em .4em .2em 0}pre{background:#fff;padding:.6em}
"""


def _page(title: str, body: str, p: Principal | None, status: int = 200) -> HTMLResponse:
    links = ""
    if p is not None:
        items = [("jobs", "Jobs"), ("quotas", "Quotas"), ("usage", "Usage")]
        if p.is_admin:
            items.append(("admin", "Admin"))
        links = "".join(f'<a href="/ui/{u}" id="nav-{u}">{t}</a>' for u, t in items)
        links += '<form class="inline" method="post" action="/ui/logout">'
        links += '<button id="logout">Log out</button></form>'
    doc = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{E(title)} - wanka</title>"
        f"<style>{CSS}</style></head><body><nav><a href='/ui/jobs'><b>wanka</b></a>{links}</nav>"
        f"<main><h1>{E(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(doc, status_code=status)


LOGIN_FORM = (
    "<form method='post' action='/ui/login'><label>API token <input type='password' "
    "name='token' id='token' size='50'></label> <button id='login'>Log in</button></form>"
)


def _who(request: Request) -> Principal | None:
    try:
        return principal(request)
    except ApiError:
        return None


def _need(request: Request) -> Principal:
    p = _who(request)
    if p is None:
        raise LoginNeeded
    return p


class LoginNeeded(Exception):
    pass


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode(errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


@router.get("/login")
def login_page(request: Request) -> HTMLResponse:
    return _page("Log in", LOGIN_FORM, None)


@router.post("/login")
async def login(request: Request) -> Any:
    tok = (await _form(request)).get("token", "").strip()
    with request.app.state.store.read() as s:
        who = resolve_token(s, tok, now()) if tok else None
    if who is None:
        return _page("Log in", "<p id='error'>invalid token</p>" + LOGIN_FORM, None, 401)
    r = RedirectResponse("/ui/jobs", status_code=303)
    r.set_cookie(COOKIE, tok, httponly=True, samesite="strict")
    return r


@router.post("/logout")
def logout() -> RedirectResponse:
    r = RedirectResponse("/ui/login", status_code=303)
    r.delete_cookie(COOKIE)
    return r


@router.get("")
def home() -> RedirectResponse:
    return RedirectResponse("/ui/jobs", status_code=303)


def _jobs_table(request: Request, p: Principal) -> str:
    q = select(Job).order_by(Job.created_at.desc()).limit(200)
    if not p.is_admin:
        q = q.where(Job.tenant_id == p.tenant_id)
    with request.app.state.store.read() as s:
        jobs = s.scalars(q).all()
        names = pool_names(s)
    rows = []
    for j in jobs:
        d = job_dict(j, names.get(j.pool_id))
        price = (d["quote"] or {}).get("price")
        rows.append(
            f"<tr data-job='{E(j.id)}'><td><a href='/ui/jobs/{E(j.id)}'>{E(j.name)}</a></td>"
            f"<td>{E(d['pool'] or '')}</td><td>{j.accelerators}</td>"
            f"<td class='state state-{E(j.state)}'>{E(j.state)}</td>"
            f"<td>{E((j.reason or '')[:120])}</td>"
            f"<td>{'' if price is None else f'{price:.2f}'}</td></tr>"
        )
    head = "<tr><th>name</th><th>pool</th><th>acc.</th><th>state</th><th>reason</th><th>quote</th></tr>"
    return f"<table id='jobs'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


REFRESH_JS = """<script>
setInterval(async () => {
  const r = await fetch('/ui/jobs/table'); if (!r.ok) return;
  document.getElementById('jobs-box').innerHTML = await r.text();
}, 2000);
</script>"""


@router.get("/jobs/table")
def jobs_table(request: Request) -> HTMLResponse:
    return HTMLResponse(_jobs_table(request, _need(request)))


def _submit_form(request: Request, p: Principal) -> str:
    if p.tenant_id is None:
        return "<p>Admins do not submit jobs; log in with a tenant token.</p>"
    with request.app.state.store.read() as s:
        pools = s.execute(
            select(Pool.name)
            .join(Quota, Quota.pool_id == Pool.id)
            .where(Quota.tenant_id == p.tenant_id)
        ).scalars()
        opts = "".join(f"<option>{E(n)}</option>" for n in pools)
    return (
        "<form method='post' action='/ui/jobs' id='submit-form'><input name='name' id='f-name' "
        "placeholder='name' required> <select name='pool' id='f-pool'>" + opts + "</select> "
        "<input name='accelerators' id='f-acc' type='number' min='1' value='1'> "
        "<input name='command' id='f-cmd' placeholder='command' size='40' required> "
        "<button id='f-submit'>Submit</button></form>"
    )


@router.get("/jobs")
def jobs_page(request: Request) -> HTMLResponse:
    p = _need(request)
    body = _submit_form(request, p) + "<div id='jobs-box'>" + _jobs_table(request, p) + "</div>"
    return _page("Jobs", body + REFRESH_JS, p)


@router.post("/jobs")
async def jobs_submit(request: Request) -> Any:
    p = _need(request)
    f = await _form(request)
    try:
        acc = int(f.get("accelerators") or 1)
        body = JobIn(name=f.get("name", ""), pool=f.get("pool", ""), accelerators=acc,
                     command=f.get("command", ""))  # fmt: skip
        submit_job(
            request.app.state.store, p, body, f"ui-{time.time_ns()}", request.app.state.metrics
        )
    except (ApiError, ValueError) as e:
        msg = e.message if isinstance(e, ApiError) else str(e).splitlines()[0]
        return _page("Jobs", f"<p id='error'>{E(msg)}</p>" + _submit_form(request, p), p, 422)
    request.app.state.dispatcher.wake.set()
    return RedirectResponse("/ui/jobs", status_code=303)


@router.get("/jobs/{job_id}")
def job_page(job_id: str, request: Request) -> HTMLResponse:
    p = _need(request)
    with request.app.state.store.read() as s:
        try:
            job = get_job(s, p, job_id)
        except ApiError:
            return _page("Not found", "<p>no such job</p>", p, 404)
        pool = s.get(Pool, job.pool_id)
        events = s.scalars(select(JobEvent).where(JobEvent.job_id == job.id).order_by(JobEvent.id))
        ev = "".join(
            f"<tr><td>{_t(e.at)}</td><td>{E(e.from_state or '')}</td><td>{E(e.to_state)}</td>"
            f"<td>{E(e.detail or '')}</td></tr>"
            for e in events.all()
        )
    d = job_dict(job, pool)
    facts = "".join(
        f"<tr><th>{E(k)}</th><td>{E(str(v))}</td></tr>" for k, v in d.items() if v is not None
    )
    logs = ""
    if job.engine_job_id:
        try:
            logs = request.app.state.dispatcher.executor(pool).logs(job.engine_job_id)
        except Exception:  # noqa: BLE001 (an engine that is down has no logs now)
            logs = "(logs unavailable)"
    cancel = ""
    if job.state in ("queued", "staging", "admitted", "running"):
        cancel = (f"<form method='post' action='/ui/jobs/{E(job.id)}/cancel'>"
                  "<button id='cancel'>Cancel</button></form>")  # fmt: skip
    body = (f"<table id='facts'>{facts}</table>{cancel}<h2>Events</h2><table>{ev}</table>"
            f"<h2>Logs</h2><pre id='logs'>{E(logs[-20000:])}</pre>")  # fmt: skip
    return _page(f"Job {job.name}", body, p)


@router.post("/jobs/{job_id}/cancel")
def job_cancel(job_id: str, request: Request) -> Any:
    p = _need(request)
    try:
        cancel_job(request.app.state.store, p, job_id)
    except ApiError:
        return _page("Not found", "<p>no such job</p>", p, 404)
    request.app.state.dispatcher.wake.set()
    return RedirectResponse(f"/ui/jobs/{job_id}", status_code=303)


def _t(at: float | None) -> str:
    return "" if at is None else dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _gauge(used: int, nominal: int, cap: int) -> str:
    w_nom = 100 * min(used, nominal) / max(cap, 1)
    w_bor = 100 * max(0, used - nominal) / max(cap, 1)
    return (f"<span class='gauge'><span style='width:{w_nom:.0f}%'></span></span>"
            f"<span class='gauge bor' style='width:{2.4 * w_bor:.0f}px'><span></span></span>")  # fmt: skip


@router.get("/quotas")
def quotas_page(request: Request) -> HTMLResponse:
    from wanka.platform.routes_jobs import quotas

    p = _need(request)
    rows = "".join(
        f"<tr><td>{E(q['tenant'])}</td><td>{E(q['pool'])}</td>"
        f"<td>{_gauge(q['in_use'], q['accelerators'], q['pool_accelerators'])}</td>"
        f"<td class='in-use'>{q['in_use']} / {q['accelerators']} (+{q['borrow_limit']})</td>"
        f"<td>{q['queued_jobs']}</td></tr>"
        for q in quotas(request, p)
    )
    head = "<tr><th>tenant</th><th>pool</th><th>use</th><th>in use / nominal (+borrow)</th><th>queued</th></tr>"
    return _page("Quotas", f"<table id='quotas'>{head}{rows}</table>", p)


def _bars(lines: list[dict[str, Any]], key: str, value: str, unit: str) -> str:
    """A horizontal SVG bar chart (one bar per line)."""
    if not lines:
        return "<p>no usage yet</p>"
    top = max(x[value] for x in lines) or 1.0
    h = 22 * len(lines) + 10
    bars = []
    for i, x in enumerate(lines):
        w = 380 * x[value] / top
        bars.append(
            f"<text x='0' y='{22 * i + 16}' font-size='12'>{E(str(x[key]))}</text>"
            f"<rect x='150' y='{22 * i + 4}' width='{w:.1f}' height='16' fill='#1558d6'/>"
            f"<text x='{155 + w:.1f}' y='{22 * i + 16}' font-size='12'>{x[value]:.3f} {unit}</text>"
        )
    return f"<svg class='chart' width='640' height='{h}'>{''.join(bars)}</svg>"


@router.get("/usage")
def usage_page(request: Request) -> HTMLResponse:
    p = _need(request)
    period = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    with request.app.state.store.read() as s:
        by_day = usage_summary(s, p.tenant_id, 0.0, now() + 1, "day")
        by_pool = usage_summary(s, p.tenant_id, 0.0, now() + 1, "pool")
        inv = invoice(s, p.tenant_id, period) if p.tenant_id else None
    body = (
        f"<p id='totals'>{by_pool['total_accel_hours']:.3f} accelerator-hours, cost "
        f"{by_pool['total_cost']:.2f}</p><h2>Accelerator-hours per day</h2>"
        + _bars(by_day["lines"], "day", "accel_hours", "h")
        + "<h2>Cost per pool</h2>"
        + _bars(by_pool["lines"], "pool", "cost", "")
    )
    if inv:
        lines = "".join(
            f"<tr><td>{E(x['pool'])}</td><td>{E(x['tier'])}</td><td>{x['accel_hours']:.3f}</td>"
            f"<td>{x['price_per_accel_hour']:.2f}</td><td>{x['amount']:.2f}</td></tr>"
            for x in inv["lines"]
        )
        body += (f"<h2>Invoice {period}</h2><table id='invoice'><tr><th>pool</th><th>tier</th>"
                 f"<th>acc.-hours</th><th>rate</th><th>amount</th></tr>{lines}<tr><th>total</th>"
                 f"<td></td><td></td><td></td><th>{inv['total']:.2f}</th></tr></table>")  # fmt: skip
    return _page("Usage and cost", body, p)


@router.get("/admin")
def admin_page(request: Request) -> HTMLResponse:
    p = _need(request)
    if not p.is_admin:
        return _page("Admin", "<p>this page needs an admin token</p>", p, 403)
    orphans = request.app.state.dispatcher.orphans
    with request.app.state.store.read() as s:
        pools = s.scalars(select(Pool).order_by(Pool.name)).all()
        tenants = s.scalars(select(Tenant).order_by(Tenant.name)).all()
    prow = "".join(
        f"<tr><td>{E(x.name)}</td><td>{E(x.accelerator)}</td><td>{x.accelerators}</td>"
        f"<td>{E(x.executor)}</td><td class='health-{E(x.health)}'>{E(x.health)}</td>"
        f"<td>{E(x.health_reason or '')}</td><td>{len(orphans.get(x.name, []))}</td></tr>"
        for x in pools
    )
    trow = "".join(
        f"<tr><td>{E(t.name)}</td><td>{E(t.id)}</td><td>{t.weight:g}</td><td>{E(t.status)}</td></tr>"
        for t in tenants
    )
    body = (
        "<h2>Pools</h2><table id='pools'><tr><th>pool</th><th>accelerator</th><th>count</th>"
        f"<th>executor</th><th>health</th><th>why</th><th>orphans</th></tr>{prow}</table>"
        "<h2>Tenants</h2><table id='tenants'><tr><th>name</th><th>id</th><th>weight</th>"
        f"<th>status</th></tr>{trow}</table>"
    )
    return _page("Admin", body, p)


def login_needed_handler(_request: Request, _exc: Exception) -> HTMLResponse:
    return _page("Log in", LOGIN_FORM, None, 401)
