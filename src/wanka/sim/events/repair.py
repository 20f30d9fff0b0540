"""REPAIR(node): a failed node comes back with all its accelerators free."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wanka.sim.simulator import Simulator


def handle(sim: Simulator, node: int) -> None:
    sim.up[node] = True
    sim.down_nodes -= 1
    sim.free[node] = int(sim.cluster.node_accels[node])
    sim.released = True
    sim.request_pass()
