"""First come, first served."""

from __future__ import annotations

from dataclasses import dataclass

from wanka.sim.policies.base import Decision, SchedView, Start, apply


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
            apply(free, p)
            starts.append(Start(j, p))
        return Decision(start=tuple(starts))
