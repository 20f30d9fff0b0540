"""Prometheus metrics (prometheus-client), one registry per app.

Counters and histograms are updated where things happen (submission, dispatch, admission); the
job and quota gauges are read from the database when `/metrics` is scraped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from wanka.platform.models import Job, Pool, UsageRecord

__all__ = ["Metrics"]


class _DbCollector:
    def __init__(self, store: Any) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily(
            "wanka_platform_jobs", "Jobs by pool and state", labels=["pool", "state"]
        )
        held = GaugeMetricFamily(
            "wanka_platform_accelerators_held",
            "Accelerators held by admitted or running jobs",
            labels=["pool"],
        )
        cap = GaugeMetricFamily(
            "wanka_platform_pool_accelerators", "Accelerators in the pool", labels=["pool"]
        )
        up = GaugeMetricFamily("wanka_platform_executor_up", "Executor health", labels=["pool"])
        accel_h = GaugeMetricFamily(
            "wanka_platform_metered_accel_hours", "Accelerator-hours in the ledger", labels=["pool"]
        )
        with self.store.read() as s:
            for name, state, n in s.execute(
                select(Pool.name, Job.state, func.count())
                .join(Pool, Pool.id == Job.pool_id)
                .group_by(Pool.name, Job.state)
            ).all():
                jobs.add_metric([name, state], n)
            held_by = dict(
                s.execute(
                    select(Pool.name, func.sum(Job.accelerators))
                    .join(Pool, Pool.id == Job.pool_id)
                    .where(Job.state.in_(("admitted", "running")))
                    .group_by(Pool.name)
                ).all()
            )
            metered = dict(
                s.execute(
                    select(Pool.name, func.sum(UsageRecord.accel_seconds))
                    .join(Pool, Pool.id == UsageRecord.pool_id)
                    .group_by(Pool.name)
                ).all()
            )
            for p in s.scalars(select(Pool)).all():
                cap.add_metric([p.name], p.accelerators)
                held.add_metric([p.name], held_by.get(p.name) or 0)
                up.add_metric([p.name], 1.0 if p.health == "up" else 0.0)
                accel_h.add_metric([p.name], (metered.get(p.name) or 0) / 3600.0)
        yield from (jobs, held, cap, up, accel_h)


class Metrics:
    def __init__(self, store: Any) -> None:
        self.registry = CollectorRegistry()
        self.submitted = Counter(
            "wanka_platform_submissions",
            "Job submissions by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.submit_seconds = Histogram(
            "wanka_platform_submit_seconds",
            "Time to accept a job (server side)",
            registry=self.registry,
        )
        self.dispatched = Counter(
            "wanka_platform_dispatched", "Jobs handed to an engine", registry=self.registry
        )
        self.admission_seconds = Histogram(
            "wanka_platform_admission_seconds",
            "Duration of one admission pass on one pool",
            registry=self.registry,
        )
        self.registry.register(_DbCollector(store))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
