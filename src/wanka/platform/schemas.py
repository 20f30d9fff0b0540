"""Request bodies of the HTTP API (pydantic at the boundary): unknown fields and out-of-range
values are refused with a 4xx before any code touches the database."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "NAME_PATTERN",
    "JobIn",
    "PoolIn",
    "QuotaIn",
    "RateIn",
    "TenantIn",
    "TokenIn",
]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""Pool and tenant names: letters, digits, `_.-`, at most 64 characters."""
MAX_ACCELERATORS = 1_000_000

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Dataset = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,127}@[A-Za-z0-9_.\-+]{1,64}$")
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PoolIn(_In):
    name: Name
    accelerator: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    accelerators: int = Field(ge=1, le=MAX_ACCELERATORS)
    executor: Literal["local", "ray", "slurm", "kubernetes"] = "local"
    executor_config: dict[str, Any] = Field(default_factory=dict)
    tier: Literal["reserved", "on_demand", "spot"] = "on_demand"
    cohort: Name | None = None
    price_per_accel_hour: float | None = Field(default=None, ge=0, le=1e6)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"


class TenantIn(_In):
    name: Name
    weight: float = Field(default=1.0, gt=0, le=1e6)
    tier: Literal["reserved", "on_demand", "spot"] = "on_demand"


class TokenIn(_In):
    expires_in_s: float | None = Field(default=None, gt=0, le=10 * 365 * 86400)


class QuotaIn(_In):
    pool: Name
    accelerators: int = Field(ge=0, le=MAX_ACCELERATORS)
    borrow_limit: int = Field(default=0, ge=0, le=MAX_ACCELERATORS)
    lend_limit: int | None = Field(default=None, ge=0, le=MAX_ACCELERATORS)
    accel_hours_per_month: float | None = Field(default=None, ge=0)


class RateIn(_In):
    price_per_accel_hour: float = Field(ge=0, le=1e6)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"
    effective_from: float | None = None


class JobIn(_In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    pool: Name
    accelerators: int = Field(ge=1, le=MAX_ACCELERATORS)
    command: Annotated[str, StringConstraints(min_length=1, max_length=16384)]
    run: dict[str, Any] | None = None
    steps: int | None = Field(default=None, ge=1, le=10**12)
    priority: int = Field(default=0, ge=-1000, le=1000)
    time_limit_s: float | None = Field(default=None, gt=0, le=366 * 86400)
    datasets: list[Dataset] | None = Field(default=None, max_length=64)
    storage: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
