"""Scheduling policies: pure functions from a snapshot (`SchedView`) to a `Decision`.

A policy is a frozen dataclass with a `decide(view) -> Decision` method and a few declarations
the simulator honours (it maintains the indexes a policy asks for, so a decision costs little):

* `level_thresholds_gpu_s` - attained-service thresholds (accelerator-seconds); the simulator
  keeps waiting and running jobs bucketed by level (Tiresias' discretised queues) and wakes the
  scheduler when a running job crosses one.
* `round_s` - period of scheduling rounds (Gavel-style reallocation), or None.
* `strict_order` - the policy only ever starts the head of its queue (FIFO), so the simulator may
  skip passes in which nothing was released and the head did not change.

Policies never mutate the view; every placement is planned on a local copy of the free counts.
Registered names: fifo, fifo-backfill (EASY), sjf (oracle), tiresias (discretised 2D-LAS),
gavel (heterogeneity-aware max-min fairness), quota (per-tenant quotas with borrowing and reclaim).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from wanka.sim.policies.backfill import FifoBackfill
from wanka.sim.policies.base import SCAN_WINDOW, Decision, Policy, SchedView, Start
from wanka.sim.policies.fifo import Fifo
from wanka.sim.policies.gavel import Gavel
from wanka.sim.policies.quota import Quota
from wanka.sim.policies.sjf import ShortestJob
from wanka.sim.policies.tiresias import Tiresias
from wanka.userfile import check_id

__all__ = [
    "POLICIES",
    "SCAN_WINDOW",
    "Decision",
    "Fifo",
    "FifoBackfill",
    "Gavel",
    "Policy",
    "PolicyName",
    "Quota",
    "SchedView",
    "ShortestJob",
    "Start",
    "Tiresias",
    "get_policy",
]


class PolicyName(StrEnum):
    FIFO = "fifo"
    FIFO_BACKFILL = "fifo-backfill"
    SJF = "sjf"
    TIRESIAS = "tiresias"
    GAVEL = "gavel"
    QUOTA = "quota"


POLICIES: dict[PolicyName, Callable[[], Policy]] = {
    PolicyName.FIFO: Fifo,
    PolicyName.FIFO_BACKFILL: FifoBackfill,
    PolicyName.SJF: ShortestJob,
    PolicyName.TIRESIAS: Tiresias,
    PolicyName.GAVEL: Gavel,
    PolicyName.QUOTA: Quota,
}
_ALIASES = {
    "backfill": "fifo-backfill",
    "easy": "fifo-backfill",
    "shortest-job": "sjf",
    "las": "tiresias",
    "2d-las": "tiresias",
    "max-min": "gavel",
    "kueue": "quota",
}


def get_policy(name: str) -> Policy:
    """A policy instance by registered name (or alias)."""
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    try:
        return POLICIES[PolicyName(key)]()
    except ValueError:
        names = sorted(p.value for p in PolicyName)
        check_id("policy", name, names)
        raise  # unreachable: check_id raised
