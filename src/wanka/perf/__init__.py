"""The training step performance model: time, memory and throughput of parallel plans, vectorised.

Public API (stable; the search and the scheduler simulator call it):
`PlanArrays`, `evaluate` -> `StepArrays`, `OverlapPolicy`, `Calibration`, `predict`, `predict_runs`.
"""

from __future__ import annotations

from wanka.perf.params import Calibration, OverlapPolicy, default_calibration
from wanka.perf.plans import FSDP_CODES, RECOMPUTE_CODES, PlanArrays
from wanka.perf.predict import predict, predict_runs
from wanka.perf.step import StepArrays, evaluate, plan_problems

__all__ = [
    "FSDP_CODES",
    "RECOMPUTE_CODES",
    "Calibration",
    "OverlapPolicy",
    "PlanArrays",
    "StepArrays",
    "default_calibration",
    "evaluate",
    "plan_problems",
    "predict",
    "predict_runs",
]
