"""The metrics store of a run: time integrals, sampled series, counters, fragmentation.

The simulator calls `advance(t, ...)` before the clock moves to `t` (so every integral is a
left Riemann sum of a piecewise-constant quantity, exact for the event-driven state) and bumps
the counters as things happen; `summary` turns the store and the final job state into the
`wanka simulate --json` vocabulary.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from wanka.sim.cluster import ClusterSpec
from wanka.sim.jobs import JobTable

__all__ = ["MetricStore"]


class MetricStore:
    """Integrals over time, sampled series and event counters of one run."""

    def __init__(self, cluster: ClusterSpec, jobs: JobTable, samples: int) -> None:
        self.cluster = cluster
        n = len(jobs)
        self.n_jobs = n
        self.n_failures = 0
        self.n_preemptions = 0
        self.lost_gpu_s = 0.0
        self.busy_integral = 0.0
        """Accelerator-seconds held by jobs."""
        self.queue_integral = 0.0
        self.frag_integral = 0.0
        self.free_integral = 0.0
        self.frag_integral_arrivals = 0.0
        self.frag_now = 0.0
        self.t_first = float(jobs.arrival_s[0]) if n else 0.0
        self.t_last_arrival = float(jobs.arrival_s[-1]) if n else 0.0
        span = (self.t_last_arrival - self.t_first) if n else 0.0
        span += float(np.median(jobs.work_s)) if n else 0.0
        self._sample_dt = max(span / max(samples, 1), 1.0)
        self._next_sample = self.t_first
        self.series: list[tuple[float, int, int, float]] = []
        dmax = cluster.max_domain_accels()
        capped = np.minimum(jobs.size, dmax) if n else np.ones(1, np.int64)
        counts = np.bincount(capped, minlength=dmax + 2).astype(np.float64)
        self.size_tail = 1.0 - np.cumsum(counts) / counts.sum()
        """size_tail[k] = P(job size > k), k = 0..dmax+1."""

    def advance(
        self,
        now: float,
        t: float,
        *,
        busy: int,
        queued: int,
        arriving: bool,
        free: NDArray[np.int64],
    ) -> None:
        """Integrate from `now` to `t` and take a sample when one is due."""
        dt = t - now
        self.busy_integral += busy * dt
        self.queue_integral += queued * dt
        self.frag_integral += self.frag_now * dt
        if arriving:  # still inside the trace's arrival window
            self.frag_integral_arrivals += self.frag_now * dt
        self.free_integral += (self.cluster.total_accels - busy) * dt
        if t >= self._next_sample:
            self.frag_now = self.fragmentation(free)
            self.series.append((t, busy, queued, self.frag_now))
            self._next_sample = t + self._sample_dt

    def fragmentation(self, free: NDArray[np.int64]) -> float:
        """Free accelerators a job drawn from the workload could not use without a split.

        FGD-style (Weng et al., ATC '23): with P(size > k) the share of the trace's jobs asking
        for more than k accelerators (sizes capped at the largest scale-up domain), a domain with
        f free accelerators contributes f * P(size > f). Placement-independent, so packed and
        first-fit runs are measured by the same yardstick.
        """
        dfree = np.bincount(self.cluster.node_domain, weights=free).astype(np.int64)
        tail = self.size_tail[np.minimum(dfree, self.size_tail.shape[0] - 1)]
        return float((dfree * tail).sum())

    def series_arrays(self) -> NDArray[np.float64]:
        """Samples as an (n, 4) array: time, busy, queue length, fragmented accelerators."""
        return np.asarray(self.series, np.float64).reshape(-1, 4)

    def summary(
        self,
        *,
        jobs: JobTable,
        done: NDArray[np.bool_],
        rejected: int,
        finish_s: NDArray[np.float64],
        first_start_s: NDArray[np.float64],
        held_s: NDArray[np.float64],
        end_s: float,
    ) -> dict[str, Any]:
        """Job-time statistics and cluster-time integrals (the first keys of the JSON)."""
        jct = finish_s[done] - jobs.arrival_s[done]
        # Queueing delay = time in the system not holding accelerators (first wait + requeues).
        queue = jct - held_s[done]
        first_wait = first_start_s[done] - jobs.arrival_s[done]
        any_done = bool(done.any())
        span = self.span_s(end_s)
        cap = self.cluster.total_accels
        busy = float(self.busy_integral)
        return {
            "jobs": self.n_jobs,
            "completed": int(done.sum()),
            "rejected": rejected,
            "avg_jct_s": _stat(jct, np.mean),
            "median_jct_s": _stat(jct, np.median),
            "p99_jct_s": _stat(jct, lambda a: np.percentile(a, 99)),
            "avg_queue_s": _stat(queue, np.mean),
            "median_queue_s": _stat(queue, np.median),
            "p99_queue_s": _stat(queue, lambda a: np.percentile(a, 99)),
            "avg_first_start_wait_s": _stat(first_wait, np.mean),
            "makespan_s": span if any_done else 0.0,
            "utilization": busy / (cap * span) if any_done else 0.0,
        }

    def span_s(self, end_s: float) -> float:
        """Seconds from the first arrival to `end_s` (never 0)."""
        return max(end_s - self.t_first, 1e-9)

    def cluster_summary(self, span: float) -> dict[str, Any]:
        """Fragmentation, queue length and fault figures over the run."""
        busy = float(self.busy_integral)
        arrive_span = max(self.t_last_arrival - self.t_first, 1e-9)
        return {
            "avg_fragmented_accels": float(self.frag_integral / span),
            "avg_fragmented_accels_while_arriving": float(
                self.frag_integral_arrivals / arrive_span if self.n_jobs else 0.0
            ),
            "fragmentation": float(
                self.frag_integral / self.free_integral if self.free_integral > 0 else 0.0
            ),
            "avg_queue_len": float(self.queue_integral / span),
            "preemptions": self.n_preemptions,
            "failures": self.n_failures,
            "lost_gpu_s": self.lost_gpu_s,
            "goodput_lost_frac": self.lost_gpu_s / busy if busy > 0 else 0.0,
        }


def _stat(a: NDArray[np.float64], f: Any) -> float | None:
    return float(f(a)) if a.shape[0] else None
