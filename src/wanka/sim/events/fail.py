"""FAIL(-): a node drawn at random fails; the jobs on it lose the work since their last
checkpoint and go back to the head of the queue. Schedules the next failure and the repair."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wanka.sim.events import Kind

if TYPE_CHECKING:
    from wanka.sim.simulator import Simulator


def next_gap_s(sim: Simulator) -> float:
    """Time to the next failure anywhere: exponential with mean MTBF / nodes."""
    f = sim.config.faults
    assert f is not None
    return float(sim.rng.exponential(f.node_mtbf_s / sim.cluster.n_nodes))


def handle(sim: Simulator, _: Any) -> None:
    faults = sim.config.faults
    assert faults is not None
    sim.kernel.schedule(sim.now + sim.next_failure_gap(), Kind.FAIL)
    node = int(sim.rng.integers(sim.cluster.n_nodes))
    if not sim.up[node]:
        return
    sim.metrics.n_failures += 1
    hit = [j for j, p in sim.running.items() if (p.nodes == node).any()]
    for j in hit:
        sim.stop(j, failed=True)
    sim.up[node] = False
    sim.down_nodes += 1
    sim.free[node] = 0
    sim.kernel.schedule(sim.now + faults.repair_s, Kind.REPAIR, node)
    if hit:
        sim.request_pass()
