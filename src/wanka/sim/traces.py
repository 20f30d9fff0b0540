"""Trace readers: one function per public trace format, all returning a `Trace`.

Formats (detected from the CSV header; `.csv` or `.csv.gz`):

* `itp` - job_id,submission_time,duration,num_gpu (Microsoft ITP raw): size=num_gpu,
  work=duration;
* `elasticflow` - the same + num_iteration,model_name,deadline,batch_size: model=model_name;
* `philly` - timestamp,duration,num_gpus,gpu_time,cluster (Pollux's Philly table): tenant=cluster;
* `pollux` - name,time,application,num_replicas,batch_size (Pollux workloads): work from the
  shipped model profiles (`pollux_job_work`);
* `openb` - name,...,num_gpu,gpu_milli,gpu_spec,qos,...,creation_time,deletion_time,
  scheduled_time (Alibaba 2023): see `read_openb`;
* `tiresias` - job_id,num_gpu,submit_time,iterations,model_name,duration,interval;
* `wanka` - name,arrival_s,size,work_s[,tenant,priority,kind,accel_type,model,grad_bytes,step_s].

A row that cannot be read is skipped and counted by reason (`Trace.bad_rows`); a file whose header
matches no format raises `ConfigError`. A directory merges all its trace files, each file a tenant
when the format has no tenant column. `builtin:NAME` names a trace shipped inside the package
(`src/wanka/sim/data/traces/`, see `list_builtin`), so examples run without the shared data folder.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from wanka.errors import ConfigError
from wanka.sim.jobs import JobKind, JobTable, Trace, merge_traces
from wanka.sim.pollux import pollux_job_work
from wanka.userfile import check_id, check_readable

__all__ = [
    "FORMATS",
    "builtin_root",
    "list_builtin",
    "pollux_job_work",
    "read_trace",
    "resolve_trace_path",
]

_BUILTIN = "builtin:"


def builtin_root() -> Path:
    """Folder of the traces shipped with wanka."""
    return Path(str(resources.files("wanka.sim") / "data" / "traces"))


def list_builtin() -> list[str]:
    """Names usable as `builtin:NAME` (files and folders under the shipped trace folder)."""
    root = builtin_root()
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_dir() or p.name.endswith((".csv", ".csv.gz")):
            out.append(rel)
    return out


def resolve_trace_path(spec: str | Path) -> Path:
    """A filesystem path for a trace argument (`builtin:NAME` or a path)."""
    s = str(spec)
    if s.startswith(_BUILTIN):
        name = s[len(_BUILTIN) :].strip("/")
        root = builtin_root()
        for cand in (root / name, root / f"{name}.csv.gz", root / f"{name}.csv"):
            if cand.exists():
                return cand
        check_id("built-in trace", name, list_builtin(), see="wanka catalog list --kind traces")
    p = Path(s)
    if not p.exists():
        raise ConfigError(
            f"trace not found: {p}; give a CSV file, a folder of them or builtin:NAME"
        )
    return p


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


class _Rows:
    """Collects good rows and counts bad ones by reason."""

    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {}
        self.bad: Counter[str] = Counter()

    def add(self, **kw: Any) -> None:
        for k, v in kw.items():
            self.cols.setdefault(k, []).append(v)

    def trace(self, source: str, fmt: str) -> Trace:
        c = self.cols
        if not c:
            jobs = JobTable.build(name=[], arrival_s=[], size=[], work_s=[])
        else:
            jobs = JobTable.build(**c)
        return Trace(
            jobs=jobs,
            source=source,
            format=fmt,
            bad_rows=sum(self.bad.values()),
            bad_reasons=dict(self.bad),
        )


def _num(row: dict[str, str], key: str) -> float:
    v = row.get(key)
    if v is None or v == "":
        raise ValueError(f"{key} missing")
    x = float(v)
    if not math.isfinite(x):
        raise ValueError(f"{key} not finite")
    return x


def _check(size: float, work: float, arrival: float) -> str | None:
    if size != int(size) or size < 1:
        return "accelerator count not a positive integer"
    if work <= 0:
        return "duration not positive"
    if arrival < 0:
        return "negative submission time"
    return None


def _iter(path: Path) -> Iterator[dict[str, str]]:
    with _open_text(path) as fh:
        yield from csv.DictReader(fh)


def _generic(
    path: Path,
    fmt: str,
    arrival: str,
    size: str,
    work: str,
    *,
    model: str | None = None,
    tenant: str | None = None,
) -> Trace:
    rows = _Rows()
    for i, r in enumerate(_iter(path)):
        try:
            a, s, w = _num(r, arrival), _num(r, size), _num(r, work)
        except (ValueError, TypeError) as e:
            rows.bad[
                str(e) if "missing" in str(e) or "finite" in str(e) else "value not a number"
            ] += 1
            continue
        why = _check(s, w, a)
        if why:
            rows.bad[why] += 1
            continue
        kw: dict[str, Any] = {}
        if model:
            kw["model"] = r.get(model) or None
        if tenant:
            kw["tenant"] = r.get(tenant) or "default"
        rows.add(
            name=r.get("job_id") or r.get("name") or f"{path.stem}-{i}",
            arrival_s=a,
            size=int(s),
            work_s=w,
            **kw,
        )
    return rows.trace(str(path), fmt)


def read_itp(path: Path) -> Trace:
    """Microsoft ITP raw trace (ElasticFlow repo): size=num_gpu, work=duration (seconds)."""
    return _generic(path, "itp", "submission_time", "num_gpu", "duration")


def read_elasticflow(path: Path) -> Trace:
    """ElasticFlow-augmented ITP trace; model_name kept (the synthetic deadline is ignored)."""
    return _generic(
        path, "elasticflow", "submission_time", "num_gpu", "duration", model="model_name"
    )


def read_tiresias(path: Path) -> Trace:
    """Tiresias simulator trace (60_job.csv format)."""
    return _generic(path, "tiresias", "submit_time", "num_gpu", "duration", model="model_name")


def read_philly(path: Path) -> Trace:
    """Pollux's Philly table: arrival from `timestamp` (relative to the earliest), VC = tenant."""
    raw = _Rows()
    stamps: list[float] = []
    for i, r in enumerate(_iter(path)):
        try:
            ts = datetime.strptime(r["timestamp"], "%Y-%m-%d %H:%M:%S").timestamp()
            s, w = _num(r, "num_gpus"), _num(r, "duration")
        except (ValueError, TypeError, KeyError):
            raw.bad["value not a number or bad timestamp"] += 1
            continue
        why = _check(s, w, 0.0)
        if why:
            raw.bad[why] += 1
            continue
        stamps.append(ts)
        raw.add(name=f"philly-{i}", size=int(s), work_s=w, tenant=r.get("cluster") or "default")
    t0 = min(stamps) if stamps else 0.0
    raw.cols["arrival_s"] = [t - t0 for t in stamps]
    return raw.trace(str(path), "philly")


def read_pollux(path: Path) -> Trace:
    """A Pollux workload (rigid baseline view): size=num_replicas, work from the model profiles."""
    rows = _Rows()
    for i, r in enumerate(_iter(path)):
        try:
            a, s, b = _num(r, "time"), _num(r, "num_replicas"), _num(r, "batch_size")
            app = r["application"]
            w, step, grad = pollux_job_work(app, int(s), int(b))
        except ConfigError:  # before ValueError: ConfigError is one
            rows.bad["unknown application"] += 1
            continue
        except (ValueError, TypeError, KeyError):
            rows.bad["value not a number"] += 1
            continue
        why = _check(s, w, a)
        if why:
            rows.bad[why] += 1
            continue
        rows.add(
            name=r.get("name") or f"{path.stem}-{i}",
            arrival_s=a,
            size=int(s),
            work_s=w,
            model=app,
            step_s=step,
            grad_bytes=grad,
        )
    return rows.trace(str(path), "pollux")


def read_openb(path: Path) -> Trace:
    """Alibaba openb pod list (FGD, ATC '23).

    size = num_gpu, a fractional GPU (`gpu_milli` < 1000) counted as one whole accelerator (no GPU
    sharing in this simulator); work = deletion_time - scheduled_time (creation_time when not
    scheduled); arrival = creation_time; accel_type = gpu_spec (alternatives `A|B`); tenant = qos;
    kind = inference for latency-sensitive (LS) pods, training otherwise. CPU-only pods
    (num_gpu 0) are skipped and counted.
    """
    rows = _Rows()
    for i, r in enumerate(_iter(path)):
        try:
            g = _num(r, "num_gpu")
            a = _num(r, "creation_time")
            d = _num(r, "deletion_time")
            st = float(r["scheduled_time"]) if r.get("scheduled_time") else a
        except (ValueError, TypeError, KeyError):
            rows.bad["value not a number"] += 1
            continue
        if g == 0:
            rows.bad["requests no accelerator (CPU pod)"] += 1
            continue
        w = d - max(st, a)
        why = _check(g, w, a)
        if why:
            rows.bad[why] += 1
            continue
        qos = r.get("qos") or "default"
        rows.add(
            name=r.get("name") or f"pod-{i}",
            arrival_s=a,
            size=int(g),
            work_s=w,
            tenant=qos,
            kind=(JobKind.INFERENCE if qos == "LS" else JobKind.TRAINING).value,
            accel_type=r.get("gpu_spec") or None,
            priority=2 if qos in ("LS", "Guaranteed") else (1 if qos == "Burstable" else 0),
        )
    return rows.trace(str(path), "openb")


def read_wanka(path: Path) -> Trace:
    """wanka's own CSV (what `wanka.sim.synthetic` writes)."""
    rows = _Rows()
    header: list[str] = []
    for i, r in enumerate(_iter(path)):
        if not header:
            header = list(r)
        try:
            a, s, w = _num(r, "arrival_s"), _num(r, "size"), _num(r, "work_s")
            prio = int(float(r.get("priority") or 0))
            kind = JobKind(r.get("kind") or "training").value
            gb = float(r["grad_bytes"]) if r.get("grad_bytes") else math.nan
            ss = float(r["step_s"]) if r.get("step_s") else math.nan
        except (ValueError, TypeError):
            rows.bad["value not a number or unknown kind"] += 1
            continue
        why = _check(s, w, a)
        if why:
            rows.bad[why] += 1
            continue
        rows.add(
            name=r.get("name") or f"job-{i}",
            arrival_s=a,
            size=int(s),
            work_s=w,
            tenant=r.get("tenant") or "default",
            priority=prio,
            kind=kind,
            accel_type=r.get("accel_type") or None,
            model=r.get("model") or None,
            grad_bytes=gb,
            step_s=ss,
        )
    return rows.trace(str(path), "wanka")


#: What to run on a Slurm cluster for a trace `read_sacct` reads (pipe-separated, one line per job).
SACCT_COMMAND = (
    "sacct --allusers --allocations --parsable2 --starttime 2024-01-01 "
    "--format=JobID,JobName,Account,Submit,Start,End,Elapsed,AllocTRES,State"
)


def _slurm_time(v: str) -> float | None:
    """Seconds since the epoch of a Slurm timestamp (`2024-05-01T10:00:00`); None if unset."""
    if not v or v in ("None", "Unknown"):
        return None
    return datetime.fromisoformat(v).replace(tzinfo=UTC).timestamp()


def _slurm_elapsed(v: str) -> float:
    """Seconds of a Slurm duration `[D-]HH:MM:SS` (or `MM:SS`)."""
    days, _, hms = v.rpartition("-")
    parts = [float(x) for x in hms.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    return float(days or 0) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]


def _gpus(tres: str) -> int:
    """Accelerators in a TRES string (`cpu=64,gres/gpu=8,mem=512G` or `gres/gpu:h100=8`)."""
    for item in tres.split(","):
        key, _, val = item.partition("=")
        if key.startswith("gres/gpu") and val:
            return int(float(val))
    return 0


def read_sacct(path: Path) -> Trace:
    """Slurm accounting (`SACCT_COMMAND`): arrival from Submit (relative to the earliest), work from
    Elapsed, accelerators from AllocTRES gres/gpu, tenant = Account. Job steps, jobs that never started
    and jobs without GPUs are skipped and counted by reason."""
    rows, recs = _Rows(), []
    with _open_text(path) as fh:
        for r in csv.DictReader(fh, delimiter="|"):
            if "." in (r.get("JobID") or ""):
                continue  # a job step, not an allocation
            try:
                submit, start = _slurm_time(r.get("Submit", "")), _slurm_time(r.get("Start", ""))
                work, gpus = _slurm_elapsed(r.get("Elapsed") or "0"), _gpus(r.get("AllocTRES", ""))
            except ValueError:
                rows.bad["value not a number or time"] += 1
                continue
            if submit is None or start is None:
                rows.bad["never started"] += 1
                continue
            why = ("no GPU allocated" if gpus < 1 else None) or _check(gpus, work, 0.0)
            if why:
                rows.bad[why] += 1
                continue
            recs.append((submit, r, gpus, work))
    t0 = min((rec[0] for rec in recs), default=0.0)
    for submit, r, gpus, work in recs:
        rows.add(
            name=r.get("JobID") or r.get("JobName") or f"job-{len(rows.cols.get('name', []))}",
            arrival_s=submit - t0,
            size=gpus,
            work_s=work,
            tenant=r.get("Account") or "default",
        )
    return rows.trace(str(path), "sacct")


FORMATS: dict[str, tuple[frozenset[str], Callable[[Path], Trace]]] = {
    # Most specific first: detection takes the first whose columns are all present.
    "elasticflow": (
        frozenset({"job_id", "submission_time", "num_gpu", "duration", "model_name", "deadline"}),
        read_elasticflow,
    ),
    "itp": (frozenset({"job_id", "submission_time", "num_gpu", "duration"}), read_itp),
    "philly": (frozenset({"timestamp", "duration", "num_gpus", "cluster"}), read_philly),
    "pollux": (
        frozenset({"name", "time", "application", "num_replicas", "batch_size"}),
        read_pollux,
    ),
    "openb": (
        frozenset({"name", "num_gpu", "gpu_milli", "creation_time", "deletion_time"}),
        read_openb,
    ),
    "tiresias": (frozenset({"job_id", "num_gpu", "submit_time", "duration"}), read_tiresias),
    "wanka": (frozenset({"arrival_s", "size", "work_s"}), read_wanka),
    "sacct": (frozenset({"JobID", "Submit", "Elapsed", "AllocTRES"}), read_sacct),
}


def _header(path: Path) -> list[str]:
    try:
        with _open_text(path) as fh:
            line = fh.readline()
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise ConfigError(f"cannot read trace {path}: {e}") from None
    sep = "|" if "|" in line and "," not in line else ","
    return [c.strip() for c in next(csv.reader([line], delimiter=sep), [])]


def _detect(path: Path) -> str:
    cols = set(_header(path))
    for name, (need, _) in FORMATS.items():
        if need <= cols:
            return name
    raise ConfigError(
        f"trace {path} has an unrecognised header {sorted(cols)[:8]}; formats: {', '.join(FORMATS)}"
    )


def _is_trace_file(p: Path) -> bool:
    return p.is_file() and p.name.endswith((".csv", ".csv.gz"))


def read_trace(spec: str | Path, fmt: str | None = None) -> Trace:
    """Read a trace file, a directory of trace files (merged) or `builtin:NAME`.

    Args:
        spec: path or `builtin:NAME`.
        fmt: one of `FORMATS`, or None to detect each file's format from its header.
    """
    path = resolve_trace_path(spec)
    if fmt is not None and fmt not in FORMATS:
        raise ConfigError(f"unknown trace format {fmt!r}; choose from {', '.join(FORMATS)}")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if _is_trace_file(p))
        if not files:
            raise ConfigError(f"no .csv or .csv.gz trace files in {path}")
        traces = [_read_one(p, fmt) for p in files]
        merged = merge_traces(traces, prefix_tenants=True)
        return replace(merged, source=str(spec))
    return _read_one(path, fmt)


def _read_one(path: Path, fmt: str | None) -> Trace:
    check_readable(path, what="trace")
    name = fmt or _detect(path)
    need, reader = FORMATS[name]
    cols = set(_header(path))
    if not need <= cols:
        raise ConfigError(f"trace {path} lacks columns {sorted(need - cols)} of format {name!r}")
    try:
        return reader(path)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as e:
        raise ConfigError(f"cannot read trace {path}: {e}") from None
