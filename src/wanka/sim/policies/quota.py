"""Per-tenant quotas with borrowing and reclaim."""

from __future__ import annotations

from dataclasses import dataclass

from wanka.sim.policies.base import SCAN_WINDOW, Decision, Fitter, SchedView, Start, apply


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
        fit = Fitter(view)
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
                        for r in list(view.running)[::-1]
                        if view.preemptible(r) and used[int(tenant[r])] > quota[int(tenant[r])]
                    ]
                trial, tused, taken = fit.free.copy(), used.copy(), []
                for r in borrowers:
                    rt = int(tenant[r])
                    if rt == t or tused[rt] <= quota[rt] or r in preempt:
                        continue
                    if view.running[r].accel_type not in types:
                        continue
                    apply(trial, view.running[r], +1)
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
