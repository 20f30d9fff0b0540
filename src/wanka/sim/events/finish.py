"""FINISH(job, epoch): a running job completes and frees its accelerators."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wanka.sim.result import DONE, RUNNING

if TYPE_CHECKING:
    from wanka.sim.simulator import Simulator


def handle(sim: Simulator, ev: tuple[int, int]) -> None:
    j, ep = ev
    if ep != sim.epoch[j] or sim.state[j] != RUNNING:
        return  # an earlier run of the job, since preempted or failed
    sim.remaining[j] = 0.0
    sim.release(j)
    sim.state[j] = DONE
    sim.finish[j] = sim.now
    sim.open_jobs -= 1
    sim.request_pass()
