"""ARRIVAL(job): a job is submitted; it waits, or is rejected when no type of the cluster can
ever hold it. Each arrival schedules the next, so the heap holds one arrival at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wanka.sim.events import Kind
from wanka.sim.result import WAITING

if TYPE_CHECKING:
    from wanka.sim.simulator import Simulator


def handle(sim: Simulator, j: int) -> None:
    jobs = sim.jobs
    if j + 1 < sim.n:
        sim.kernel.schedule(float(jobs.arrival_s[j + 1]), Kind.ARRIVAL, j + 1)
    sim.next_arrival = j + 1
    size = int(jobs.size[j])
    types = sim.job_types[j]
    if not types:
        name = jobs.accel_types[int(jobs.accel_type[j])]
        sim.reject(j, f"no accelerator of type {name} in the cluster")
        return
    if size > max(sim.type_cap[t] for t in types):
        sim.reject(
            j,
            "larger than the cluster"
            if len(types) == len(sim.type_cap)
            else "larger than all accelerators of its type",
        )
        return
    sim.state[j] = WAITING
    sim.level[j] = 0
    sim.waiting[j] = None
    sim.lvl_wait[0][j] = None
    sim.request_pass()
