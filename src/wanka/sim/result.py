"""The typed result of one simulation run; `to_dict` is the `wanka simulate --json` contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wanka.sim.jobs import JobTable

__all__ = ["DONE", "FUTURE", "REJECTED", "RUNNING", "WAITING", "SimResult", "tenant_rows"]

FUTURE, WAITING, RUNNING, DONE, REJECTED = 0, 1, 2, 3, 4
"""Job states (int8 codes of `SimResult.state`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimResult:
    """Everything a run measured; `summary` is the JSON contract of `wanka simulate --json`."""

    summary: dict[str, Any]
    arrival_s: NDArray[np.float64]
    first_start_s: NDArray[np.float64]
    finish_s: NDArray[np.float64]
    size: NDArray[np.int64]
    tenant: NDArray[np.int32]
    state: NDArray[np.int8]
    reject_reasons: dict[str, int]
    series_t_s: NDArray[np.float64]
    series_busy: NDArray[np.float64]
    series_queue: NDArray[np.float64]
    series_frag: NDArray[np.float64]
    held_s: NDArray[np.float64]
    """Seconds each job held its accelerators (restores included)."""
    busy_gpu_s: float
    """Integral of busy accelerators over time (accelerator-seconds handed out)."""
    tenants: list[dict[str, Any]] = field(default_factory=list)
    names: tuple[str, ...] = ()
    """Job names, in trace order."""
    tenant_names: tuple[str, ...] = ()
    starts: NDArray[np.int32] | None = None
    """Times each job was started; restarts after a preemption or a node failure count."""
    placement: tuple[str, ...] = ()
    """Each job's last placement, `n<node>:<accelerators>` joined by `+` (empty if never started)."""

    @property
    def jct_s(self) -> NDArray[np.float64]:
        done = self.state == DONE
        return self.finish_s[done] - self.arrival_s[done]

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary (the vocabulary of docs/json.md)."""
        return self.summary

    def job_rows(self) -> list[dict[str, Any]]:
        """One row per job: submit, start, end (seconds), accelerators, placement, preemptions, state."""
        state_name = {FUTURE: "future", WAITING: "waiting", RUNNING: "running", DONE: "done"}
        state_name[REJECTED] = "rejected"
        rows = []
        for j in range(len(self.arrival_s)):
            t = int(self.tenant[j])
            started = int(self.starts[j]) if self.starts is not None else 0
            rows.append(
                {
                    "job": self.names[j] if self.names else str(j),
                    "tenant": self.tenant_names[t] if t < len(self.tenant_names) else str(t),
                    "submit_s": float(self.arrival_s[j]),
                    "start_s": _opt(self.first_start_s[j]),
                    "end_s": _opt(self.finish_s[j]),
                    "accelerators": int(self.size[j]),
                    "placement": self.placement[j] if self.placement else "",
                    "preemptions": max(started - 1, 0),
                    "state": state_name.get(int(self.state[j]), "unknown"),
                }
            )
        return rows


def _opt(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def tenant_rows(
    jobs: JobTable,
    *,
    done: NDArray[np.bool_],
    finish_s: NDArray[np.float64],
    tenant_gpu_s: NDArray[np.float64],
    tenant_quota: NDArray[np.int64],
    accelerators: int,
) -> list[dict[str, Any]]:
    """Per-tenant jobs, share of accelerator time, JCT and finish-time fairness (Themis rho).

    rho = JCT / isolated time, the isolated time being the job's work on a 1/N share of the
    cluster (N tenants), stretched when the job is larger than that share.
    """
    n_ten = len(jobs.tenants)
    if not n_ten:
        return []
    fair = accelerators / max(n_ten, 1)
    jct = finish_s[done] - jobs.arrival_s[done]
    iso = jobs.work_s * np.maximum(1.0, jobs.size / fair)
    ftf = np.full(len(jobs), np.nan)
    ftf[done] = jct / np.maximum(iso[done], 1e-9)
    total_gpu_s = float(tenant_gpu_s.sum()) or 1.0
    rows = []
    for t, name in enumerate(jobs.tenants):
        mine = jobs.tenant == t
        md = mine & done
        rows.append(
            {
                "tenant": name,
                "jobs": int(mine.sum()),
                "completed": int(md.sum()),
                "quota": int(tenant_quota[t]) if t < len(tenant_quota) else None,
                "share": float(tenant_gpu_s[t]) / total_gpu_s,
                "avg_jct_s": float(np.mean(finish_s[md] - jobs.arrival_s[md]))
                if md.any()
                else None,
                "avg_finish_time_fairness": float(np.mean(ftf[md])) if md.any() else None,
            }
        )
    return rows
