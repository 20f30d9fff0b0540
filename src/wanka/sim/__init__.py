"""Multi-tenant scheduling simulator: how a pool of accelerators serves many tenants' jobs.

Layers: `jobs` (job tables, traces) -> `traces`/`synthetic` (readers, generator) -> `cluster`
(topology) -> `placement` (packed / first-fit) -> `policies` (pure decisions) -> `simulator`
(event loop, metrics) -> `runner` (many runs, optional Ray) -> `report` (rich table, plots).
"""

from __future__ import annotations

from wanka.sim.cluster import ClusterSpec, NodeGroup
from wanka.sim.jobs import JobKind, JobTable, Trace, merge_traces
from wanka.sim.placement import Placement, PlacementKind, first_fit, packed
from wanka.sim.policies import Decision, PolicyName, SchedView, Start, get_policy
from wanka.sim.simulator import FaultModel, SimConfig, SimResult, Simulator, simulate
from wanka.sim.synthetic import synthetic_llm_trace
from wanka.sim.traces import read_trace

__all__ = [
    "ClusterSpec",
    "Decision",
    "FaultModel",
    "JobKind",
    "JobTable",
    "NodeGroup",
    "Placement",
    "PlacementKind",
    "PolicyName",
    "SchedView",
    "SimConfig",
    "SimResult",
    "Simulator",
    "Start",
    "Trace",
    "first_fit",
    "get_policy",
    "merge_traces",
    "packed",
    "read_trace",
    "simulate",
    "synthetic_llm_trace",
]
