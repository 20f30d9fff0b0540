"""FIFO with EASY backfill."""

from __future__ import annotations

from dataclasses import dataclass

from wanka.sim.policies.base import SCAN_WINDOW, Decision, Fitter, SchedView, Start


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
        fit = Fitter(view)
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
        view: SchedView, fit: Fitter, head: int, size_h: int, types: tuple[int, ...]
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
