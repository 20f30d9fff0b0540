"""Dataset staging: the hook the admission path calls before a job may take quota.

A job may carry `datasets: ["name@version", ...]` and a `storage` location (where the engine reads
them). Before such a job is considered for admission, the dispatcher calls the configured *stager*
with a `StagingRequest`; the stager answers `ready` (a verified replica exists at `storage`) or not,
with the reason shown on the job while it sits in the `staging` state. It may start a transfer as a
side effect; it is called again on every admission pass until it answers ready.

The default stager, `nothing_to_stage`, answers ready at once. A dataset package plugs in by naming
its function: `Dispatcher(stager=...)`, `create_app(stager=...)`, or the environment variable
`WANKA_PLATFORM_STAGER="package.module:function"` (read by `resolve_stager`).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from wanka.errors import ConfigError

__all__ = [
    "Stager",
    "StagingDecision",
    "StagingRequest",
    "nothing_to_stage",
    "resolve_stager",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class StagingRequest:
    job_id: str
    tenant_id: str
    datasets: tuple[str, ...]
    """`name@version` references, as the job gave them."""
    storage: str | None
    """Where the job needs them (a storage endpoint/URI), or None: the stager's default."""
    pool: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StagingDecision:
    ready: bool
    reason: str = ""


Stager = Callable[[StagingRequest], StagingDecision]


def nothing_to_stage(req: StagingRequest) -> StagingDecision:
    """The default: no dataset machinery configured, every job is ready."""
    return StagingDecision(ready=True, reason="nothing to stage")


def resolve_stager(spec: str | Stager | None = None) -> Stager:
    """A stager from a callable, a `module:function` string, `$WANKA_PLATFORM_STAGER`, or the default."""
    if callable(spec):
        return spec
    spec = spec or os.environ.get("WANKA_PLATFORM_STAGER") or ""
    if not spec:
        return nothing_to_stage
    mod, _, fn = spec.partition(":")
    try:
        return getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError, ValueError):
        raise ConfigError(f"cannot load the dataset stager {spec!r} (module:function)") from None
