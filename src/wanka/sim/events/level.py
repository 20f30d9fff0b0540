"""LEVEL(job, epoch): a running job's attained service reaches the next threshold of the policy.

The job drops one level (levels only ever drop: see `Simulator.level_after_stop`) and the next
crossing is scheduled; a pass is requested when jobs wait, since they may now outrank it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wanka.sim.events import Kind
from wanka.sim.result import RUNNING

if TYPE_CHECKING:
    from wanka.sim.simulator import Simulator


def handle(sim: Simulator, ev: tuple[int, int]) -> None:
    j, ep = ev
    if ep != sim.epoch[j] or sim.state[j] != RUNNING:
        return
    lvl = int(sim.level[j])
    del sim.lvl_run[lvl][j]
    lvl += 1
    sim.level[j] = lvl
    sim.lvl_run[lvl][j] = None
    if lvl < len(sim.thresholds):
        size = int(sim.jobs.size[j])
        att = sim.attained[j] + (sim.now - sim.run_start[j]) * size
        at = sim.now + max(sim.thresholds[lvl] - att, 0.0) / size
        sim.kernel.schedule(at, Kind.LEVEL, (j, ep))
    if sim.waiting:
        sim.released = True
        sim.request_pass()
