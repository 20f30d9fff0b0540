"""Run several simulations (policies side by side, or a seed sweep), locally or on Ray.

Ray is optional: `use_ray=True` without Ray installed raises a one-line `ConfigError`. Each task
carries the trace *spec* (path, `builtin:` or `synthetic:` name) rather than the job table, and
reads it on the worker, so tasks stay small.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from wanka.errors import ConfigError
from wanka.sim.cluster import ClusterSpec
from wanka.sim.jobs import Trace
from wanka.sim.simulator import SimConfig, SimResult, simulate
from wanka.sim.synthetic import synthetic_llm_trace
from wanka.sim.traces import read_trace
from wanka.workers import ray_map

__all__ = ["Interrupted", "RunSpec", "load_trace", "run_many", "run_one"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSpec:
    """One simulation to run."""

    trace: str
    """Path, `builtin:NAME` or `synthetic:JOBS`."""
    trace_format: str | None
    cluster: ClusterSpec
    policy: str
    config: SimConfig
    arrival_scale: float = 1.0
    """Arrival times are multiplied by this (< 1 compresses the trace: more load)."""


def load_trace(
    spec: str, fmt: str | None, cluster: ClusterSpec, *, seed: int = 0, arrival_scale: float = 1.0
) -> Trace:
    """Read a trace spec; `synthetic:JOBS[:LOAD]` generates one sized for `cluster`."""
    if spec.startswith("synthetic:"):
        parts = spec.split(":")
        try:
            n = int(float(parts[1]))
            load = float(parts[2]) if len(parts) > 2 else 0.9
        except (ValueError, IndexError):
            raise ConfigError(f"bad synthetic trace {spec!r}; use synthetic:JOBS[:LOAD]") from None
        tr = synthetic_llm_trace(
            jobs=n,
            accelerators=cluster.total_accels,
            seed=seed,
            load=load,
            accelerator=cluster.accel_types[0],
        )
    else:
        tr = read_trace(spec, fmt)
    if arrival_scale != 1.0:
        if arrival_scale <= 0:
            raise ConfigError(f"--arrival-scale must be > 0, got {arrival_scale}")
        j = tr.jobs
        tr = replace(tr, jobs=replace(j, arrival_s=j.arrival_s * arrival_scale))
    return tr


def run_one(spec: RunSpec) -> SimResult:
    tr = load_trace(
        spec.trace,
        spec.trace_format,
        spec.cluster,
        seed=spec.config.seed,
        arrival_scale=spec.arrival_scale,
    )
    res = simulate(cluster=spec.cluster, trace=tr, policy=spec.policy, config=spec.config)
    res.summary["trace"] = spec.trace
    return res


def _summary_only(spec: RunSpec) -> dict[str, Any]:
    return run_one(spec).summary


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during `run_many(use_ray=True)`: the summaries of the runs that finished."""

    def __init__(self, finished: list[dict[str, Any]], total: int) -> None:
        super().__init__(f"{len(finished)} of {total} runs finished")
        self.finished = finished
        self.total = total


def run_many(
    specs: list[RunSpec],
    *,
    use_ray: bool = False,
    ray_address: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[SimResult | dict[str, Any]]:
    """Run specs in order (locally) or concurrently on Ray (returns summaries only).

    `progress(done, total)` is called after each run.
    """
    if not use_ray:
        out: list[SimResult | dict[str, Any]] = []
        for s in specs:
            out.append(run_one(s))
            if progress:
                progress(len(out), len(specs))
        return out
    done = ray_map(_summary_only, specs, address=ray_address, progress=progress)
    if done.interrupted:
        raise Interrupted(done.in_order(), len(specs))
    return done.in_order()
