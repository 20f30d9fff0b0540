"""What every policy shares: the snapshot it reads, the decision it returns, a fitter.

Policies never mutate the view; every placement is planned on a local copy of the free counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from wanka.sim.jobs import KIND_CODES, JobKind, JobTable
from wanka.sim.placement import Placement, Topology

__all__ = ["SCAN_WINDOW", "Decision", "Fitter", "Policy", "SchedView", "Start", "apply"]

_INFERENCE = KIND_CODES.index(JobKind.INFERENCE.value)
SCAN_WINDOW = 256
"""Waiting jobs a greedy policy examines past the first one that does not fit (bounds pass cost)."""


@dataclass(frozen=True, slots=True)
class Start:
    """Start `job` on `placement`."""

    job: int
    placement: Placement


@dataclass(frozen=True, slots=True)
class Decision:
    """What a policy wants now: preemptions are applied first, then starts, in order."""

    preempt: tuple[int, ...] = ()
    start: tuple[Start, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedView:
    """Read-only snapshot of the simulator handed to a policy (valid during `decide` only)."""

    now_s: float
    topo: Topology
    jobs: JobTable
    free: NDArray[np.int64]
    """Free accelerators per node (0 on failed nodes)."""
    waiting: Mapping[int, None]
    """Waiting jobs in queue order (arrival, or requeue after preemption/failure)."""
    running: Mapping[int, Placement]
    """Running jobs in start order."""
    levels_waiting: Sequence[Mapping[int, None]]
    levels_running: Sequence[Mapping[int, None]]
    remaining_work_s: NDArray[np.float64]
    """Work left at the last start/stop (seconds at speed 1)."""
    expected_end_s: NDArray[np.float64]
    """For running jobs: when they will finish if left alone (oracle knowledge)."""
    attained_gpu_s: NDArray[np.float64]
    """Accelerator-seconds received up to the last start/stop."""
    run_start_s: NDArray[np.float64]
    service_norm_s: NDArray[np.float64]
    """Seconds of service weighted by normalised throughput (Gavel's fairness currency)."""
    tenant_used: NDArray[np.int64]
    tenant_quota: NDArray[np.int64]
    job_speed: Callable[[int, int], float]
    """job_speed(job, accel_type): speed of a job on a type relative to the reference type."""
    place: Callable[[NDArray[np.int64], int], Placement | None]
    """place(free, job): the configured placement for `job` on the given free counts."""
    place_on: Callable[[NDArray[np.int64], int, tuple[int, ...]], Placement | None]
    """place_on(free, job, types): placement restricted to some accelerator types."""
    job_types: JobTypes
    """Accelerator types each job may use, by job (only valid for arrived jobs)."""
    round_tick: bool = False
    """True when this pass is a scheduling round of a round-based policy."""

    def preemptible(self, job: int) -> bool:
        return int(self.jobs.kind[job]) != _INFERENCE

    def attained_now(self, job: int) -> float:
        a = float(self.attained_gpu_s[job])
        if job in self.running:
            a += (self.now_s - float(self.run_start_s[job])) * int(self.jobs.size[job])
        return a


class JobTypes(Protocol):
    """Accelerator types each job may use (by job index)."""

    def __getitem__(self, job: int, /) -> tuple[int, ...]: ...


class Policy(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def level_thresholds_gpu_s(self) -> tuple[float, ...]: ...
    @property
    def round_s(self) -> float | None: ...
    @property
    def strict_order(self) -> bool: ...

    def decide(self, view: SchedView) -> Decision: ...


def apply(free: NDArray[np.int64], p: Placement, sign: int = -1) -> None:
    free[p.nodes] += sign * p.counts


class Fitter:
    """A policy's working copy of the free counts, with cheap rejections before placement.

    Within a pass free capacity only shrinks (until something is released), so once a job of size
    s failed to place on some set of types, every job of size >= s on the same types fails too:
    `fits` remembers the smallest failed size per type set and answers those without numpy.
    """

    def __init__(self, view: SchedView) -> None:
        self.view = view
        self.free = view.free.copy()
        self.type_free = [int(self.free[n].sum()) for n in view.topo.type_nodes]
        self.total = sum(self.type_free)
        self._failed: dict[tuple[int, ...], int] = {}
        self.all_types = tuple(range(len(self.type_free)))

    def nothing_fits(self) -> bool:
        """True once a 1-accelerator job failed on every type: no waiting job can start."""
        return self.total == 0 or self._failed.get(self.all_types, 1 << 62) <= 1

    def place(self, j: int, types: tuple[int, ...] | None = None) -> Placement | None:
        v = self.view
        ts = v.job_types[j] if types is None else types
        sz = int(v.jobs.size[j])
        if sz >= self._failed.get(ts, 1 << 62) or sz > sum(self.type_free[t] for t in ts):
            return None
        p = v.place(self.free, j) if types is None else v.place_on(self.free, j, ts)
        if p is None:
            self._failed[ts] = sz
        return p

    def take(self, p: Placement) -> None:
        self.free[p.nodes] -= p.counts
        n = int(p.counts.sum())
        self.type_free[p.accel_type] -= n
        self.total -= n

    def give(self, p: Placement) -> None:
        self.free[p.nodes] += p.counts
        n = int(p.counts.sum())
        self.type_free[p.accel_type] += n
        self.total += n
        self._failed.clear()
