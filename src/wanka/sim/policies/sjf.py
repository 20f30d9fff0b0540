"""Shortest job first (oracle run times)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wanka.sim.policies.base import SCAN_WINDOW, Decision, Fitter, SchedView, Start


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
        fit = Fitter(view)
        starts = []
        for j in order.tolist():
            p = fit.place(j)
            if p is not None:
                fit.take(p)
                starts.append(Start(j, p))
            elif fit.nothing_fits():
                break
        return Decision(start=tuple(starts))
