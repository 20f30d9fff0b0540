"""Many searches at once: models x accelerators x counts x network options, on local processes or Ray.

A sweep file (YAML/JSON; example in examples/sweep-small.yaml):

    name: small
    models: [llama3-70b, gpt3-175b]        # preset ids or model files
    accelerators: [h100-sxm, a100-80gb]
    counts: [256, 512]
    networks: [default, fat-tree]          # 'default' = perf's built-in scale-out model; else a topology
    global_batch_size: 1024                # sequences (one value, or a mapping model -> value)
    seq_len: null                          # null = each model's own
    precisions: [bf16]
    top: 1                                 # plans kept per task (rows in the results)

Each task is one `search` (the full space of `wanka search`); tasks are independent, so they spread over
local worker processes (default: one per core) or over a Ray cluster (`backend="ray"`; Ray is the optional
extra `wanka[ray]`). Results are flat rows, written as CSV or Parquet (pyarrow, optional).
"""

from __future__ import annotations

import csv
import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wanka.errors import ConfigError, WankaError
from wanka.spec import check_mapping
from wanka.workers import process_map, ray_map

if TYPE_CHECKING:
    from wanka.search.result import SearchResult

__all__ = [
    "RESULT_COLUMNS",
    "SweepSpec",
    "load_sweep",
    "parse_sweep",
    "run_sweep",
    "run_task",
    "sweep_tasks",
    "write_results",
]

_KEYS = {
    "name",
    "models",
    "accelerators",
    "counts",
    "networks",
    "global_batch_size",
    "seq_len",
    "precisions",
    "top",
}

RESULT_COLUMNS = (
    "model",
    "accelerator",
    "count",
    "network",
    "global_batch_size",
    "seq_len",
    "rank",
    "status",
    "error",
    "space",
    "evaluated",
    "feasible",
    "seconds",
    "precision",
    "tokens_per_s_per_gpu",
    "step_time_s",
    "mfu",
    "peak_memory_gib",
    "tp",
    "pp",
    "vpp",
    "cp",
    "ep",
    "etp",
    "dp",
    "fsdp",
    "distributed_optimizer",
    "sequence_parallel",
    "recompute",
    "micro_batch_size",
    "binding_constraint",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepSpec:
    name: str
    models: tuple[str, ...]
    accelerators: tuple[str, ...]
    counts: tuple[int, ...]
    networks: tuple[str, ...]
    global_batch_size: dict[str, int]
    seq_len: int | None
    precisions: tuple[str, ...]
    top: int
    base_dir: str | None = None


def _list(where: str, v: Any) -> list[Any]:
    if v is None:
        raise ConfigError(f"sweep: `{where}` is required")
    vals = v if isinstance(v, list) else [v]
    if not vals:
        raise ConfigError(f"sweep: `{where}` is empty")
    return vals


def parse_sweep(d: Any, *, base_dir: Path | None = None) -> SweepSpec:
    """Validate a sweep mapping (ids are checked here, so a bad id fails before any work starts)."""
    from wanka.catalogs import get_accelerator
    from wanka.topology.fabric import TOPOLOGIES

    check_mapping("sweep file", d, _KEYS)
    models = tuple(str(m) for m in _list("models", d.get("models")))
    accs = tuple(str(a) for a in _list("accelerators", d.get("accelerators")))
    for a in accs:
        get_accelerator(a)
    counts = []
    for c in _list("counts", d.get("counts")):
        if isinstance(c, bool) or not isinstance(c, int) or c <= 0:
            raise ConfigError(f"sweep: counts must be positive integers, got {c!r}")
        counts.append(c)
    nets = tuple(str(n) for n in (d.get("networks") or ["default"]))
    for n in nets:
        if n != "default" and n not in TOPOLOGIES:
            raise ConfigError(
                f"sweep: unknown network {n!r}; use 'default' or one of {', '.join(TOPOLOGIES)}"
            )
    gbs_in = d.get("global_batch_size")
    if gbs_in is None:
        raise ConfigError(
            "sweep: `global_batch_size` is required (one value or a mapping model -> value)"
        )
    gbs = {m: gbs_in for m in models} if not isinstance(gbs_in, dict) else dict(gbs_in)
    for m in models:
        v = gbs.get(m)
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ConfigError(
                f"sweep: global_batch_size for {m} must be a positive integer, got {v!r}"
            )
    seq = d.get("seq_len")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq <= 0):
        raise ConfigError(f"sweep: seq_len must be a positive integer or null, got {seq!r}")
    precs = tuple(str(p) for p in (d.get("precisions") or ["bf16"]))
    top = d.get("top", 1)
    if isinstance(top, bool) or not isinstance(top, int) or top <= 0:
        raise ConfigError(f"sweep: top must be a positive integer, got {top!r}")
    spec = SweepSpec(
        name=str(d.get("name") or "sweep"),
        models=models,
        accelerators=accs,
        counts=tuple(counts),
        networks=nets,
        global_batch_size={m: int(gbs[m]) for m in models},
        seq_len=seq,
        precisions=precs,
        top=top,
        base_dir=None if base_dir is None else str(base_dir),
    )
    for m in models:  # resolve every model once, so an unknown id is a one-line error up front
        _model(spec, m)
    return spec


def load_sweep(path: str | Path) -> SweepSpec:
    from wanka.spec import read_spec_file

    data = read_spec_file(path)
    if data is None:
        raise ConfigError(f"{path}: the file is empty")
    return parse_sweep(data, base_dir=Path(path).parent)


def _model(spec: SweepSpec, ref: str) -> Any:
    from wanka.search.models import load_model

    p = Path(ref)
    if spec.base_dir and ref.endswith((".yaml", ".yml", ".json")) and not p.is_absolute():
        ref = str(Path(spec.base_dir) / p)
    return load_model(ref, spec.seq_len)


def sweep_tasks(spec: SweepSpec) -> list[dict[str, Any]]:
    """One plain, picklable dict per search (models x accelerators x counts x networks)."""
    return [
        {
            "model": m,
            "accelerator": a,
            "count": c,
            "network": n,
            "global_batch_size": spec.global_batch_size[m],
            "seq_len": spec.seq_len,
            "precisions": list(spec.precisions),
            "top": spec.top,
            "base_dir": spec.base_dir,
        }
        for m, a, c, n in itertools.product(
            spec.models, spec.accelerators, spec.counts, spec.networks
        )
    ]


def run_task(task: dict[str, Any]) -> list[dict[str, Any]]:
    """Run one search task; errors become a row with status 'error' (a sweep never dies on one task)."""
    base = {k: task[k] for k in ("model", "accelerator", "count", "network", "global_batch_size")}
    t0 = time.perf_counter()
    try:
        res = _search_task(task)
    except WankaError as e:
        return [
            {
                **base,
                "seq_len": task.get("seq_len"),
                "rank": None,
                "status": "error",
                "error": str(e),
                "seconds": time.perf_counter() - t0,
            }
        ]
    stats = {
        "seq_len": res.context["seq_len"],
        "space": res.space,
        "evaluated": res.evaluated,
        "feasible": res.feasible,
        "seconds": res.seconds,
    }
    if res.best is None:
        inf = res.infeasible or {}
        return [
            {
                **base,
                **stats,
                "rank": None,
                "status": "infeasible",
                "error": inf.get("reason"),
                "binding_constraint": inf.get("binding_constraint"),
            }
        ]
    rows = []
    for i, p in enumerate(res.top, 1):
        rows.append(
            {
                **base,
                **stats,
                "rank": i,
                "status": "ok",
                "error": None,
                "precision": p["precision"],
                "tokens_per_s_per_gpu": p["tokens_per_s_per_gpu"],
                "step_time_s": p["step_time_s"],
                "mfu": p["mfu"],
                "peak_memory_gib": p["peak_memory_gib"],
                **p["parallelism"],
            }
        )
    return rows


def _search_task(task: dict[str, Any]) -> SearchResult:
    """The search of one task: its model (a file relative to the sweep file), accelerator, network."""
    from wanka.catalogs import get_accelerator
    from wanka.search.core import search
    from wanka.search.models import load_model

    ref = task["model"]
    if (
        task.get("base_dir")
        and ref.endswith((".yaml", ".yml", ".json"))
        and not Path(ref).is_absolute()
    ):
        ref = str(Path(task["base_dir"]) / ref)
    model = load_model(ref, task.get("seq_len"))
    acc = get_accelerator(task["accelerator"])
    fabric = None
    if task["network"] != "default":
        from wanka.topology.fabric import design_fabric

        fabric = design_fabric(task["network"], task["count"], accelerator=acc).fabric_tier()
    precs = [p for p in task["precisions"] if acc.peak_flops.get(p) or p in ("bf16", "fp16")] or [
        "bf16"
    ]
    return search(
        model,
        acc,
        count=task["count"],
        global_batch_size=task["global_batch_size"],
        seq_len=model.seq_len,
        precisions=precs,
        fabric=fabric,
        top_k=task["top"],
        use_predict=False,
        workers=1,
    )  # the sweep already runs one task per core


def run_sweep(
    spec: SweepSpec,
    *,
    backend: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run every task; returns {"rows": [...], "tasks", "seconds", "backend", "workers", ...}.

    Ctrl-C stops the run: the workers are stopped, and the rows of the finished tasks come back
    with `interrupted: true` and `tasks_finished`.
    """
    tasks = sweep_tasks(spec)
    t0 = time.perf_counter()
    n = len(tasks)
    if progress:
        progress(0, n)
    if backend == "ray":
        done = ray_map(run_task, tasks, address=ray_address, num_cpus=workers, progress=progress)
        workers_used = workers or (0 if ray_address else os.cpu_count() or 1)  # 0: the cluster's
    elif backend == "local":
        workers_used = max(1, min(workers or os.cpu_count() or 1, n))
        done = process_map(run_task, tasks, workers=workers_used, progress=progress)
    else:
        raise ConfigError(f"unknown sweep backend {backend!r}; choose local or ray")
    rows = [r for task_rows in done.in_order() for r in task_rows]
    order = {
        (t["model"], t["accelerator"], t["count"], t["network"]): i for i, t in enumerate(tasks)
    }
    rows.sort(
        key=lambda r: (
            order[(r["model"], r["accelerator"], r["count"], r["network"])],
            r.get("rank") or 0,
        )
    )
    return {
        "name": spec.name,
        "rows": [{c: r.get(c) for c in RESULT_COLUMNS} for r in rows],
        "tasks": n,
        "seconds": time.perf_counter() - t0,
        "backend": backend,
        "workers": workers_used,
        "interrupted": done.interrupted,
        "tasks_finished": len(done.results),
    }


def write_results(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Write rows as CSV (always available) or Parquet (`.parquet`, needs pyarrow)."""
    p = Path(path)
    if p.suffix.lower() == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ConfigError(
                "Parquet output needs pyarrow (pip install 'wanka[parquet]'); use a .csv path"
            ) from None
        cols = {c: [r.get(c) for r in rows] for c in RESULT_COLUMNS}
        pq.write_table(pa.table(cols), p)
        return p
    if p.suffix.lower() not in (".csv", ""):
        raise ConfigError(f"results file must end in .csv or .parquet, got {p.name}")
    with p.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(RESULT_COLUMNS))
        w.writeheader()
        for r in rows:
            w.writerow({c: ("" if r.get(c) is None else r.get(c)) for c in RESULT_COLUMNS})
    return p
