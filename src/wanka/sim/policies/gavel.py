"""Gavel-style heterogeneity-aware max-min fairness (Narayanan et al., OSDI '20)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wanka.sim.policies.base import SCAN_WINDOW, Decision, SchedView, Start, apply


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
                    apply(free, p)
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
            apply(free, view.running[j], +1)
        starts = []
        for j, types in want:
            p = view.place_on(free, j, types)
            if p is not None:
                apply(free, p)
                starts.append(Start(j, p))
        return Decision(preempt=preempt, start=tuple(starts))
