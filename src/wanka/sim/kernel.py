"""A small discrete-event kernel: a heap of (time_s, kind, seq, payload) and a run loop.

Generic on purpose: it knows nothing of clusters, jobs or requests. A client numbers its event
kinds 0..K-1 (lower runs first at equal times), hands `run` one handler per kind, and the
handlers schedule follow-up events. Ties at one time are broken by kind, then by a per-kernel
counter (first scheduled, first run), so a run is a pure function of its inputs (SimPy's
`(time, priority, eid)` order; vidur's heap loop).

Progress. Time never goes back: scheduling an event before `now` is an error. A run must also
not stall: every event at one instant has to change the client's state, and the client states
how many events one instant can hold in a run that progresses (`instant_limit`). Past that the
run stops with a `SimulationError` whose one-line message the client writes (`on_stall`).

    >>> k = Kernel()
    >>> seen = []
    >>> k.schedule(2.0, 0, "b"); k.schedule(1.0, 0, "a")
    >>> k.run([seen.append], instant_limit=10)
    2
    >>> seen, k.now
    (['a', 'b'], 2.0)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from heapq import heappop, heappush
from typing import Any

from wanka.errors import SimulationError

__all__ = ["Kernel"]


class Kernel:
    """Event heap, clock and loop of one simulation run."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.now = float(start_s)
        """The current simulation time, seconds."""
        self.events = 0
        """Events handled so far."""
        self._heap: list[tuple[float, int, int, Any]] = []
        self._seq = itertools.count()

    def schedule(self, time_s: float, kind: int, payload: Any = None) -> None:
        """Run handler `kind` with `payload` at `time_s` (>= now)."""
        if time_s < self.now:
            raise SimulationError(
                f"event of kind {kind} scheduled at t={time_s} s, before now ({self.now} s)"
            )
        heappush(self._heap, (time_s, kind, next(self._seq), payload))

    def __len__(self) -> int:
        return len(self._heap)

    def clear(self) -> None:
        """Drop every pending event."""
        self._heap.clear()

    def run(
        self,
        handlers: Sequence[Callable[[Any], None]],
        *,
        instant_limit: int,
        until: Callable[[], bool] | None = None,
        on_advance: Callable[[float], None] | None = None,
        on_stall: Callable[[int], str] | None = None,
    ) -> int:
        """Handle events in order until the heap is empty or `until()` is true.

        Args:
            handlers: handler per event kind; each takes the event's payload.
            instant_limit: most events one instant may hold before the run counts as stalled.
            until: stop condition, checked before each event.
            on_advance: called with the new time before the first event of a later instant
                (integrate time-weighted metrics there); `now` is still the old time.
            on_stall: the one-line message for a stalled run, given the events at this instant.

        Returns the number of events handled by this call.
        """
        heap = self._heap
        handled = at_instant = 0
        while heap and (until is None or not until()):
            t, kind, _, payload = heappop(heap)
            if t > self.now:
                if on_advance is not None:
                    on_advance(t)
                self.now = t
                at_instant = 0
            at_instant += 1
            if at_instant > instant_limit:
                msg = on_stall(at_instant) if on_stall else "the simulation stopped progressing"
                raise SimulationError(msg)
            handlers[kind](payload)
            handled += 1
        self.events += handled
        return handled
