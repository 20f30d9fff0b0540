"""The one small protocol every engine adapter implements, and the registry of adapters.

An executor never decides *whether* a job runs (admission did); it starts, watches and stops it.
Every engine job is tagged with the platform job id (Ray `submission_id`, Slurm job name and
comment, Kubernetes object name and label, the local job folder), so `find` can tell after a crash
whether a dispatch already happened and `list_owned` can find orphans.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from wanka.errors import ConfigError, WankaError

__all__ = [
    "TAG",
    "EngineStatus",
    "Executor",
    "ExecutorUnavailable",
    "JobSpec",
    "get_executor",
    "register_executor",
]

TAG = "wanka-"
"""Prefix of every engine-side name the platform creates (`wanka-<job id>`)."""


class ExecutorUnavailable(WankaError):
    """The engine cannot be reached now; the job waits and is dispatched when it is back."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    """What an engine needs to run one admitted job."""

    id: str
    tenant: str
    """Tenant id."""
    name: str
    command: str
    accelerators: int
    time_limit_s: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    tenant_name: str = ""
    """Tenant name (engines that run each tenant as its own user map it to one)."""

    @property
    def tag(self) -> str:
        return TAG + self.id


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineStatus:
    state: str
    """pending | running | succeeded | failed | cancelled | lost."""
    start: float | None = None
    end: float | None = None
    exit_code: int | None = None
    detail: str = ""


class Executor(Protocol):
    kind: str

    def health(self) -> tuple[bool, str]: ...

    def submit(self, job: JobSpec) -> str:
        """Start the job; idempotent on `job.id` (a second call returns the first engine id)."""
        ...

    def find(self, job_id: str) -> str | None:
        """The engine id of the job tagged `job_id`, if the engine has it."""
        ...

    def status(self, engine_id: str) -> EngineStatus: ...

    def cancel(self, engine_id: str) -> None: ...

    def list_owned(self) -> dict[str, str]:
        """platform job id -> engine id for every engine job carrying the platform's tag."""
        ...

    def logs(self, engine_id: str) -> str: ...


KINDS = {"local": "local", "ray": "ray", "slurm": "slurm", "kubernetes": "kubernetes"}
"""Executor kind -> module that registers it."""

_REGISTRY: dict[str, Callable[[dict[str, Any], str], Executor]] = {}


def register_executor(kind: str, factory: Callable[[dict[str, Any], str], Executor]) -> None:
    _REGISTRY[kind] = factory


def get_executor(kind: str, config: dict[str, Any], workdir: str) -> Executor:
    """An executor of `kind` configured by the pool's `executor_config`."""
    import importlib

    if kind not in KINDS:
        raise ConfigError(f"unknown executor {kind!r}; choose from {', '.join(KINDS)}")
    importlib.import_module(f"wanka.platform.executors.{KINDS[kind]}")  # registers the factory
    return _REGISTRY[kind](config, workdir)
