"""The platform's tables (SQLAlchemy 2 declarative models).

Glossary: a *pool* is one kind of accelerator at one price tier behind one executor (Kueue's
ResourceFlavor + the engine it runs on); pools that share a `cohort` lend each other unused quota.
A *quota* is one tenant's share of one pool: `accelerators` nominal, up to `borrow_limit` more from
the cohort, and at most `lend_limit` of its unused nominal lent out (None: all of it).
Times are epoch seconds (float) everywhere, so SQLite and PostgreSQL store the same values.
The schema itself is created by the Alembic migrations in `migrations/versions`, never by
`create_all`, so both databases follow one history.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ACTIVE_STATES",
    "JOB_STATES",
    "TERMINAL_STATES",
    "Base",
    "Job",
    "JobEvent",
    "Outbox",
    "Pool",
    "Quota",
    "Rate",
    "Tenant",
    "Token",
    "UsageRecord",
]

JOB_STATES = (
    "queued",
    "staging",
    "admitted",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "rejected",
)
ACTIVE_STATES = ("admitted", "running")
"""States that hold quota."""
TERMINAL_STATES = ("succeeded", "failed", "cancelled", "rejected")


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    tier: Mapped[str] = mapped_column(String(16), default="on_demand")
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[float] = mapped_column(Float)


class Token(Base):
    """An API token: only its SHA-256 is stored; `prefix` lets an admin name it."""

    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), nullable=True)
    role: Mapped[str] = mapped_column(String(16))  # admin | tenant
    prefix: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Pool(Base):
    __tablename__ = "pools"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    accelerator: Mapped[str] = mapped_column(String(64))
    accelerators: Mapped[int] = mapped_column(Integer)
    tier: Mapped[str] = mapped_column(String(16), default="on_demand")
    cohort: Mapped[str] = mapped_column(String(64))
    executor: Mapped[str] = mapped_column(String(16))  # local | ray | slurm | kubernetes
    executor_config: Mapped[dict] = mapped_column(JSON, default=dict)
    health: Mapped[str] = mapped_column(String(16), default="unknown")
    health_reason: Mapped[str] = mapped_column(Text, default="")
    checked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    lock_seq: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped by every admission pass: the row lock that serialises admitters."""
    created_at: Mapped[float] = mapped_column(Float)


class Rate(Base):
    """A rate card line: price per accelerator-hour of one pool from `effective_from` on."""

    __tablename__ = "rates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"))
    tier: Mapped[str] = mapped_column(String(16))
    price_per_accel_hour: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    effective_from: Mapped[float] = mapped_column(Float)


class Quota(Base):
    __tablename__ = "quotas"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"), primary_key=True)
    accelerators: Mapped[int] = mapped_column(Integer)
    borrow_limit: Mapped[int] = mapped_column(Integer, default=0)
    lend_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    accel_hours_per_month: Mapped[float | None] = mapped_column(Float, nullable=True)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_jobs_tenant_key"),
        Index("ix_jobs_tenant_created", "tenant_id", "created_at"),
        Index("ix_jobs_state", "state"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(128))
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"))
    accelerators: Mapped[int] = mapped_column(Integer)
    command: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    run: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    steps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    time_limit_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    datasets: Mapped[list | None] = mapped_column(JSON, nullable=True)
    storage: Mapped[str | None] = mapped_column(String(256), nullable=True)
    quote: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    engine_job_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    preemptions: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    admitted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class JobEvent(Base):
    """Append-only audit of state changes (also the over-commit invariant's evidence)."""

    __tablename__ = "job_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    at: Mapped[float] = mapped_column(Float)
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")


class Outbox(Base):
    """Work for the dispatcher, written in the same transaction as the state change."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # dispatch | cancel
    created_at: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[float] = mapped_column(Float, default=0.0)
    last_error: Mapped[str] = mapped_column(Text, default="")


class UsageRecord(Base):
    """One metered interval of one job (append-only; corrections are new rows)."""

    __tablename__ = "usage_records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"))
    tier: Mapped[str] = mapped_column(String(16))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    accelerators: Mapped[int] = mapped_column(Integer)
    accel_seconds: Mapped[float] = mapped_column(Float)
    price_per_accel_hour: Mapped[float] = mapped_column(Float)
    cost: Mapped[float] = mapped_column(Float)
    tokens: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(32))  # engine-report | service-estimate
