"""Metering: the usage ledger, rate cards, monthly invoices and cost per token.

The ledger (`usage_records`) is append-only: one row per metered interval of a job, from the engine's
start and end times when it reports them (`source="engine-report"`), else the service's own clock
(`service-estimate`). A row carries the rate that applied at its start, so an invoice is a sum of
`accel_seconds / 3600 x price_per_accel_hour` and a later rate change never rewrites history.
A preempted job is metered up to its preemption; its next run is a new row.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wanka.errors import ConfigError
from wanka.platform.models import Job, Pool, Rate, Tenant, UsageRecord

__all__ = ["invoice", "month_bounds", "rate_at", "record_usage", "usage_summary"]


def rate_at(s: Session, pool: Pool, at: float) -> tuple[float, str]:
    """(price per accelerator-hour, currency) of `pool` at time `at`; (0, USD) without a rate card."""
    row = s.scalar(
        select(Rate)
        .where(Rate.pool_id == pool.id, Rate.effective_from <= at)
        .order_by(Rate.effective_from.desc(), Rate.id.desc())
        .limit(1)
    )
    return (row.price_per_accel_hour, row.currency) if row else (0.0, "USD")


def _tokens(job: Job, seconds: float) -> float | None:
    q = job.quote or {}
    step_s, per_step = q.get("step_time_s"), q.get("tokens_per_step")
    if not step_s or not per_step:
        return None
    return seconds / step_s * per_step  # predicted throughput x metered time


def record_usage(
    s: Session, job: Job, pool: Pool, start: float | None, end: float, source: str
) -> UsageRecord | None:
    """Append the ledger row of one finished interval of `job` (none if it never started)."""
    if start is None or end < start:
        return None
    price, _ = rate_at(s, pool, start)
    secs = end - start
    accel_s = secs * job.accelerators
    row = UsageRecord(
        tenant_id=job.tenant_id,
        job_id=job.id,
        pool_id=pool.id,
        tier=pool.tier,
        start=start,
        end=end,
        accelerators=job.accelerators,
        accel_seconds=accel_s,
        price_per_accel_hour=price,
        cost=accel_s / 3600.0 * price,
        tokens=_tokens(job, secs),
        source=source,
    )
    s.add(row)
    return row


def month_bounds(period: str) -> tuple[float, float]:
    """Epoch seconds [start, end) of a `YYYY-MM` month (UTC)."""
    try:
        y, m = (int(x) for x in period.split("-"))
        start = dt.datetime(y, m, 1, tzinfo=dt.UTC)
    except ValueError:
        raise ConfigError(f"period {period!r} must be YYYY-MM") from None
    days = calendar.monthrange(y, m)[1]
    return start.timestamp(), start.timestamp() + days * 86400.0


def _overlap(r: UsageRecord, lo: float, hi: float) -> float:
    """Share of a record's interval inside [lo, hi)."""
    span = r.end - r.start
    if span <= 0:
        return 1.0 if lo <= r.start < hi else 0.0
    return max(0.0, min(r.end, hi) - max(r.start, lo)) / span


def usage_summary(
    s: Session, tenant_id: str | None, lo: float, hi: float, group_by: str = "pool"
) -> dict[str, Any]:
    """Accelerator-hours and cost per pool (or job, or day) in [lo, hi), prorated at the edges."""
    q = select(UsageRecord, Pool.name).join(Pool, Pool.id == UsageRecord.pool_id)
    q = q.where(UsageRecord.end > lo, UsageRecord.start < hi)
    if tenant_id is not None:
        q = q.where(UsageRecord.tenant_id == tenant_id)
    groups: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    total_h = total_cost = 0.0
    for r, pool_name in s.execute(q).all():
        f = _overlap(r, lo, hi)
        if group_by == "job":
            key = r.job_id
        elif group_by == "day":
            key = dt.datetime.fromtimestamp(max(r.start, lo), dt.UTC).strftime("%Y-%m-%d")
        else:
            key = pool_name
        g = groups[key]
        g["accel_hours"] += r.accel_seconds * f / 3600.0
        g["cost"] += r.cost * f
        if r.tokens:
            g["tokens"] += r.tokens * f
        total_h += r.accel_seconds * f / 3600.0
        total_cost += r.cost * f
    lines = []
    for key, g in sorted(groups.items()):
        line = {group_by: key, "accel_hours": g["accel_hours"], "cost": g["cost"]}
        if g.get("tokens"):
            line["tokens"] = g["tokens"]
            line["cost_per_million_tokens"] = g["cost"] / g["tokens"] * 1e6
        lines.append(line)
    return {
        "from": lo,
        "to": hi,
        "group_by": group_by,
        "lines": lines,
        "total_accel_hours": total_h,
        "total_cost": total_cost,
    }


def invoice(s: Session, tenant_id: str, period: str) -> dict[str, Any]:
    """The monthly invoice of one tenant: one line per pool and rate, total = sum of the lines."""
    lo, hi = month_bounds(period)
    q = select(UsageRecord, Pool.name).join(Pool, Pool.id == UsageRecord.pool_id)
    q = q.where(UsageRecord.tenant_id == tenant_id, UsageRecord.end > lo, UsageRecord.start < hi)
    lines: dict[tuple[str, str, float], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r, pool_name in s.execute(q).all():
        f = _overlap(r, lo, hi)
        line = lines[(pool_name, r.tier, r.price_per_accel_hour)]
        line["accel_hours"] += r.accel_seconds * f / 3600.0
        line["jobs"] += 1
    out = []
    for (pool_name, tier, price), v in sorted(lines.items()):
        amount = v["accel_hours"] * price
        out.append(
            {
                "pool": pool_name,
                "tier": tier,
                "price_per_accel_hour": price,
                "accel_hours": v["accel_hours"],
                "intervals": int(v["jobs"]),
                "amount": amount,
            }
        )
    tenant = s.get(Tenant, tenant_id)
    return {
        "tenant": tenant.name if tenant else tenant_id,
        "period": period,
        "lines": out,
        "total": sum(x["amount"] for x in out),
    }
