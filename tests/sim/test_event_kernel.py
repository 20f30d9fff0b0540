"""The generic event kernel: order, ties, clock, stop condition and the progress guard."""

from __future__ import annotations

import pytest

from wanka.errors import SimulationError
from wanka.sim.kernel import Kernel


def test_time_then_kind_then_fifo():
    """Events run by time, then kind (lower first), then in the order they were scheduled."""
    k = Kernel()
    log: list[tuple[float, str]] = []
    handlers = [lambda p: log.append((k.now, f"a{p}")), lambda p: log.append((k.now, f"b{p}"))]
    k.schedule(5.0, 1, 1)
    k.schedule(5.0, 0, 1)
    k.schedule(5.0, 1, 2)
    k.schedule(1.0, 1, 0)
    assert k.run(handlers, instant_limit=10) == 4
    assert log == [(1.0, "b0"), (5.0, "a1"), (5.0, "b1"), (5.0, "b2")]


def test_handlers_schedule_follow_ups_and_until_stops():
    """A handler's follow-up events run; `until` ends the run with events left in the heap."""
    k = Kernel()
    seen: list[float] = []

    def tick(_):
        seen.append(k.now)
        k.schedule(k.now + 10.0, 0)

    k.schedule(0.0, 0)
    k.run([tick], instant_limit=10, until=lambda: len(seen) >= 3)
    assert seen == [0.0, 10.0, 20.0] and len(k) == 1 and k.events == 3


def test_on_advance_sees_old_and_new_time():
    """`on_advance(t)` runs once per new instant, before the clock moves."""
    k = Kernel(start_s=2.0)
    steps: list[tuple[float, float]] = []
    k.schedule(2.0, 0)
    k.schedule(3.0, 0)
    k.schedule(3.0, 0)
    k.run([lambda _: None], instant_limit=10, on_advance=lambda t: steps.append((k.now, t)))
    assert steps == [(2.0, 3.0)]


def test_no_event_in_the_past():
    """Scheduling before now is refused: time never goes back."""
    k = Kernel(start_s=10.0)
    with pytest.raises(SimulationError, match="before now"):
        k.schedule(9.0, 0)


def test_stall_guard_stops_a_loop_at_one_instant():
    """A handler that reschedules itself at the same time is stopped with the client's line."""
    k = Kernel()

    def again(_):
        k.schedule(k.now, 0)

    k.schedule(1.0, 0)
    with pytest.raises(SimulationError, match="stuck at 1.0 after 101"):
        k.run([again], instant_limit=100, on_stall=lambda n: f"stuck at {k.now} after {n}")
