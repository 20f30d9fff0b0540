"""Event kinds of the scheduling simulator, one module per kind.

Each module has `handle(sim, payload)`: it changes the simulator's state and schedules the
follow-up events. At equal times kinds run in this order (finishes free accelerators before
arrivals ask for them, and one coalesced scheduling pass sees everything of the instant):

* FINISH(job, epoch) - a job completes (stale epochs are dropped: lazy deletion);
* FAIL(-) / REPAIR(node) - node failures drawn from the fault model, and their repair;
* ARRIVAL(job) - a job is submitted (each arrival schedules the next one);
* LEVEL(job, epoch) - a running job crosses a policy's attained-service threshold;
* ROUND(-) - the period of a round-based policy;
* SCHEDULE(-) - one scheduling pass of the policy.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Kind"]


class Kind(IntEnum):
    """Event kinds; the value is the tie-break priority (lower runs first)."""

    FINISH = 0
    FAIL = 1
    REPAIR = 2
    ARRIVAL = 3
    LEVEL = 4
    ROUND = 5
    SCHEDULE = 6
