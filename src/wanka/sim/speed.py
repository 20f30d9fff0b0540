"""Job speed: what the simulator asks of the rest of wanka, each through its one home.

* `relative_type_speed(type, ref)` - how much faster a job runs on accelerator type `type` than on
  `ref`: the ratio of dense bf16 peaks (fp16 where the chip has no bf16) from the accelerator
  catalog (`wanka.catalogs`); 1.0 when either id is not in the catalog (a cluster file then
  states `relative_speed` per node group).
* `placement_speed(...)` - the slowdown of a data-parallel job whose accelerators are spread over
  more of the network than needed: per step, `step_s + t_allreduce(tier)` against
  `step_s + t_allreduce(compact tier)`. The all-reduce time is
  `wanka.topology.collective.collective_time` for a catalog accelerator, else the alpha-beta ring
  estimate `2 (n-1) alpha + 2 (n-1)/n * bytes / bw` (Patarasuk & Yuan 2009), with the bottleneck
  bandwidth of the tier the job spans (scale-up; one leaf; across leaves / oversubscription;
  across pods / oversubscription).
* `layout_speeds(model, accelerator, plans, ...)` - tokens/s per accelerator of each parallel
  layout of a job, and its validity with every reason, straight from `wanka.perf.evaluate` and
  `wanka.perf.plan_problems` (the one home of layout validity shared with `predict` and search).
* `llm_tokens_per_s(params, accelerator)` - LLM training throughput per accelerator: for the
  representative runs of `_LLM_RUNS`, the `wanka.perf` prediction of that typed `RunSpec`;
  otherwise `bf16 peak * MFU 0.4 / (6 * params)` (6 FLOP per parameter per token, Kaplan et al.
  2020), with the MFU stated as an assumption.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wanka.catalogs import Accelerator, accelerators
from wanka.parallel import ParallelPlan
from wanka.perf import PlanArrays, evaluate, plan_problems
from wanka.perf.predict import evaluate_run
from wanka.spec import HardwareSpec, RunSpec
from wanka.topology.collective import FabricTier, collective_time
from wanka.workload.model import ModelSpec
from wanka.workload.presets import get_model

__all__ = [
    "ASSUMED_LLM_MFU",
    "DEFAULT_GRAD_BYTES",
    "DEFAULT_STEP_S",
    "LayoutSpeeds",
    "Tier",
    "allreduce_s",
    "gavel_throughputs",
    "layout_speeds",
    "llm_tokens_per_s",
    "peak_bf16_flops",
    "placement_speed",
    "relative_type_speed",
]

ASSUMED_LLM_MFU = 0.4
"""Model-FLOPs utilisation assumed for LLM jobs outside the representative runs."""
DEFAULT_GRAD_BYTES = 4 * 100e6
"""Gradient bytes per step for trace jobs that do not say: a 100 M-parameter fp32 model."""
DEFAULT_STEP_S = 0.3
"""Compute seconds per step for trace jobs that do not say (a typical CNN/BERT-base step)."""


class Tier:
    """How far a placement spreads: the smallest level that holds all its accelerators."""

    DOMAIN = 0
    LEAF = 1
    POD = 2
    CLUSTER = 3


def _catalog(accelerator: str) -> Accelerator | None:
    """The catalog record of an accelerator id, or None when the catalog does not list it."""
    return accelerators().get(accelerator.lower())


def peak_bf16_flops(accelerator: str) -> float | None:
    """Dense bf16 peak FLOP/s of a catalog accelerator (fp16 where it has no bf16), or None."""
    acc = _catalog(accelerator)
    if acc is None:
        return None
    value = acc.peak_flops.get("bf16") or acc.peak_flops.get("fp16")
    return float(value) if value else None


def relative_type_speed(accelerator: str, reference: str) -> float:
    """Speed of `accelerator` relative to `reference` (ratio of bf16 peaks; 1.0 if unknown)."""
    if accelerator == reference:
        return 1.0
    a, r = peak_bf16_flops(accelerator), peak_bf16_flops(reference)
    return a / r if a and r else 1.0


def _ring_allreduce_s(nbytes: float, ranks: int, bw_bytes_per_s: float, latency_s: float) -> float:
    """Alpha-beta ring all-reduce: 2(n-1) latency steps, 2(n-1)/n of the bytes, slowest link."""
    if ranks <= 1:
        return 0.0
    return 2 * (ranks - 1) * latency_s + 2 * (ranks - 1) / ranks * nbytes / bw_bytes_per_s


def allreduce_s(
    nbytes: float,
    ranks: int,
    ranks_per_node: int,
    bw_bytes_per_s: float,
    latency_s: float,
    accelerator: str = "generic",
) -> float:
    """All-reduce seconds over a group whose slowest tier has `bw_bytes_per_s` per accelerator.

    With a catalog accelerator this is `collective_time("all-reduce", ...)` with a `FabricTier` at
    that bandwidth (no in-network reduction); otherwise the alpha-beta ring estimate.
    """
    acc = None if accelerator == "generic" else _catalog(accelerator)
    if acc is None:
        return _ring_allreduce_s(nbytes, ranks, bw_bytes_per_s, latency_s)
    rpn = min(ranks_per_node, ranks)
    fabric = (
        None
        if rpn >= ranks
        else FabricTier(bw_bytes_per_s=bw_bytes_per_s, in_network_reduction=False)
    )
    t = collective_time("all-reduce", nbytes, ranks, rpn, acc, fabric=fabric)
    return float(np.asarray(t).reshape(-1)[0])


@lru_cache(maxsize=65536)
def placement_speed(
    size: int,
    tier: int,
    ideal_tier: int,
    grad_bytes: float,
    step_s: float,
    scaleup_bw: float,
    scaleout_bw: float,
    cross_leaf_os: float,
    cross_pod_os: float,
    latency_s: float,
    ranks_per_node: int,
    accelerator: str = "generic",
) -> float:
    """Speed factor (<= 1) of a job placed at `tier` whose compact placement is `ideal_tier`.

    Args:
        size: accelerators of the job (ranks of the gradient all-reduce).
        tier / ideal_tier: `Tier` values of the actual and the compact placement.
        grad_bytes: bytes all-reduced per step; step_s: compute seconds per step.
        scaleup_bw, scaleout_bw: per-accelerator bandwidths, bytes/s.
        cross_leaf_os, cross_pod_os: oversubscription of the spine and super-spine tiers.
        latency_s: per-step latency; ranks_per_node: accelerators per scale-up domain.
        accelerator: catalog id (selects the real collective model) or "generic".

    >>> placement_speed(8, 0, 0, 4e8, 0.3, 450e9, 50e9, 2, 4, 5e-6, 8)
    1.0
    """
    if tier <= ideal_tier or size <= 1:
        return 1.0

    def t(tr: int) -> float:
        bw = (scaleup_bw, scaleout_bw, scaleout_bw / cross_leaf_os, scaleout_bw / cross_pod_os)[
            min(tr, 3)
        ]
        rpn = size if tr == Tier.DOMAIN else ranks_per_node
        return allreduce_s(grad_bytes, size, rpn, bw, latency_s, accelerator)

    return (step_s + t(ideal_tier)) / (step_s + t(tier))


@dataclass(frozen=True, slots=True)
class LayoutSpeeds:
    """Per layout: tokens/s per accelerator (NaN where invalid), validity, and why not."""

    tokens_per_s_per_gpu: NDArray[np.float64]
    valid: NDArray[np.bool_]
    fits: NDArray[np.bool_]
    reasons: tuple[tuple[str, ...], ...]
    """Every reason each layout is not valid (`wanka.perf.plan_problems`); empty when valid."""


def layout_speeds(
    model: ModelSpec,
    accelerator: Accelerator,
    plans: PlanArrays,
    *,
    count: int,
    global_batch_size: int,
    gpus_per_node: int = 8,
    precision: str = "bf16",
    strict_experts: bool = True,
) -> LayoutSpeeds:
    """How fast a job of `count` accelerators runs under each layout of `plans`, through
    `wanka.perf.evaluate`; the verdicts and reasons are perf's own."""
    res = evaluate(
        model,
        accelerator,
        plans,
        count=count,
        gpus_per_node=gpus_per_node,
        global_batch_size=global_batch_size,
        seq_len=model.seq_len,
        precision=precision,
        strict_experts=strict_experts,
    )
    bad = np.flatnonzero(~res.valid)
    why = {
        int(i): tuple(
            plan_problems(
                model,
                plans,
                int(i),
                count=count,
                global_batch_size=global_batch_size,
                seq_len=model.seq_len,
                strict_experts=strict_experts,
            )
        )
        for i in bad
    }
    reasons = tuple(why.get(i, ()) for i in range(len(plans)))
    return LayoutSpeeds(res.tokens_per_s_per_gpu, res.valid, res.fits, reasons)


# Representative runs: parameters -> (preset, tp, pp, accelerators), Megatron-style layouts,
# bf16, micro-batch 1, global batch 512 sequences, 8 accelerators per server.
_LLM_RUNS = {
    7e9: ("llama-2-7b", 1, 1, 64),
    13e9: ("llama-2-13b", 2, 1, 64),
    70e9: ("llama3-70b", 8, 4, 256),
    405e9: ("llama3-405b", 8, 16, 1024),
}


def _representative_run(params: float, acc: Accelerator) -> RunSpec | None:
    run = _LLM_RUNS.get(params)
    if run is None:
        return None
    preset, tp, pp, count = run
    plan = ParallelPlan(
        tp=tp,
        pp=pp,
        dp=count // (tp * pp),
        sequence_parallel=tp > 1,
        micro_batch_size=1,
        global_batch_size=512,
    )
    return RunSpec(
        id="sim",
        model=get_model(preset),
        hardware=HardwareSpec(accelerator=acc, count=count, gpus_per_node=8),
        parallelism=plan,
        precision="bf16",
        framework="other",
        recompute_stated=False,
    )


@lru_cache(maxsize=256)
def llm_tokens_per_s(params: float, accelerator: str) -> tuple[float, str]:
    """Training tokens/s per accelerator for an LLM of `params` parameters, and the source used.

    For a catalog accelerator and one of the `_LLM_RUNS` sizes, `wanka.perf.evaluate_run` on that
    representative run (when it is valid and fits); otherwise peak bf16 x `ASSUMED_LLM_MFU` /
    (6 x params) (6 FLOP per parameter per token for forward + backward).
    """
    acc = _catalog(accelerator)
    run = None if acc is None else _representative_run(params, acc)
    if run is not None:
        res = evaluate_run(run)
        tps = float(res.tokens_per_s_per_gpu[0])
        if bool(res.fits[0]) and math.isfinite(tps) and tps > 0:
            p = run.parallelism
            return tps, (
                f"wanka.perf predict ({_LLM_RUNS[params][0]}, tp{p.tp} pp{p.pp}, "
                f"{run.hardware.count} accel.)"
            )
    peak = peak_bf16_flops(accelerator) or 1e15
    return peak * ASSUMED_LLM_MFU / (6.0 * params), f"peak bf16 x MFU {ASSUMED_LLM_MFU}"


@lru_cache(maxsize=1)
def gavel_throughputs() -> dict[str, dict[tuple[str, int], float]]:
    """Gavel's isolated throughput matrix: {worker_type: {(job_type, scale): steps/s}}.

    Read from the shipped copy of `simulation_throughputs.json` (MIT, Stanford Future Data
    Systems); co-location entries are dropped.
    """
    path = (
        resources.files("wanka.sim")
        / "data"
        / "traces"
        / "gavel-throughputs"
        / "simulation_throughputs.json.gz"
    )
    with path.open("rb") as fh:
        raw = json.loads(gzip.decompress(fh.read()))
    out: dict[str, dict[tuple[str, int], float]] = {}
    for worker, table in raw.items():
        if worker.endswith("_unconsolidated"):
            continue
        row = {}
        for key, val in table.items():
            name, scale = key.strip("()").rsplit(",", 1)
            iso = val.get("null") if isinstance(val, dict) else None
            if iso:
                row[(name.strip().strip("'\""), int(scale))] = float(iso)
        out[worker] = row
    return out


# Pollux applications -> the closest Gavel job type (used for heterogeneity only).
_GAVEL_ALIASES = {
    "cifar10": "ResNet-18 (batch size 128)",
    "imagenet": "ResNet-50 (batch size 64)",
    "bert": "Transformer (batch size 64)",
    "deepspeech2": "LM (batch size 20)",
    "yolov3": "CycleGAN",
    "ncf": "Recommendation (batch size 2048)",
}


def _gavel_worker(type_name: str) -> str | None:
    n = type_name.lower()
    for w in ("k80", "p100", "v100"):
        if n.startswith(w):
            return w
    return None


class TypeSpeeds:
    """Speed of a job on each accelerator type of a cluster, relative to type 0.

    Where the job names a model and both types are Gavel worker types (K80, P100, V100), the
    ratio of Gavel's measured isolated throughputs for that model at the job's scale; otherwise
    the cluster's per-type speed (given, or the ratio of catalog peaks).
    """

    def __init__(self, cluster: Any, jobs: Any) -> None:
        self.cluster, self.jobs = cluster, jobs
        self._workers = [_gavel_worker(t) for t in cluster.accel_types]
        self._cache: dict[tuple[int, int, int], float] = {}

    def __call__(self, j: int, t: int) -> float:
        m = int(self.jobs.model[j])
        if m < 0 or self._workers[t] is None:
            return float(self.cluster.type_speed[t])
        size = int(self.jobs.size[j])
        key = (m, min(size, 8), t)
        s = self._cache.get(key)
        if s is None:
            s = self._measured(m, size, t)
            self._cache[key] = s
        return s

    def _measured(self, m: int, size: int, t: int) -> float:
        name = self.jobs.models[m]
        name = _GAVEL_ALIASES.get(name, name)
        ref = self._workers[0]
        table = gavel_throughputs() if ref else {}
        scale = max(k for k in (1, 2, 4, 8) if k <= max(size, 1))
        a = table.get(self._workers[t] or "", {}).get((name, scale))
        b = table.get(ref or "", {}).get((name, scale))
        return a / b if a and b else float(self.cluster.type_speed[t])
