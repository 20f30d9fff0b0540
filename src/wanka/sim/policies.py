"""Scheduling policies: pure functions from a snapshot (`SchedView`) to a `Decision`.

A policy is a frozen dataclass with a `decide(view) -> Decision` method and a few declarations
the simulator honours (it maintains the indexes a policy asks for, so a decision costs little):

* `level_thresholds_gpu_s` - attained-service thresholds (accelerator-seconds); the simulator
  keeps waiting and running jobs bucketed by level (Tiresias' discretised queues) and wakes the
  scheduler when a running job crosses one.
* `round_s` - period of scheduling rounds (Gavel-style reallocation), or None.
* `strict_order` - the policy only ever starts the head of its queue (FIFO), so the simulator may
  skip passes in which nothing was released and the head did not change.

Policies never mutate the view; every placement is planned on a local copy of the free counts.
Registered names: fifo, fifo-backfill (EASY), sjf (oracle), tiresias (discretised 2D-LAS),
gavel (heterogeneity-aware max-min fairness), quota (per-tenant quotas with borrowing and reclaim).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from wanka.errors import ConfigError
from wanka.sim.jobs import KIND_CODES, JobKind, JobTable
from wanka.sim.placement import Placement, Topology

__all__ = [
    "POLICIES",
    "Decision",
    "Fifo",
    "FifoBackfill",
    "Gavel",
    "Policy",
    "PolicyName",
    "Quota",
    "SchedView",
    "ShortestJob",
    "Start",
    "Tiresias",
    "get_policy",
]

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
    job_types: Sequence[tuple[int, ...]]
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


class Policy(Protocol):
    name: str
    level_thresholds_gpu_s: tuple[float, ...]
    round_s: float | None
    strict_order: bool

    def decide(self, view: SchedView) -> Decision: ...


def _apply(free: NDArray[np.int64], p: Placement, sign: int = -1) -> None:
    free[p.nodes] += sign * p.counts


class _Fitter:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Fifo:
    """First come, first served; the head blocks everyone behind it (no backfill)."""

    name: str = "fifo"
    level_thresholds_gpu_s: tuple[float, ...] = ()
    round_s: float | None = None
    strict_order: bool = True

    def decide(self, view: SchedView) -> Decision:
        free = view.free.copy()
        starts = []
        for j in view.waiting:
            p = view.place(free, j)
            if p is None:
                break
            _apply(free, p)
            starts.append(Start(j, p))
        return Decision(start=tuple(starts))


@dataclass(frozen=True, slots=True, kw_only=True)
class FifoBackfill:
    """FIFO with EASY backfill: later jobs may jump the blocked head if they do not delay it.

    The head's reservation (shadow time) uses the running jobs' true end times (oracle run-time
    estimates; real EASY uses user estimates, which are worse).
    """

    name: str = "fifo-backfill"
    level_thresholds_gpu_s: tuple[float, ...] = ()
    round_s: float | None = None
    strict_order: bool = False
    window: int = SCAN_WINDOW

    def decide(self, view: SchedView) -> Decision:
        fit = _Fitter(view)
        starts: list[Start] = []
        it = iter(view.waiting)
        head = -1
        for j in it:
            p = fit.place(j)
            if p is None:
                head = j
                break
            fit.take(p)
            starts.append(Start(j, p))
        if head < 0 or fit.nothing_fits():
            return Decision(start=tuple(starts))
        size_h = int(view.jobs.size[head])
        types = view.job_types[head]
        shadow: float | None = None  # the head's reservation, computed on first need
        extra = 0
        scanned = 0
        head_types = set(types)
        size = view.jobs.size
        for j in it:
            if scanned >= self.window or fit.nothing_fits():
                break
            scanned += 1
            sz = int(size[j])
            jt = view.job_types[j]
            if sz > sum(fit.type_free[t] for t in jt):
                continue
            if shadow is None:
                shadow, extra = self._reservation(view, fit, head, size_h, types)
            # Reject by counts before placing: a job that would run past the reservation on
            # the head's accelerators may only use the spare ones.
            inside = head_types.issuperset(jt)
            run_s = float(view.remaining_work_s[j]) / max(view.job_speed(j, jt[0]), 1e-9)
            late = view.now_s + run_s > shadow
            if late and inside and sz > extra:
                continue
            p = fit.place(j)
            if p is None:
                continue
            if late and p.accel_type in head_types:
                if sz > extra:
                    continue
                extra -= sz
            fit.take(p)
            starts.append(Start(j, p))
        return Decision(start=tuple(starts))

    @staticmethod
    def _reservation(
        view: SchedView, fit: _Fitter, head: int, size_h: int, types: tuple[int, ...]
    ) -> tuple[float, int]:
        """(shadow time, spare accelerators then) for the blocked head, by counts."""
        avail = sum(fit.type_free[t] for t in types)
        running = sorted(
            (float(view.expected_end_s[r]), int(view.jobs.size[r]))
            for r, p in view.running.items()
            if p.accel_type in types
        )
        shadow, extra = view.now_s, avail - size_h
        for end, sz in running:
            if avail >= size_h:
                break
            avail += sz
            shadow, extra = end, avail - size_h
        if avail < size_h:  # nodes down: no reservation possible, backfill freely
            return float("inf"), 0
        return shadow, extra


@dataclass(frozen=True, slots=True, kw_only=True)
class ShortestJob:
    """Shortest job first, oracle run times (non-preemptive; skips jobs that do not fit)."""

    name: str = "sjf"
    level_thresholds_gpu_s: tuple[float, ...] = ()
    round_s: float | None = None
    strict_order: bool = False
    window: int = SCAN_WINDOW

    def decide(self, view: SchedView) -> Decision:
        if not view.waiting or not view.free.any():
            return Decision()
        ids = np.fromiter(view.waiting, dtype=np.int64, count=len(view.waiting))
        key = view.remaining_work_s[ids] * view.jobs.size[ids]  # GPU-seconds: shortest first
        if ids.shape[0] > self.window:
            part = np.argpartition(key, self.window)[: self.window]
            ids, key = ids[part], key[part]
        order = ids[np.lexsort((ids, key))]
        fit = _Fitter(view)
        starts = []
        for j in order.tolist():
            p = fit.place(j)
            if p is not None:
                fit.take(p)
                starts.append(Start(j, p))
            elif fit.nothing_fits():
                break
        return Decision(start=tuple(starts))


def _victims(view: SchedView, below_level: int) -> list[int]:
    """Preemptible running jobs of levels strictly lower in priority, least important first."""
    out = []
    for lvl in range(len(view.levels_running) - 1, below_level, -1):
        out.extend(j for j in reversed(list(view.levels_running[lvl])) if view.preemptible(j))
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Tiresias:
    """Tiresias discretised 2D-LAS (Gu et al., NSDI '19), without job-size knowledge.

    Jobs sit in priority queues by attained service (accelerators x seconds run so far), queue 0
    for the least served; `level_thresholds_gpu_s` are the queue boundaries. Higher queues go
    first; within a queue running jobs keep their accelerators and waiting jobs go in the order
    they entered the queue. A waiting job that does not fit preempts running jobs of lower queues
    (newest first) when that makes it fit; preempted jobs pay the checkpoint-restore cost when
    they restart.
    """

    name: str = "tiresias"
    level_thresholds_gpu_s: tuple[float, ...] = (3600.0, 36000.0)
    round_s: float | None = None
    strict_order: bool = False
    window: int = SCAN_WINDOW

    def decide(self, view: SchedView) -> Decision:
        if not view.waiting:
            return Decision()
        fit = _Fitter(view)
        starts: list[Start] = []
        preempt: list[int] = []
        lowest_running = max((lvl for lvl, r in enumerate(view.levels_running) if r), default=-1)
        size = view.jobs.size
        for lvl, queue in enumerate(view.levels_waiting):
            if not queue:
                continue
            victims: list[int] | None = None if lvl < lowest_running else []
            victim_free: dict[int, int] = {}
            failed_v: dict[tuple[int, ...], int] = {}  # smallest size that failed with victims
            if victims == [] and fit.nothing_fits():
                break
            misses = 0
            for j in queue:
                p = fit.place(j)
                if p is None and victims != []:
                    if victims is None:  # built once per level, only when needed
                        victims = [v for v in _victims(view, lvl) if v not in preempt]
                        for v in victims:
                            t = view.running[v].accel_type
                            victim_free[t] = victim_free.get(t, 0) + int(size[v])
                    types = view.job_types[j]
                    sz = int(size[j])
                    if (
                        victims
                        and sz < failed_v.get(types, 1 << 62)
                        and sz <= sum(fit.type_free[t] + victim_free.get(t, 0) for t in types)
                    ):
                        trial = fit.free.copy()
                        used: list[int] = []
                        for v in victims:
                            pv = view.running[v]
                            if pv.accel_type not in types:
                                continue
                            _apply(trial, pv, +1)
                            used.append(v)
                            p = view.place(trial, j)
                            if p is not None:
                                break
                        if p is not None:
                            for v in used:
                                fit.give(view.running[v])
                                victim_free[view.running[v].accel_type] -= int(size[v])
                            preempt.extend(used)
                            gone = set(used)
                            victims = [v for v in victims if v not in gone]
                            failed_v.clear()
                        else:
                            failed_v[types] = sz
                if p is None:
                    misses += 1
                    if misses > self.window or (not victims and fit.nothing_fits()):
                        break
                    continue
                fit.take(p)
                starts.append(Start(j, p))
        return Decision(preempt=tuple(preempt), start=tuple(starts))


@dataclass(frozen=True, slots=True, kw_only=True)
class Gavel:
    """Gavel-style heterogeneity-aware max-min fairness (Narayanan et al., OSDI '20), greedy.

    Every `round_s` the jobs are ranked by the normalised service they have received per second
    in the system (least first; the max-min objective of Gavel's LAS policy), and each, in turn,
    gets the accelerator type where its throughput relative to its best type is highest among
    the types with room. Running jobs that lose their place at a round are preempted. Between
    rounds, free accelerators are filled in the same order without preemption. This greedy
    replaces Gavel's LP over the allocation matrix (stated simplification).
    """

    name: str = "gavel"
    level_thresholds_gpu_s: tuple[float, ...] = ()
    round_s: float | None = 360.0
    strict_order: bool = False
    window: int = SCAN_WINDOW

    def _rank(self, view: SchedView, ids: list[int]) -> list[int]:
        a = np.asarray(ids, np.int64)
        age = np.maximum(view.now_s - view.jobs.arrival_s[a], 1.0)
        served = view.service_norm_s[a].copy()
        for k, j in enumerate(ids):
            p = view.running.get(j)
            if p is not None:
                served[k] += (view.now_s - view.run_start_s[j]) * view.job_speed(j, p.accel_type)
        return a[np.lexsort((a, served / age))].tolist()

    def _types_by_advantage(self, view: SchedView, j: int) -> tuple[int, ...]:
        types = view.job_types[j]
        if len(types) == 1:
            return types
        sp = [view.job_speed(j, t) for t in types]
        return tuple(t for _, t in sorted(zip(sp, types), key=lambda x: (-x[0], x[1])))

    def decide(self, view: SchedView) -> Decision:
        if not view.waiting:
            return Decision()
        waiting = list(view.waiting)[: 4 * self.window]
        if not view.round_tick:
            free = view.free.copy()
            starts = []
            for j in self._rank(view, waiting):
                if not free.any():
                    break
                p = view.place_on(free, j, self._types_by_advantage(view, j))
                if p is not None:
                    _apply(free, p)
                    starts.append(Start(j, p))
            return Decision(start=tuple(starts))
        # A round: rank everyone, fill capacity per type by count, preempt who lost its place.
        cands = waiting + [j for j in view.running]
        budget = view.topo.cluster.type_capacity().astype(np.int64)
        for t, nodes in enumerate(view.topo.type_nodes):  # failed nodes have no capacity
            budget[t] = int(view.free[nodes].sum()) + sum(
                int(view.jobs.size[r]) for r, p in view.running.items() if p.accel_type == t
            )
        keep: set[int] = set()
        want: list[tuple[int, tuple[int, ...]]] = []
        for j in self._rank(view, cands):
            sz = int(view.jobs.size[j])
            p = view.running.get(j)
            if p is not None:
                if budget[p.accel_type] >= sz or not view.preemptible(j):
                    budget[p.accel_type] -= sz
                    keep.add(j)
                continue
            types = tuple(t for t in self._types_by_advantage(view, j) if budget[t] >= sz)
            if types:
                budget[types[0]] -= sz
                want.append((j, types))
        preempt = tuple(j for j in view.running if j not in keep)
        free = view.free.copy()
        for j in preempt:
            _apply(free, view.running[j], +1)
        starts = []
        for j, types in want:
            p = view.place_on(free, j, types)
            if p is not None:
                _apply(free, p)
                starts.append(Start(j, p))
        return Decision(preempt=preempt, start=tuple(starts))


@dataclass(frozen=True, slots=True, kw_only=True)
class Quota:
    """Per-tenant quotas with borrowing and reclaim (a one-level Kueue cohort / Volcano queue).

    Each tenant owns a nominal quota (accelerators; from the cluster file, else an equal share).
    1. Jobs whose tenant stays within quota start in arrival order; if one does not fit, running
       jobs of tenants above their quota (borrowers) are preempted, newest first, to reclaim it.
    2. Idle accelerators are then lent: remaining jobs start in arrival order even above quota.
    """

    name: str = "quota"
    level_thresholds_gpu_s: tuple[float, ...] = ()
    round_s: float | None = None
    strict_order: bool = False
    window: int = SCAN_WINDOW

    def decide(self, view: SchedView) -> Decision:
        if not view.waiting:
            return Decision()
        fit = _Fitter(view)
        used = view.tenant_used.copy()
        quota = view.tenant_quota
        size, tenant = view.jobs.size, view.jobs.tenant
        starts: list[Start] = []
        started: set[int] = set()
        preempt: list[int] = []
        borrowers: list[int] | None = None  # running jobs of over-quota tenants, newest first
        failed_reclaim: dict[tuple[int, tuple[int, ...]], int] = {}
        scanned = seen = 0
        for j in view.waiting:
            seen += 1
            if scanned > self.window or seen > 16 * self.window:
                break
            t, sz = int(tenant[j]), int(size[j])
            if used[t] + sz > quota[t]:
                continue
            scanned += 1
            p = fit.place(j)
            if p is None:
                types = view.job_types[j]
                if sz >= failed_reclaim.get((t, types), 1 << 62):
                    continue
                if borrowers is None:
                    borrowers = [
                        r
                        for r in reversed(view.running)
                        if view.preemptible(r) and used[int(tenant[r])] > quota[int(tenant[r])]
                    ]
                trial, tused, taken = fit.free.copy(), used.copy(), []
                for r in borrowers:
                    rt = int(tenant[r])
                    if rt == t or tused[rt] <= quota[rt] or r in preempt:
                        continue
                    if view.running[r].accel_type not in types:
                        continue
                    _apply(trial, view.running[r], +1)
                    tused[rt] -= int(size[r])
                    taken.append(r)
                    p = view.place(trial, j)
                    if p is not None:
                        break
                if p is None:
                    failed_reclaim[(t, types)] = sz
                    continue
                for r in taken:
                    fit.give(view.running[r])
                used = tused
                preempt.extend(taken)
                failed_reclaim.clear()
            fit.take(p)
            used[t] += sz
            starts.append(Start(j, p))
            started.add(j)
        scanned = 0
        for j in view.waiting:
            if scanned > self.window or fit.nothing_fits():
                break
            if j in started:
                continue
            scanned += 1
            p = fit.place(j)
            if p is not None:
                fit.take(p)
                used[int(tenant[j])] += int(size[j])
                starts.append(Start(j, p))
        return Decision(preempt=tuple(preempt), start=tuple(starts))


class PolicyName(StrEnum):
    FIFO = "fifo"
    FIFO_BACKFILL = "fifo-backfill"
    SJF = "sjf"
    TIRESIAS = "tiresias"
    GAVEL = "gavel"
    QUOTA = "quota"


POLICIES: dict[PolicyName, Callable[[], Policy]] = {
    PolicyName.FIFO: Fifo,
    PolicyName.FIFO_BACKFILL: FifoBackfill,
    PolicyName.SJF: ShortestJob,
    PolicyName.TIRESIAS: Tiresias,
    PolicyName.GAVEL: Gavel,
    PolicyName.QUOTA: Quota,
}
_ALIASES = {
    "backfill": "fifo-backfill",
    "easy": "fifo-backfill",
    "shortest-job": "sjf",
    "las": "tiresias",
    "2d-las": "tiresias",
    "max-min": "gavel",
    "kueue": "quota",
}


def get_policy(name: str) -> Policy:
    """A policy instance by registered name (or alias)."""
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    try:
        return POLICIES[PolicyName(key)]()
    except ValueError:
        raise ConfigError(
            f"unknown policy {name!r}; choose from {sorted(p.value for p in PolicyName)}"
        ) from None
