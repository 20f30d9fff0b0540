"""The centre designer (`wanka plan`): chips, counts, fabric, plan, capex, power and time-to-train.

`load_center(path)` / `parse_center(mapping)` read a centre file; `plan_center(spec)` returns the
ranked designs typed (`CenterPlan`, one `to_dict`), `design_center(spec)` the `wanka plan --json`
object; `plan.goodput` holds the failure and checkpoint arithmetic. See docs/plan.md.
"""

from __future__ import annotations

from wanka.plan.center import (
    CONSTRAINTS,
    CenterPlan,
    CenterSpec,
    design_center,
    load_center,
    parse_center,
    plan_center,
)
from wanka.plan.goodput import Reliability, goodput, time_to_train_s

__all__ = [
    "CONSTRAINTS",
    "CenterPlan",
    "CenterSpec",
    "Reliability",
    "design_center",
    "goodput",
    "load_center",
    "parse_center",
    "plan_center",
    "time_to_train_s",
]
