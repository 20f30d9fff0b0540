"""Jobs as a struct of numpy arrays, and the trace object the readers return.

A simulated job is one row of a `JobTable`: it arrives at `arrival_s`, asks for `size`
accelerators as a gang (all or nothing), and needs `work_s` seconds of execution at reference
speed (speed 1.0 = the accelerator type and the compact placement the trace's duration was
measured on). Tenants, accelerator types and model names are small integer codes into the
table's name tuples, so a million jobs stay a few dozen megabytes.

Glossary: *size* = accelerators requested; *work* = seconds at speed 1.0; *tenant* = the team or
virtual cluster that owns the job; *kind* = training | inference | elastic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from wanka.errors import ConfigError

__all__ = ["KIND_CODES", "JobKind", "JobTable", "Trace", "merge_traces"]


class JobKind(StrEnum):
    """What a job does; inference jobs are never preempted by preemptive policies."""

    TRAINING = "training"
    INFERENCE = "inference"
    ELASTIC = "elastic"


KIND_CODES: tuple[str, ...] = tuple(k.value for k in JobKind)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobTable:
    """All jobs of a trace, one numpy array per field (index = job number)."""

    name: tuple[str, ...]
    """Job ids as given by the trace (or generated)."""
    arrival_s: NDArray[np.float64]
    """Submission time, seconds from the start of the trace."""
    size: NDArray[np.int64]
    """Accelerators requested (gang)."""
    work_s: NDArray[np.float64]
    """Run time at speed 1.0 (reference accelerator, compact placement), seconds."""
    tenant: NDArray[np.int32]
    """Index into `tenants`."""
    priority: NDArray[np.int32]
    """Larger = more important (used by quota reclaim and preemption)."""
    kind: NDArray[np.int8]
    """Index into `KIND_CODES`."""
    accel_type: NDArray[np.int32]
    """Index into `accel_types`, or -1 for any type."""
    model: NDArray[np.int32]
    """Index into `models`, or -1 when the trace does not say."""
    tenants: tuple[str, ...] = ("default",)
    accel_types: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    grad_bytes: NDArray[np.float64] | None = None
    """Gradient bytes all-reduced per step (drives the spread-placement slowdown); None: default."""
    step_s: NDArray[np.float64] | None = None
    """Compute seconds per step at compact placement; None: default."""

    def __post_init__(self) -> None:
        n = len(self.name)
        for f in (
            "arrival_s",
            "size",
            "work_s",
            "tenant",
            "priority",
            "kind",
            "accel_type",
            "model",
        ):
            a = getattr(self, f)
            if a.shape != (n,):
                raise ConfigError(f"job table field {f} has shape {a.shape}, expected ({n},)")
        if n and (self.size.min() < 1 or not np.isfinite(self.work_s).all()):
            raise ConfigError("job table has a job with size < 1 or a non-finite work")

    def __len__(self) -> int:
        return len(self.name)

    @classmethod
    def build(
        cls,
        *,
        name: list[str],
        arrival_s: list[float] | NDArray[np.float64],
        size: list[int] | NDArray[np.int64],
        work_s: list[float] | NDArray[np.float64],
        tenant: list[str] | None = None,
        priority: list[int] | None = None,
        kind: list[str] | None = None,
        accel_type: list[str | None] | None = None,
        model: list[str | None] | None = None,
        grad_bytes: list[float] | None = None,
        step_s: list[float] | None = None,
    ) -> JobTable:
        """Build a table from plain lists, encoding the string columns; rows sorted by arrival."""
        n = len(name)
        arr = np.asarray(arrival_s, dtype=np.float64)
        order = np.argsort(arr, kind="stable")

        def enc(
            values: Sequence[str | None] | None, default: tuple[str, ...] = ()
        ) -> tuple[NDArray[np.int32], tuple[str, ...]]:
            if values is None:
                return (np.zeros(n, np.int32) if default else np.full(n, -1, np.int32)), default
            names = list(default)
            index = {v: i for i, v in enumerate(names)}
            codes = np.empty(n, np.int32)
            for i, v in enumerate(values):
                if v is None or v == "":
                    codes[i] = -1
                    continue
                c = index.get(v)
                if c is None:
                    c = index[v] = len(names)
                    names.append(v)
                codes[i] = c
            return codes, tuple(names)

        t_codes, tenants = enc(tenant, ("default",) if tenant is None else ())
        a_codes, accel_types = enc(accel_type)
        m_codes, models = enc(model)
        kinds = (
            np.zeros(n, np.int8)
            if kind is None
            else np.array([KIND_CODES.index(str(JobKind(k))) for k in kind], np.int8)
        )
        return cls(
            name=tuple(name[i] for i in order),
            arrival_s=arr[order],
            size=np.asarray(size, dtype=np.int64)[order],
            work_s=np.asarray(work_s, dtype=np.float64)[order],
            tenant=t_codes[order],
            priority=(
                np.zeros(n, np.int32) if priority is None else np.asarray(priority, np.int32)[order]
            ),
            kind=kinds[order],
            accel_type=a_codes[order],
            model=m_codes[order],
            tenants=tenants,
            accel_types=accel_types,
            models=models,
            grad_bytes=None if grad_bytes is None else np.asarray(grad_bytes, np.float64)[order],
            step_s=None if step_s is None else np.asarray(step_s, np.float64)[order],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Trace:
    """A job table plus what the reader could not use."""

    jobs: JobTable
    source: str
    """File or generator the jobs came from."""
    format: str
    bad_rows: int = 0
    """Rows skipped because they could not be read (counted, never fatal)."""
    bad_reasons: dict[str, int] = field(default_factory=dict)
    """Skipped rows by reason, e.g. {"duration not a number": 3}."""


def _recode(
    codes: NDArray[np.int32], names: tuple[str, ...], index: dict[str, int], out_names: list[str]
) -> NDArray[np.int32]:
    lut = np.empty(len(names) + 1, np.int32)
    lut[-1] = -1
    for i, nm in enumerate(names):
        if nm not in index:
            index[nm] = len(out_names)
            out_names.append(nm)
        lut[i] = index[nm]
    return lut[codes]


def merge_traces(traces: list[Trace], *, prefix_tenants: bool = False) -> Trace:
    """Merge traces into one (rows re-sorted by arrival; string codes re-mapped).

    Args:
        traces: traces to merge (at least one).
        prefix_tenants: when True, a job without a tenant of its own ("default") gets the file's
            stem as tenant, so each merged cluster/file is one tenant.
    """
    if not traces:
        raise ConfigError("no traces to merge")
    if len(traces) == 1:
        return traces[0]
    parts: dict[str, list] = {
        k: []
        for k in (
            "name",
            "arrival_s",
            "size",
            "work_s",
            "priority",
            "kind",
            "tenant",
            "accel_type",
            "model",
            "grad_bytes",
            "step_s",
        )
    }
    tenants: list[str] = []
    types: list[str] = []
    models: list[str] = []
    ti: dict[str, int] = {}
    ai: dict[str, int] = {}
    mi: dict[str, int] = {}
    bad = 0
    reasons: Counter[str] = Counter()
    for tr in traces:
        j = tr.jobs
        tnames = j.tenants
        if prefix_tenants and tnames == ("default",):
            stem = tr.source.rsplit("/", 1)[-1].split(".")[0]
            tnames = (stem,)
        parts["name"].extend(j.name)
        for f in ("arrival_s", "size", "work_s", "priority", "kind"):
            parts[f].append(getattr(j, f))
        parts["tenant"].append(_recode(j.tenant, tnames, ti, tenants))
        parts["accel_type"].append(_recode(j.accel_type, j.accel_types, ai, types))
        parts["model"].append(_recode(j.model, j.models, mi, models))
        parts["grad_bytes"].append(
            j.grad_bytes if j.grad_bytes is not None else np.full(len(j), np.nan)
        )
        parts["step_s"].append(j.step_s if j.step_s is not None else np.full(len(j), np.nan))
        bad += tr.bad_rows
        reasons.update(tr.bad_reasons)
    arr = np.concatenate(parts["arrival_s"])
    order = np.argsort(arr, kind="stable")
    cat = {f: np.concatenate(parts[f])[order] for f in parts if f != "name"}
    gb, st = cat["grad_bytes"], cat["step_s"]
    jobs = JobTable(
        name=tuple(parts["name"][i] for i in order),
        arrival_s=cat["arrival_s"],
        size=cat["size"],
        work_s=cat["work_s"],
        tenant=cat["tenant"].astype(np.int32),
        priority=cat["priority"].astype(np.int32),
        kind=cat["kind"].astype(np.int8),
        accel_type=cat["accel_type"].astype(np.int32),
        model=cat["model"].astype(np.int32),
        tenants=tuple(tenants),
        accel_types=tuple(types),
        models=tuple(models),
        grad_bytes=None if np.isnan(gb).all() else gb,
        step_s=None if np.isnan(st).all() else st,
    )
    fmts = sorted({t.format for t in traces})
    return Trace(
        jobs=jobs,
        source=",".join(t.source for t in traces),
        format="+".join(fmts),
        bad_rows=bad,
        bad_reasons=dict(reasons),
    )
