"""The scheduling simulator: job and cluster state, their transitions, and the run.

`Simulator.run` drives a generic event `Kernel` (wanka.sim.kernel) with one handler per event
kind (wanka.sim.events.*), the policy decides in scheduling passes (wanka.sim.policies), and
a `MetricStore` integrates utilisation, queue length and fragmentation (wanka.sim.metrics).
A run is a pure function of (cluster, trace, policy, config, seed).

Work model: a job needs `work_s` seconds at speed 1. Started on placement P it runs at
`speed = type_speed(job, type) * placement_speed(spread)`; after a preemption or failure it first
spends `preempt_cost_s` restoring its checkpoint. Preemption checkpoints (no work lost); a node
failure loses the work since the job's last periodic checkpoint. A job's `epoch` increments
whenever it stops, so events of an earlier run of the job are recognised as stale.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import NDArray

from wanka.errors import ConfigError, SimulationError
from wanka.sim.cluster import ClusterSpec
from wanka.sim.events import Kind, arrival, fail, finish, level, repair, round, schedule
from wanka.sim.jobs import JobTable, Trace
from wanka.sim.kernel import Kernel
from wanka.sim.metrics import MetricStore
from wanka.sim.placement import Placement, Topology, get_placement
from wanka.sim.policies import Policy, get_policy
from wanka.sim.result import DONE, REJECTED, RUNNING, WAITING, SimResult, tenant_rows
from wanka.sim.speed import DEFAULT_GRAD_BYTES, DEFAULT_STEP_S, TypeSpeeds, placement_speed

__all__ = ["FaultModel", "SimConfig", "SimResult", "Simulator", "simulate"]


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
    """`packed` (topology-aware), `first-fit` or `fgd` (fragmentation gradient descent)."""
    seed: int = 0
    preempt_cost_s: float = 30.0
    """Checkpoint + restore time paid by a job restarted after preemption or failure, seconds."""
    first_start_cost_s: float = 0.0
    """Setup time paid by a job's first start (restarts pay `preempt_cost_s` instead), seconds."""
    pass_interval_s: float | None = None
    """Scheduling passes only at multiples of this many seconds (a scheduler that wakes every
    interval, as the Pollux artifact's 60 s); None: a pass at every event that may start a job."""
    faults: FaultModel | None = None
    samples: int = 2000
    """Number of time-series samples (utilisation, queue length, fragmentation)."""

    def __post_init__(self) -> None:
        if self.preempt_cost_s < 0 or self.first_start_cost_s < 0:
            raise ConfigError(
                f"preempt_cost_s ({self.preempt_cost_s}) and first_start_cost_s "
                f"({self.first_start_cost_s}) must be >= 0"
            )
        if self.pass_interval_s is not None and not self.pass_interval_s > 0:
            raise ConfigError(f"pass_interval_s must be > 0, got {self.pass_interval_s}")


class _JobTypes:
    """job -> tuple of cluster accelerator types it may use (by the job's type code)."""

    def __init__(self, cluster: ClusterSpec, jobs: JobTable) -> None:
        lower = [t.lower() for t in cluster.accel_types]
        self.per_code: dict[int, tuple[int, ...]] = {-1: tuple(range(len(lower)))}
        for c, name in enumerate(jobs.accel_types):
            want = [w.strip().lower() for w in name.split("|") if w.strip()]
            self.per_code[c] = tuple(i for i, t in enumerate(lower) if t in want)
        self.codes = jobs.accel_type

    def __getitem__(self, j: int) -> tuple[int, ...]:
        return self.per_code[int(self.codes[j])]

    def __len__(self) -> int:
        return int(self.codes.shape[0])


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
        self.cluster, self.jobs, self.n = cluster, jobs, len(jobs)
        self.policy = get_policy(policy) if isinstance(policy, str) else policy
        self.config = config or SimConfig()
        self.topo = Topology(cluster)
        self._place_fn = get_placement(self.config.placement)
        self.rng = np.random.default_rng(self.config.seed)
        self.metrics = MetricStore(cluster, jobs, self.config.samples)
        self.topo.size_tail = self.metrics.size_tail
        self.kernel = Kernel(self.metrics.t_first)
        self.pass_pending = False
        self._init_cluster_state()
        self._init_job_state()
        self.job_types = _JobTypes(cluster, jobs)
        self.type_cap = self.topo.type_capacity
        self.job_speed = TypeSpeeds(cluster, jobs)
        self._best_speed_cache: dict[int, float] = {}

    def _init_cluster_state(self) -> None:
        c = self.cluster
        self.free = c.node_accels.astype(np.int64).copy()
        self.up = np.ones(c.n_nodes, bool)
        self.down_nodes = 0
        self.busy = 0
        names = self.jobs.tenants or ("default",)
        self.tenant_used = np.zeros(max(len(self.jobs.tenants), 1), np.int64)
        self.tenant_gpu_s = np.zeros(max(len(self.jobs.tenants), 1))
        self.tenant_quota = _quotas(names, c.total_accels, c.tenant_quota)

    def _init_job_state(self) -> None:
        n = self.n
        self.state = np.zeros(n, np.int8)
        self.remaining = self.jobs.work_s.astype(np.float64).copy()
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
        self.last_placement: list[str] = [""] * n
        self.held_s = np.zeros(n)
        # OrderedDict, not dict: popping from the front of a plain dict leaves dummies that make
        # next(iter(d)) O(deleted entries), quadratic for a long FIFO queue.
        self.waiting: OrderedDict[int, None] = OrderedDict()
        self.running: dict[int, Placement] = {}
        self.reject_reasons: Counter[str] = Counter()
        self.open_jobs = n
        self.next_arrival = 0
        self.thresholds = tuple(self.policy.level_thresholds_gpu_s)
        nl = len(self.thresholds) + 1
        self.lvl_wait: list[OrderedDict[int, None]] = [OrderedDict() for _ in range(nl)]
        self.lvl_run: list[OrderedDict[int, None]] = [OrderedDict() for _ in range(nl)]
        self.level = np.zeros(n, np.int8)
        self.blocked_head = -1
        self.released = True
        self.touched: dict[int, None] = {}
        """Jobs started at the current instant (named when a run stops progressing)."""

    # ---- the run ------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.kernel.now

    def request_pass(self) -> None:
        """Ask for one scheduling pass now, or at the next pass time (coalesced)."""
        if not self.pass_pending:
            self.pass_pending = True
            at, step = self.now, self.config.pass_interval_s
            if step:
                at = max(at, math.ceil(at / step) * step)
            self.kernel.schedule(at, Kind.SCHEDULE)

    def next_failure_gap(self) -> float:
        return fail.next_gap_s(self)

    def run(self) -> SimResult:
        """Run to completion (every job completed or rejected) and return the measurements."""
        t0 = time.perf_counter()
        k = self.kernel
        if self.n:
            k.schedule(float(self.jobs.arrival_s[0]), Kind.ARRIVAL, 0)
        if self.config.faults is not None:
            k.schedule(self.now + self.next_failure_gap(), Kind.FAIL)
        if self.policy.round_s:
            k.schedule(self.now, Kind.ROUND)
        mods = {
            Kind.FINISH: finish,
            Kind.FAIL: fail,
            Kind.REPAIR: repair,
            Kind.ARRIVAL: arrival,
            Kind.LEVEL: level,
            Kind.ROUND: round,
            Kind.SCHEDULE: schedule,
        }
        handlers = [partial(mods[kind].handle, self) for kind in Kind]
        k.run(
            handlers,
            instant_limit=self.instant_event_limit(),
            until=lambda: self.open_jobs <= 0,
            on_advance=self._advance,
            on_stall=self._stall_message,
        )
        return self._result(time.perf_counter() - t0)

    def _advance(self, t: float) -> None:
        self.metrics.advance(
            self.now,
            t,
            busy=self.busy,
            queued=len(self.waiting),
            arriving=self.next_arrival < self.n,
            free=self.free,
        )
        self.touched.clear()

    def instant_event_limit(self) -> int:
        """Most events one instant can hold in a run that progresses.

        At one time every event changes state: a job arrives, finishes or drops a level (at most
        `levels` times: levels never come back), a node fails or is repaired, and each of these
        requests at most one coalesced scheduling pass; round events advance time. Twice that
        count, plus slack, is a bound no progressing run reaches.
        """
        per_job = 2 + len(self.thresholds)
        return 2 * (self.n * per_job + 2 * self.cluster.n_nodes) + 64

    def _stall_message(self, events: int) -> str:
        names = ", ".join(self.jobs.name[j] for j in list(self.touched)[:6]) or "none"
        return (
            f"policy {self.policy.name} stopped making progress at t={self.now:.1f} s "
            f"({events} events without time advancing; jobs started or preempted: {names}); "
            "report the trace, cluster and policy"
        )

    # ---- helpers used by policies and events ----------------------------------------------------
    def _best_speed(self, j: int) -> float:
        s = self._best_speed_cache.get(j)
        if s is None:
            types = self.job_types[j]
            s = max(self.job_speed(j, t) for t in types) if types else 1.0
            self._best_speed_cache[j] = s
        return s

    def place(self, free: NDArray[np.int64], j: int) -> Placement | None:
        return self._place_fn(self.topo, free, int(self.jobs.size[j]), self.job_types[j])

    def place_on(self, free: NDArray[np.int64], j: int, types: tuple[int, ...]) -> Placement | None:
        return self._place_fn(self.topo, free, int(self.jobs.size[j]), types)

    def level_of(self, attained: float) -> int:
        return bisect.bisect_right(self.thresholds, attained)

    def level_after_stop(self, j: int) -> int:
        """A stopped job's level: never back up, only down (demotion is monotone).

        A LEVEL event demotes a job when its attained service reaches a threshold; the service
        summed at release can round to just below it. Recomputing the level from that sum would
        promote the job back, and two such jobs would preempt each other forever at one instant.
        """
        return max(int(self.level[j]), self.level_of(self.attained[j]))

    # ---- state transitions ----------------------------------------------------------------------
    def reject(self, j: int, reason: str) -> None:
        self.state[j] = REJECTED
        self.reject_reasons[reason] += 1
        self.open_jobs -= 1

    def _speed_on(self, j: int, p: Placement) -> float:
        """Speed of job j on placement p: type speed x the spread-placement factor."""
        c, jobs = self.cluster, self.jobs
        grad, step = DEFAULT_GRAD_BYTES, DEFAULT_STEP_S
        if jobs.grad_bytes is not None and math.isfinite(jobs.grad_bytes[j]):
            grad = float(jobs.grad_bytes[j])
        if jobs.step_s is not None and math.isfinite(jobs.step_s[j]):
            step = float(jobs.step_s[j])
        size = int(jobs.size[j])
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
        return self.job_speed(j, p.accel_type) * spread

    def start(self, j: int, p: Placement) -> None:
        """Start waiting job j on placement p; schedule its finish and next level crossing."""
        size = int(self.jobs.size[j])
        if self.state[j] != WAITING:
            raise SimulationError(f"policy started job {self.jobs.name[j]} which is not waiting")
        if (self.free[p.nodes] < p.counts).any() or int(p.counts.sum()) != size:
            raise SimulationError(
                f"policy {self.policy.name} gave job {self.jobs.name[j]} "
                "accelerators that are not free or not its size"
            )
        now = self.now
        self.touched[j] = None
        self.free[p.nodes] -= p.counts
        del self.waiting[j]
        lvl = int(self.level[j])
        del self.lvl_wait[lvl][j]
        self.lvl_run[lvl][j] = None
        self.running[j] = p
        self.state[j] = RUNNING
        self.busy += size
        self.tenant_used[int(self.jobs.tenant[j])] += size
        sp = self._speed_on(j, p)
        cfg = self.config
        restore = cfg.preempt_cost_s if self.n_starts[j] > 0 else cfg.first_start_cost_s
        self.n_starts[j] += 1
        self.last_placement[j] = "+".join(
            f"n{int(node)}:{int(c)}" for node, c in zip(p.nodes, p.counts, strict=True)
        )
        if math.isnan(self.first_start[j]):
            self.first_start[j] = now
        self.speed[j] = sp
        self.run_start[j] = now
        self.restore_end[j] = now + restore
        end = now + restore + self.remaining[j] / sp
        self.expected_end[j] = end
        ep = int(self.epoch[j])
        self.kernel.schedule(end, Kind.FINISH, (j, ep))
        if lvl < len(self.thresholds):
            at = now + (self.thresholds[lvl] - self.attained[j]) / size
            self.kernel.schedule(max(at, now), Kind.LEVEL, (j, ep))

    def release(self, j: int) -> Placement:
        """Free job j's accelerators and book the service it received."""
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
        self.released = True
        return p

    def stop(self, j: int, *, failed: bool) -> None:
        """Preempt (checkpoint, no loss) or kill by failure (lose work since last checkpoint)."""
        progress_t = max(0.0, self.now - self.restore_end[j])
        if failed:
            assert self.config.faults is not None
            lost_t = progress_t % self.config.faults.checkpoint_interval_s
            progress_t -= lost_t
            self.metrics.lost_gpu_s += lost_t * int(self.jobs.size[j])
        self.remaining[j] = max(0.0, self.remaining[j] - progress_t * self.speed[j])
        self.release(j)
        lvl = self.level_after_stop(j)
        self.level[j] = lvl
        self.state[j] = WAITING
        self.waiting[j] = None
        self.lvl_wait[lvl][j] = None
        if failed:  # a failed job goes back to the head of the queue
            self.waiting.move_to_end(j, last=False)
            self.lvl_wait[lvl].move_to_end(j, last=False)
        else:
            self.metrics.n_preemptions += 1

    # ---- the result -----------------------------------------------------------------------------
    def _result(self, wall_s: float) -> SimResult:
        jobs, m = self.jobs, self.metrics
        done = self.state == DONE
        end = float(np.nanmax(self.finish)) if done.any() else self.now
        span = m.span_s(end)
        tenants = tenant_rows(
            jobs,
            done=done,
            finish_s=self.finish,
            tenant_gpu_s=self.tenant_gpu_s,
            tenant_quota=self.tenant_quota,
            accelerators=self.cluster.total_accels,
        )
        summary = m.summary(
            jobs=jobs,
            done=done,
            rejected=int((self.state == REJECTED).sum()),
            finish_s=self.finish,
            first_start_s=self.first_start,
            held_s=self.held_s,
            end_s=end,
        )
        events = self.kernel.events
        summary |= {
            "wall_s": wall_s,
            "events": events,
            "events_per_s": events / max(wall_s, 1e-9),
            "policy": self.policy.name,
            "placement": self.config.placement,
            "seed": self.config.seed,
            "accelerators": self.cluster.total_accels,
            "nodes": self.cluster.n_nodes,
        }
        summary |= m.cluster_summary(span)
        ftf = [t["avg_finish_time_fairness"] for t in tenants]
        summary["max_tenant_finish_time_fairness"] = max(
            (f for f in ftf if f is not None), default=None
        )
        summary["rejected_reasons"] = dict(self.reject_reasons)
        summary["tenants"] = tenants
        ser = m.series_arrays()
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
            busy_gpu_s=float(m.busy_integral),
            tenants=tenants,
            names=tuple(jobs.name),
            tenant_names=tuple(jobs.tenants),
            starts=self.n_starts.copy(),
            placement=tuple(self.last_placement),
        )


def _quotas(names: tuple[str, ...], total: int, given: dict[str, int]) -> NDArray[np.int64]:
    """Each tenant's quota: as given in the cluster file, else an equal share of the rest."""
    q = np.zeros(len(names), np.int64)
    rest = [i for i, t in enumerate(names) if t not in given]
    left = total - sum(given.get(t, 0) for t in names)
    for i, t in enumerate(names):
        q[i] = given[t] if t in given else max(left // max(len(rest), 1), 0)
    return q


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
