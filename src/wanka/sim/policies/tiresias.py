"""Tiresias discretised 2D-LAS (Gu et al., NSDI '19)."""

from __future__ import annotations

from dataclasses import dataclass

from wanka.sim.policies.base import SCAN_WINDOW, Decision, Fitter, SchedView, Start, apply


def _victims(view: SchedView, below_level: int) -> list[int]:
    """Preemptible running jobs of levels strictly lower in priority, least important first."""
    out: list[int] = []
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
        fit = Fitter(view)
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
                            apply(trial, pv, +1)
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
