"""The discrete-event simulator: one heap of (time_s, priority, seq, event), one seeded RNG.

The loop (`Simulator.run`) pops the earliest event, advances the clock (integrating busy
accelerators for utilisation), and calls the handler for its priority; handlers push follow-up
events. Equal times are ordered by priority (finishes before failures before arrivals before
scheduling passes) and then by a per-simulator `itertools.count`, so a run is a pure function of
(cluster, trace, policy, config, seed).

Events: FINISH(job, epoch), FAIL(node), REPAIR(node), ARRIVAL(job), LEVEL(job, epoch) (a running
job crosses a policy's attained-service threshold), ROUND (round-based policies), SCHEDULE (one
coalesced scheduling pass per timestamp). A job's `epoch` increments whenever it stops, so events
of an earlier run of the job are recognised as stale and dropped (lazy deletion).

Work model: a job needs `work_s` seconds at speed 1. Started on placement P it runs at
`speed = type_speed(job, type) * placement_speed(spread)`; after a preemption or failure it first
spends `preempt_cost_s` restoring its checkpoint. Preemption checkpoints (no work lost); a node
failure loses the work since the job's last periodic checkpoint.
"""

from __future__ import annotations

import bisect
import itertools
import math
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from heapq import heappop, heappush
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wanka.errors import ConfigError, SimulationError
from wanka.sim.cluster import ClusterSpec
from wanka.sim.jobs import JobTable, Trace
from wanka.sim.placement import Placement, Topology, get_placement
from wanka.sim.policies import Decision, Policy, SchedView, get_policy
from wanka.sim.speed import DEFAULT_GRAD_BYTES, DEFAULT_STEP_S, gavel_throughputs, placement_speed

__all__ = ["FaultModel", "SimConfig", "SimResult", "Simulator", "simulate"]

# Event priorities (lower runs first at equal times).
P_FINISH, P_FAIL, P_REPAIR, P_ARRIVAL, P_LEVEL, P_ROUND, P_SCHEDULE = range(7)
WAITING, RUNNING, DONE, REJECTED, FUTURE = 1, 2, 3, 4, 0


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultModel:
    """Node failures: exponential inter-failure times with a per-node MTBF."""

    node_mtbf_s: float
    """Mean time between failures of one node, seconds."""
    repair_s: float = 3600.0
    """Time a failed node stays down, seconds."""
    checkpoint_interval_s: float = 1800.0
    """Jobs checkpoint every this many seconds of progress; a failure loses the rest."""

    def __post_init__(self) -> None:
        if self.node_mtbf_s <= 0 or self.repair_s < 0 or self.checkpoint_interval_s <= 0:
            raise ConfigError(
                f"fault model needs node_mtbf_s > 0 ({self.node_mtbf_s}), repair_s "
                f">= 0 ({self.repair_s}), checkpoint_interval_s > 0 "
                f"({self.checkpoint_interval_s})"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class SimConfig:
    """Run options that are not the cluster, the trace or the policy."""

    placement: str = "packed"
    """`packed` (topology-aware) or `first-fit`."""
    seed: int = 0
    preempt_cost_s: float = 30.0
    """Checkpoint + restore time paid by a job restarted after preemption or failure, seconds."""
    faults: FaultModel | None = None
    samples: int = 2000
    """Number of time-series samples (utilisation, queue length, fragmentation)."""


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

    @property
    def jct_s(self) -> NDArray[np.float64]:
        done = self.state == DONE
        return self.finish_s[done] - self.arrival_s[done]


class _JobTypes:
    """job -> tuple of cluster accelerator types it may use (by the job's type code)."""

    def __init__(self, codes: NDArray[np.int32], per_code: dict[int, tuple[int, ...]]) -> None:
        self.codes, self.per_code = codes, per_code

    def __getitem__(self, j: int) -> tuple[int, ...]:
        return self.per_code[int(self.codes[j])]

    def __len__(self) -> int:
        return int(self.codes.shape[0])


_GAVEL_ALIASES = {  # Pollux applications -> the closest Gavel job type (for heterogeneity only)
    "cifar10": "ResNet-18 (batch size 128)",
    "imagenet": "ResNet-50 (batch size 64)",
    "bert": "Transformer (batch size 64)",
    "deepspeech2": "LM (batch size 20)",
    "yolov3": "CycleGAN",
    "ncf": "Recommendation (batch size 2048)",
}


def _gavel_worker(type_name: str) -> str | None:
    n = type_name.lower()
    for w in ("k80", "p100", "v100"):
        if n.startswith(w):
            return w
    return None


class Simulator:
    """One simulation run (stateful; use once)."""

    def __init__(
        self,
        *,
        cluster: ClusterSpec,
        jobs: JobTable,
        policy: Policy | str,
        config: SimConfig | None = None,
    ) -> None:
        self.cluster = cluster
        self.jobs = jobs
        self.policy = get_policy(policy) if isinstance(policy, str) else policy
        self.config = config or SimConfig()
        self.topo = Topology(cluster)
        self._place_fn = get_placement(self.config.placement)
        self.rng = np.random.default_rng(self.config.seed)
        n = len(jobs)
        self.n = n
        # ---- event kernel --------------------------------------------------------------------
        self._heap: list[tuple[float, int, int, Any]] = []
        self._seq = itertools.count()
        self.now = 0.0
        self.n_events = 0
        self._pass_pending = False
        # ---- cluster state -------------------------------------------------------------------
        self.free = cluster.node_accels.astype(np.int64).copy()
        self.up = np.ones(cluster.n_nodes, bool)
        self.down_nodes = 0
        self.busy = 0
        # ---- job state -----------------------------------------------------------------------
        self.state = np.zeros(n, np.int8)
        self.remaining = jobs.work_s.astype(np.float64).copy()
        self.run_start = np.zeros(n)
        self.restore_end = np.zeros(n)
        self.speed = np.ones(n)
        self.expected_end = np.full(n, np.inf)
        self.attained = np.zeros(n)
        self.service_norm = np.zeros(n)
        self.epoch = np.zeros(n, np.int64)
        self.first_start = np.full(n, np.nan)
        self.finish = np.full(n, np.nan)
        self.n_starts = np.zeros(n, np.int32)
        self.held_s = np.zeros(n)
        # OrderedDict, not dict: popping from the front of a plain dict leaves dummies that make
        # next(iter(d)) O(deleted entries), quadratic for a long FIFO queue.
        self.waiting: OrderedDict[int, None] = OrderedDict()
        self.running: dict[int, Placement] = {}
        self.reject_reasons: Counter[str] = Counter()
        self.reject_of: dict[int, str] = {}
        self._open = n
        self._next_arrival = 0
        # ---- policy indexes ------------------------------------------------------------------
        self.thresholds = tuple(self.policy.level_thresholds_gpu_s)
        nl = len(self.thresholds) + 1
        self.lvl_wait: list[OrderedDict[int, None]] = [OrderedDict() for _ in range(nl)]
        self.lvl_run: list[OrderedDict[int, None]] = [OrderedDict() for _ in range(nl)]
        self.level = np.zeros(n, np.int8)
        self._blocked_head = -1
        self._released = True
        self._touched: dict[int, None] = {}  # jobs started or stopped at the current instant
        # ---- tenants -------------------------------------------------------------------------
        nt = max(len(jobs.tenants), 1)
        self.tenant_used = np.zeros(nt, np.int64)
        self.tenant_gpu_s = np.zeros(nt)
        self.tenant_quota = self._quotas()
        # ---- accelerator types per job --------------------------------------------------------
        all_types = tuple(range(len(cluster.accel_types)))
        per_code: dict[int, tuple[int, ...]] = {-1: all_types}
        lower = [t.lower() for t in cluster.accel_types]
        for c, name in enumerate(jobs.accel_types):
            want = [w.strip().lower() for w in name.split("|") if w.strip()]
            per_code[c] = tuple(i for i, t in enumerate(lower) if t in want)
        self.job_types = _JobTypes(jobs.accel_type, per_code)
        self._type_cap = self.topo.type_capacity
        self._speed_cache: dict[tuple[int, int, int], float] = {}
        self._best_speed_cache: dict[tuple[int, int], float] = {}
        self._gavel_workers = [_gavel_worker(t) for t in cluster.accel_types]
        # ---- faults and metrics ----------------------------------------------------------------
        self.n_failures = 0
        self.n_preemptions = 0
        self.lost_gpu_s = 0.0
        self.busy_integral = 0.0
        self.queue_integral = 0.0
        self.frag_integral = 0.0
        self.free_integral = 0.0
        self.frag_integral_arrivals = 0.0
        self._frag_now = 0.0
        self.t_first = float(jobs.arrival_s[0]) if n else 0.0
        span = (float(jobs.arrival_s[-1]) - self.t_first) if n else 0.0
        span += float(np.median(jobs.work_s)) if n else 0.0
        self._sample_dt = max(span / max(self.config.samples, 1), 1.0)
        self._next_sample = self.t_first
        self._series: list[tuple[float, int, int, float]] = []
        dmax = self.cluster.max_domain_accels()
        capped = np.minimum(jobs.size, dmax) if n else np.ones(1, np.int64)
        counts = np.bincount(capped, minlength=dmax + 2).astype(np.float64)
        # _size_tail[k] = P(size > k), k = 0..dmax+1
        self._size_tail = 1.0 - np.cumsum(counts) / counts.sum()

    # ---- kernel ----------------------------------------------------------------------------------
    def _push(self, t: float, prio: int, ev: Any) -> None:
        heappush(self._heap, (t, prio, next(self._seq), ev))

    def _request_pass(self) -> None:
        if not self._pass_pending:
            self._pass_pending = True
            self._push(self.now, P_SCHEDULE, None)

    def run(self) -> SimResult:
        """Run to completion (every job completed or rejected) and return the measurements."""
        t0 = time.perf_counter()
        handlers = (
            self._on_finish,
            self._on_fail,
            self._on_repair,
            self._on_arrival,
            self._on_level,
            self._on_round,
            self._on_schedule,
        )
        if self.n:
            self._push(float(self.jobs.arrival_s[0]), P_ARRIVAL, 0)
            self.now = self.t_first
        faults = self.config.faults
        if faults is not None:
            self._push(self.now + self._next_failure_gap(), P_FAIL, None)
        if self.policy.round_s:
            self._push(self.now, P_ROUND, None)
        heap = self._heap
        limit = self._instant_event_limit()
        at_instant = 0
        while heap and self._open > 0:
            t, prio, _, ev = heappop(heap)
            if t > self.now:
                self._advance(t)
                at_instant = 0
                self._touched.clear()
            at_instant += 1
            if at_instant > limit:
                self._stalled(at_instant)
            handlers[prio](ev)
            self.n_events += 1
        return self._result(time.perf_counter() - t0)

    def _instant_event_limit(self) -> int:
        """Most events one instant can hold in a run that progresses.

        At one time every event changes state: a job arrives, finishes or drops a level (at most
        `levels` times, levels never come back), a node fails or is repaired, and each of these
        requests at most one coalesced scheduling pass; round events advance time. Twice that
        count, plus slack, is a bound no progressing run reaches.
        """
        per_job = 2 + len(self.thresholds)
        return 2 * (self.n * per_job + 2 * self.cluster.n_nodes) + 64

    def _stalled(self, events: int) -> None:
        names = ", ".join(self.jobs.name[j] for j in list(self._touched)[:6]) or "none"
        raise SimulationError(
            f"policy {self.policy.name} stopped making progress at t={self.now:.1f} s "
            f"({events} events without time advancing; jobs started or preempted: {names}); "
            "report the trace, cluster and policy"
        )

    def _advance(self, t: float) -> None:
        dt = t - self.now
        self.busy_integral += self.busy * dt
        nq = len(self.waiting)
        self.queue_integral += nq * dt
        self.frag_integral += self._frag_now * dt
        if self._next_arrival < self.n:  # still inside the trace's arrival window
            self.frag_integral_arrivals += self._frag_now * dt
        self.free_integral += (self.cluster.total_accels - self.busy) * dt
        self.now = t
        if t >= self._next_sample:
            self._frag_now = self._fragmentation()
            self._series.append((t, self.busy, nq, self._frag_now))
            self._next_sample = t + self._sample_dt

    # ---- helpers ---------------------------------------------------------------------------------
    def _quotas(self) -> NDArray[np.int64]:
        names = self.jobs.tenants or ("default",)
        total = self.cluster.total_accels
        given = self.cluster.tenant_quota
        q = np.zeros(len(names), np.int64)
        rest = [i for i, t in enumerate(names) if t not in given]
        left = total - sum(given.get(t, 0) for t in names)
        for i, t in enumerate(names):
            if t in given:
                q[i] = given[t]
            else:
                q[i] = max(left // max(len(rest), 1), 0)
        return q

    def job_speed(self, j: int, t: int) -> float:
        """Speed of job j on accelerator type t relative to the reference type (type 0)."""
        m = int(self.jobs.model[j])
        if m < 0 or self._gavel_workers[t] is None:
            return float(self.cluster.type_speed[t])
        size = int(self.jobs.size[j])
        key = (m, min(size, 8), t)
        s = self._speed_cache.get(key)
        if s is None:
            s = float(self.cluster.type_speed[t])
            name = self.jobs.models[m]
            name = _GAVEL_ALIASES.get(name, name)
            ref = self._gavel_workers[0]
            table = gavel_throughputs() if ref else {}
            scale = max(k for k in (1, 2, 4, 8) if k <= max(size, 1))
            a = table.get(self._gavel_workers[t] or "", {}).get((name, scale))
            b = table.get(ref or "", {}).get((name, scale))
            if a and b:
                s = a / b
            self._speed_cache[key] = s
        return s

    def _best_speed(self, j: int) -> float:
        types = self.job_types[j]
        return max(self.job_speed(j, t) for t in types) if types else 1.0

    def _place(self, free: NDArray[np.int64], j: int) -> Placement | None:
        return self._place_fn(self.topo, free, int(self.jobs.size[j]), self.job_types[j])

    def _place_on(
        self, free: NDArray[np.int64], j: int, types: tuple[int, ...]
    ) -> Placement | None:
        return self._place_fn(self.topo, free, int(self.jobs.size[j]), types)

    def _level_of(self, attained: float) -> int:
        return bisect.bisect_right(self.thresholds, attained)

    def _level_after_stop(self, j: int) -> int:
        """A stopped job's level: never back up, only down (demotion is monotone).

        A LEVEL event demotes a job when its attained service reaches a threshold; the service
        summed at release can round to just below it. Recomputing the level from that sum would
        promote the job back, and two such jobs would preempt each other forever at one instant.
        """
        return max(int(self.level[j]), self._level_of(self.attained[j]))

    def _fragmentation(self) -> float:
        """Free accelerators a job drawn from the workload could not use without a split.

        FGD-style (Weng et al., ATC '23): with P(size > k) the share of the trace's jobs asking
        for more than k accelerators (sizes capped at the largest scale-up domain), a domain with
        f free accelerators contributes f * P(size > f). Placement-independent, so packed and
        first-fit runs are measured by the same yardstick.
        """
        dfree = np.bincount(self.cluster.node_domain, weights=self.free).astype(np.int64)
        tail = self._size_tail[np.minimum(dfree, self._size_tail.shape[0] - 1)]
        return float((dfree * tail).sum())

    # ---- state transitions -----------------------------------------------------------------------
    def _reject(self, j: int, reason: str) -> None:
        self.state[j] = REJECTED
        self.reject_reasons[reason] += 1
        self.reject_of[j] = reason
        self._open -= 1

    def _start(self, j: int, p: Placement) -> None:
        if self.state[j] != WAITING:
            raise SimulationError(f"policy started job {self.jobs.name[j]} which is not waiting")
        if (self.free[p.nodes] < p.counts).any() or int(p.counts.sum()) != int(self.jobs.size[j]):
            raise SimulationError(
                f"policy {self.policy.name} gave job {self.jobs.name[j]} "
                "accelerators that are not free or not its size"
            )
        now = self.now
        size = int(self.jobs.size[j])
        self._touched[j] = None
        self.free[p.nodes] -= p.counts
        del self.waiting[j]
        lvl = int(self.level[j])
        del self.lvl_wait[lvl][j]
        self.lvl_run[lvl][j] = None
        self.running[j] = p
        self.state[j] = RUNNING
        self.busy += size
        self.tenant_used[int(self.jobs.tenant[j])] += size
        c = self.cluster
        grad = (
            DEFAULT_GRAD_BYTES
            if self.jobs.grad_bytes is None or not math.isfinite(self.jobs.grad_bytes[j])
            else float(self.jobs.grad_bytes[j])
        )
        step = (
            DEFAULT_STEP_S
            if self.jobs.step_s is None or not math.isfinite(self.jobs.step_s[j])
            else float(self.jobs.step_s[j])
        )
        spread = placement_speed(
            size,
            p.tier,
            self.topo.ideal_tier(size, p.accel_type),
            grad,
            step,
            c.scaleup_bw_bytes_per_s,
            c.scaleout_bw_bytes_per_s,
            c.cross_leaf_oversubscription,
            c.cross_pod_oversubscription,
            c.latency_s,
            int(self.topo.type_domain_max[p.accel_type]),
            c.accel_types[p.accel_type],
        )
        sp = self.job_speed(j, p.accel_type) * spread
        restore = self.config.preempt_cost_s if self.n_starts[j] > 0 else 0.0
        self.n_starts[j] += 1
        if math.isnan(self.first_start[j]):
            self.first_start[j] = now
        self.speed[j] = sp
        self.run_start[j] = now
        self.restore_end[j] = now + restore
        end = now + restore + self.remaining[j] / sp
        self.expected_end[j] = end
        ep = int(self.epoch[j])
        self._push(end, P_FINISH, (j, ep))
        if lvl < len(self.thresholds):
            self._push(now + (self.thresholds[lvl] - self.attained[j]) / size, P_LEVEL, (j, ep))

    def _release(self, j: int) -> Placement:
        p = self.running.pop(j)
        self.free[p.nodes] += p.counts
        size = int(self.jobs.size[j])
        self.busy -= size
        t = int(self.jobs.tenant[j])
        self.tenant_used[t] -= size
        elapsed = self.now - self.run_start[j]
        self.held_s[j] += elapsed
        self.attained[j] += elapsed * size
        self.tenant_gpu_s[t] += elapsed * size
        self.service_norm[j] += elapsed * self.job_speed(j, p.accel_type) / self._best_speed(j)
        del self.lvl_run[int(self.level[j])][j]
        self.epoch[j] += 1
        self.expected_end[j] = np.inf
        self._released = True
        return p

    def _stop(self, j: int, *, failed: bool) -> None:
        """Preempt (checkpoint, no loss) or kill by failure (lose work since last checkpoint)."""
        progress_t = max(0.0, self.now - self.restore_end[j])
        if failed:
            assert self.config.faults is not None
            lost_t = progress_t % self.config.faults.checkpoint_interval_s
            progress_t -= lost_t
            self.lost_gpu_s += lost_t * int(self.jobs.size[j])
        self.remaining[j] = max(0.0, self.remaining[j] - progress_t * self.speed[j])
        self._release(j)
        lvl = self._level_after_stop(j)
        self.level[j] = lvl
        self.state[j] = WAITING
        if failed:  # a failed job goes back to the head of the queue
            self.waiting[j] = None
            self.waiting.move_to_end(j, last=False)
            self.lvl_wait[lvl][j] = None
            self.lvl_wait[lvl].move_to_end(j, last=False)
        else:
            self.waiting[j] = None
            self.lvl_wait[lvl][j] = None
            self.n_preemptions += 1

    # ---- handlers --------------------------------------------------------------------------------
    def _on_arrival(self, j: int) -> None:
        jobs = self.jobs
        if j + 1 < self.n:
            self._push(float(jobs.arrival_s[j + 1]), P_ARRIVAL, j + 1)
        self._next_arrival = j + 1
        size = int(jobs.size[j])
        types = self.job_types[j]
        if not types:
            self._reject(
                j,
                f"no accelerator of type {jobs.accel_types[int(jobs.accel_type[j])]} "
                "in the cluster",
            )
            return
        cap = max(self._type_cap[t] for t in types)
        if size > cap:
            self._reject(
                j,
                "larger than the cluster"
                if len(types) == len(self._type_cap)
                else "larger than all accelerators of its type",
            )
            return
        self.state[j] = WAITING
        self.level[j] = 0
        self.waiting[j] = None
        self.lvl_wait[0][j] = None
        self._request_pass()

    def _on_finish(self, ev: tuple[int, int]) -> None:
        j, ep = ev
        if ep != self.epoch[j] or self.state[j] != RUNNING:
            return
        self.remaining[j] = 0.0
        self._release(j)
        self.state[j] = DONE
        self.finish[j] = self.now
        self._open -= 1
        self._request_pass()

    def _on_level(self, ev: tuple[int, int]) -> None:
        j, ep = ev
        if ep != self.epoch[j] or self.state[j] != RUNNING:
            return
        lvl = int(self.level[j])
        del self.lvl_run[lvl][j]
        lvl += 1
        self.level[j] = lvl
        self.lvl_run[lvl][j] = None
        if lvl < len(self.thresholds):
            size = int(self.jobs.size[j])
            att = self.attained[j] + (self.now - self.run_start[j]) * size
            self._push(self.now + (self.thresholds[lvl] - att) / size, P_LEVEL, (j, ep))
        if self.waiting:
            self._released = True
            self._request_pass()

    def _on_round(self, _: Any) -> None:
        assert self.policy.round_s
        self._push(self.now + self.policy.round_s, P_ROUND, None)
        if self.waiting:
            self._schedule(round_tick=True)

    def _next_failure_gap(self) -> float:
        f = self.config.faults
        assert f is not None
        return float(self.rng.exponential(f.node_mtbf_s / self.cluster.n_nodes))

    def _on_fail(self, _: Any) -> None:
        self._push(self.now + self._next_failure_gap(), P_FAIL, None)
        node = int(self.rng.integers(self.cluster.n_nodes))
        if not self.up[node]:
            return
        self.n_failures += 1
        hit = [j for j, p in self.running.items() if (p.nodes == node).any()]
        for j in hit:
            self._stop(j, failed=True)
        self.up[node] = False
        self.down_nodes += 1
        self.free[node] = 0
        assert self.config.faults is not None
        self._push(self.now + self.config.faults.repair_s, P_REPAIR, node)
        if hit:
            self._request_pass()

    def _on_repair(self, node: int) -> None:
        self.up[node] = True
        self.down_nodes -= 1
        self.free[node] = int(self.cluster.node_accels[node])
        self._released = True
        self._request_pass()

    def _on_schedule(self, _: Any) -> None:
        self._pass_pending = False
        self._schedule(round_tick=False)

    def _schedule(self, *, round_tick: bool) -> None:
        if not self.waiting:
            return
        if self.policy.strict_order and not self._released and not round_tick:
            if next(iter(self.waiting)) == self._blocked_head:
                return
        free_view = self.free.view()
        free_view.flags.writeable = False
        view = SchedView(
            now_s=self.now,
            topo=self.topo,
            jobs=self.jobs,
            free=free_view,
            waiting=self.waiting,
            running=self.running,
            levels_waiting=self.lvl_wait,
            levels_running=self.lvl_run,
            remaining_work_s=self.remaining,
            expected_end_s=self.expected_end,
            attained_gpu_s=self.attained,
            run_start_s=self.run_start,
            service_norm_s=self.service_norm,
            tenant_used=self.tenant_used,
            tenant_quota=self.tenant_quota,
            job_speed=self.job_speed,
            place=self._place,
            place_on=self._place_on,
            job_types=self.job_types,
            round_tick=round_tick,
        )
        dec: Decision = self.policy.decide(view)
        for j in dec.preempt:
            if self.state[j] != RUNNING:
                raise SimulationError(
                    f"policy {self.policy.name} preempted a job that is not running"
                )
            self._stop(j, failed=False)
        for s in dec.start:
            self._start(s.job, s.placement)
        self._released = False
        self._blocked_head = next(iter(self.waiting), -1)
        if (
            not dec.start
            and not self.running
            and self.waiting
            and self._next_arrival >= self.n
            and self.down_nodes == 0
        ):
            # Nothing runs, nothing will arrive or be repaired: the rest can never start.
            for j in list(self.waiting):
                del self.waiting[j]
                del self.lvl_wait[int(self.level[j])][j]
                self._reject(
                    j,
                    f"cannot be placed by policy {self.policy.name} with "
                    f"{self.config.placement} placement",
                )

    # ---- results ---------------------------------------------------------------------------------
    def _result(self, wall_s: float) -> SimResult:
        jobs = self.jobs
        done = self.state == DONE
        jct = self.finish[done] - jobs.arrival_s[done]
        # Queueing delay = time in the system not holding accelerators (first wait + requeues).
        queue = jct - self.held_s[done]
        first_wait = self.first_start[done] - jobs.arrival_s[done]

        def stat(a: NDArray[np.float64], f: Any) -> float | None:
            return float(f(a)) if a.shape[0] else None

        end = float(np.nanmax(self.finish)) if done.any() else self.now
        span = max(end - self.t_first, 1e-9)
        cap = self.cluster.total_accels
        busy_total = float(self.busy_integral)
        n_ten = len(jobs.tenants)
        fair = cap / max(n_ten, 1)
        tenants = []
        if n_ten:
            iso = jobs.work_s * np.maximum(1.0, jobs.size / fair)
            ftf = np.full(self.n, np.nan)
            ftf[done] = jct / np.maximum(iso[done], 1e-9)
            total_gpu_s = float(self.tenant_gpu_s.sum()) or 1.0
            for t, name in enumerate(jobs.tenants):
                mine = jobs.tenant == t
                md = mine & done
                tenants.append(
                    {
                        "tenant": name,
                        "jobs": int(mine.sum()),
                        "completed": int(md.sum()),
                        "quota": int(self.tenant_quota[t]) if t < len(self.tenant_quota) else None,
                        "share": float(self.tenant_gpu_s[t]) / total_gpu_s,
                        "avg_jct_s": float(np.mean(self.finish[md] - jobs.arrival_s[md]))
                        if md.any()
                        else None,
                        "avg_finish_time_fairness": float(np.mean(ftf[md])) if md.any() else None,
                    }
                )
        ser = np.asarray(self._series, np.float64).reshape(-1, 4)
        summary: dict[str, Any] = {
            "jobs": self.n,
            "completed": int(done.sum()),
            "rejected": int((self.state == REJECTED).sum()),
            "avg_jct_s": stat(jct, np.mean),
            "median_jct_s": stat(jct, np.median),
            "p99_jct_s": stat(jct, lambda a: np.percentile(a, 99)),
            "avg_queue_s": stat(queue, np.mean),
            "median_queue_s": stat(queue, np.median),
            "p99_queue_s": stat(queue, lambda a: np.percentile(a, 99)),
            "avg_first_start_wait_s": stat(first_wait, np.mean),
            "makespan_s": span if done.any() else 0.0,
            "utilization": busy_total / (cap * span) if done.any() else 0.0,
            "wall_s": wall_s,
            "events": self.n_events,
            "events_per_s": self.n_events / max(wall_s, 1e-9),
            "policy": self.policy.name,
            "placement": self.config.placement,
            "seed": self.config.seed,
            "accelerators": cap,
            "nodes": self.cluster.n_nodes,
            "avg_fragmented_accels": float(self.frag_integral / span),
            "avg_fragmented_accels_while_arriving": float(
                self.frag_integral_arrivals / max(float(jobs.arrival_s[-1]) - self.t_first, 1e-9)
                if self.n
                else 0.0
            ),
            "fragmentation": float(
                self.frag_integral / self.free_integral if self.free_integral > 0 else 0.0
            ),
            "avg_queue_len": float(self.queue_integral / span),
            "preemptions": self.n_preemptions,
            "failures": self.n_failures,
            "lost_gpu_s": self.lost_gpu_s,
            "goodput_lost_frac": self.lost_gpu_s / busy_total if busy_total > 0 else 0.0,
            "max_tenant_finish_time_fairness": max(
                (
                    t["avg_finish_time_fairness"]
                    for t in tenants
                    if t["avg_finish_time_fairness"] is not None
                ),
                default=None,
            ),
            "rejected_reasons": dict(self.reject_reasons),
            "tenants": tenants,
        }
        return SimResult(
            summary=summary,
            arrival_s=jobs.arrival_s,
            first_start_s=self.first_start,
            finish_s=self.finish,
            size=jobs.size,
            tenant=jobs.tenant,
            state=self.state,
            reject_reasons=dict(self.reject_reasons),
            series_t_s=ser[:, 0],
            series_busy=ser[:, 1],
            series_queue=ser[:, 2],
            series_frag=ser[:, 3],
            held_s=self.held_s,
            busy_gpu_s=busy_total,
            tenants=tenants,
        )


def simulate(
    *,
    cluster: ClusterSpec,
    trace: Trace | JobTable,
    policy: Policy | str,
    config: SimConfig | None = None,
) -> SimResult:
    """Run one simulation; the trace's bad-row counts are added to the summary."""
    jobs = trace.jobs if isinstance(trace, Trace) else trace
    res = Simulator(cluster=cluster, jobs=jobs, policy=policy, config=config).run()
    if isinstance(trace, Trace):
        res.summary["bad_rows"] = trace.bad_rows
        res.summary["bad_row_reasons"] = dict(trace.bad_reasons)
        res.summary["trace"] = trace.source
        res.summary["trace_format"] = trace.format
    return res
