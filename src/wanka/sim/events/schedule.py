"""SCHEDULE(-): one scheduling pass. The policy sees a read-only `SchedView` and returns a
`Decision`; preemptions are applied first, then starts.

Passes are coalesced: every event that may let a job start requests one, and at most one is
pending per instant. A strict-order policy (FIFO) skips a pass when nothing was released and
its head did not change. When nothing runs, nothing more will arrive and no node is down, the
jobs still waiting can never start: they are rejected with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wanka.errors import SimulationError
from wanka.sim.policies import Decision, SchedView
from wanka.sim.result import RUNNING

if TYPE_CHECKING:
    from wanka.sim.simulator import Simulator


def handle(sim: Simulator, _: Any) -> None:
    sim.pass_pending = False
    schedule_pass(sim, round_tick=False)


def _view(sim: Simulator, *, round_tick: bool) -> SchedView:
    free_view = sim.free.view()
    free_view.flags.writeable = False
    return SchedView(
        now_s=sim.now,
        topo=sim.topo,
        jobs=sim.jobs,
        free=free_view,
        waiting=sim.waiting,
        running=sim.running,
        levels_waiting=sim.lvl_wait,
        levels_running=sim.lvl_run,
        remaining_work_s=sim.remaining,
        expected_end_s=sim.expected_end,
        attained_gpu_s=sim.attained,
        run_start_s=sim.run_start,
        service_norm_s=sim.service_norm,
        tenant_used=sim.tenant_used,
        tenant_quota=sim.tenant_quota,
        job_speed=sim.job_speed,
        place=sim.place,
        place_on=sim.place_on,
        job_types=sim.job_types,
        round_tick=round_tick,
    )


def schedule_pass(sim: Simulator, *, round_tick: bool) -> None:
    """Ask the policy what to do now and apply it."""
    if not sim.waiting:
        return
    head_unchanged = next(iter(sim.waiting)) == sim.blocked_head
    if sim.policy.strict_order and not sim.released and not round_tick and head_unchanged:
        return
    dec: Decision = sim.policy.decide(_view(sim, round_tick=round_tick))
    for j in dec.preempt:
        if sim.state[j] != RUNNING:
            raise SimulationError(f"policy {sim.policy.name} preempted a job that is not running")
        sim.stop(j, failed=False)
    for s in dec.start:
        sim.start(s.job, s.placement)
    sim.released = False
    sim.blocked_head = next(iter(sim.waiting), -1)
    if (
        not dec.start
        and not sim.running
        and sim.waiting
        and sim.next_arrival >= sim.n
        and sim.down_nodes == 0
    ):
        _reject_the_rest(sim)


def _reject_the_rest(sim: Simulator) -> None:
    """Nothing runs, nothing will arrive or be repaired: the waiting jobs can never start."""
    for j in list(sim.waiting):
        del sim.waiting[j]
        del sim.lvl_wait[int(sim.level[j])][j]
        sim.reject(
            j,
            f"cannot be placed by policy {sim.policy.name} with {sim.config.placement} placement",
        )
