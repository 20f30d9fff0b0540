"""ROUND(-): the period of a round-based policy (Gavel); a pass that may reallocate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wanka.sim.events import Kind
from wanka.sim.events.schedule import schedule_pass

if TYPE_CHECKING:
    from wanka.sim.simulator import Simulator


def handle(sim: Simulator, _: Any) -> None:
    period = sim.policy.round_s
    assert period, "ROUND events only run for policies with round_s"
    sim.kernel.schedule(sim.now + period, Kind.ROUND)
    if sim.waiting:
        schedule_pass(sim, round_tick=True)
