"""Job speed: adapters to the rest of wanka, each with a documented fallback.

Three questions, one small function each, so the simulator never depends on modules that may
be missing or still being written:

* `relative_type_speed(type, ref)` - how much faster a job runs on accelerator type `type` than on
  `ref`: ratio of dense bf16 peaks from `wanka.catalogs.get_accelerator`, else from the spec-sheet
  table `_PEAK_BF16_FLOPS` below, else 1.0.
* `placement_speed(...)` - the slowdown of a data-parallel job whose accelerators are spread over
  more of the network than needed: per step, `step_s + t_allreduce(tier)` against
  `step_s + t_allreduce(compact tier)`. The all-reduce time comes from
  `wanka.topology.collective.collective_time` when it is importable, else from the alpha-beta ring
  estimate `2 (n-1) alpha + 2 (n-1)/n * bytes / bw` (Patarasuk & Yuan 2009), with the bottleneck
  bandwidth of the tier the job spans (scale-up; one leaf; across leaves / oversubscription;
  across pods / oversubscription).
* `llm_tokens_per_s(params, accelerator)` - LLM training throughput per accelerator, from
  `wanka.perf.predict_runs` if present, else `bf16 peak * MFU 0.4 / (6 * params)` (6 FLOP per
  parameter per token, Kaplan et al. 2020), with the MFU stated as an assumption.
"""

from __future__ import annotations

import gzip
import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

__all__ = [
    "ASSUMED_LLM_MFU",
    "DEFAULT_GRAD_BYTES",
    "DEFAULT_STEP_S",
    "Tier",
    "allreduce_s",
    "gavel_throughputs",
    "llm_tokens_per_s",
    "peak_bf16_flops",
    "placement_speed",
    "relative_type_speed",
]

ASSUMED_LLM_MFU = 0.4
"""Model-FLOPs utilisation assumed for LLM jobs when `wanka.perf` is not available."""
DEFAULT_GRAD_BYTES = 4 * 100e6
"""Gradient bytes per step for trace jobs that do not say: a 100 M-parameter fp32 model."""
DEFAULT_STEP_S = 0.3
"""Compute seconds per step for trace jobs that do not say (a typical CNN/BERT-base step)."""

# Dense bf16 (fp16 tensor-core where bf16 is absent) peak per accelerator, FLOP/s, spec sheets:
# NVIDIA V100/T4/A10/A100/H100/H800/A800/B200 datasheets; AMD MI300X datasheet. K80/P100 have no
# tensor cores: FP32 (K80) and FP16 (P100) peaks.
_PEAK_BF16_FLOPS = {
    "k80": 8.73e12,
    "p100": 21.2e12,
    "v100": 125e12,
    "v100m16": 125e12,
    "v100m32": 125e12,
    "t4": 65e12,
    "a10": 125e12,
    "a100": 312e12,
    "a800": 312e12,
    "h100": 989e12,
    "h100-sxm": 989e12,
    "h800": 989e12,
    "h200": 989e12,
    "b200": 2250e12,
    "mi300x": 1307e12,
}


class Tier:
    """How far a placement spreads: the smallest level that holds all its accelerators."""

    DOMAIN = 0
    LEAF = 1
    POD = 2
    CLUSTER = 3


def peak_bf16_flops(accelerator: str) -> float | None:
    """Dense bf16 peak FLOP/s of an accelerator id, or None when unknown."""
    try:
        from wanka.catalogs import get_accelerator  # type: ignore[attr-defined]

        acc = get_accelerator(accelerator)
        peak = getattr(acc, "peak_flops", {}) or {}
        value = peak.get("bf16") if isinstance(peak, dict) else None
        if value:
            return float(value)
    except Exception:  # noqa: BLE001 - catalog absent or id unknown: use the table
        pass
    return _PEAK_BF16_FLOPS.get(accelerator.lower())


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


@lru_cache(maxsize=64)
def _accelerator(accelerator: str) -> Any:
    """The catalog record of an accelerator id, or None (catalog absent or id unknown)."""
    if accelerator == "generic":
        return None
    try:
        from wanka.catalogs import get_accelerator  # type: ignore[attr-defined]

        return get_accelerator(accelerator)
    except Exception:  # noqa: BLE001 - no catalog entry: the alpha-beta fallback is used
        return None


def allreduce_s(
    nbytes: float,
    ranks: int,
    ranks_per_node: int,
    bw_bytes_per_s: float,
    latency_s: float,
    accelerator: str = "generic",
) -> float:
    """All-reduce seconds over a group whose slowest tier has `bw_bytes_per_s` per accelerator.

    With a catalog accelerator and `wanka.topology.collective` importable, this is
    `collective_time("all-reduce", ...)` with a `FabricTier` at that bandwidth (no in-network
    reduction); otherwise the alpha-beta ring estimate.
    """
    acc = _accelerator(accelerator)
    if acc is not None:
        try:
            from wanka.topology.collective import FabricTier, collective_time

            rpn = min(ranks_per_node, ranks)
            fabric = (
                None
                if rpn >= ranks
                else FabricTier(bw_bytes_per_s=bw_bytes_per_s, in_network_reduction=False)
            )
            t = float(
                np.asarray(
                    collective_time("all-reduce", nbytes, ranks, rpn, acc, fabric=fabric)
                ).reshape(-1)[0]
            )
            if math.isfinite(t) and t >= 0:
                return t
        except Exception:  # noqa: BLE001 - module missing or signature drift: fall back
            pass
    return _ring_allreduce_s(nbytes, ranks, bw_bytes_per_s, latency_s)


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


# Representative runs for `wanka.perf.predict_runs`: parameters -> (preset, tp, pp, accelerators).
_LLM_RUNS = {
    7e9: ("llama-2-7b", 1, 1, 64),
    13e9: ("llama-2-13b", 2, 1, 64),
    70e9: ("llama3-70b", 8, 4, 256),
    405e9: ("llama3-405b", 8, 16, 1024),
}


@lru_cache(maxsize=256)
def llm_tokens_per_s(params: float, accelerator: str) -> tuple[float, str]:
    """Training tokens/s per accelerator for an LLM of `params` parameters, and the source used.

    When `wanka.perf.predict_runs` is importable and `params` is one of `_LLM_RUNS`, the
    prediction for that representative run (Megatron-style tp/pp, bf16, micro-batch 1, global
    batch 512 sequences); otherwise peak bf16 x `ASSUMED_LLM_MFU` / (6 x params) (6 FLOP per
    parameter per token for forward + backward).
    """
    run = _LLM_RUNS.get(params)
    if run is not None and _accelerator(accelerator) is not None:
        try:
            from wanka.perf import predict_runs
            from wanka.spec import parse_run

            preset, tp, pp, count = run
            spec = parse_run(
                {
                    "id": "sim",
                    "model": {"preset": preset},
                    "hardware": {"accelerator": accelerator, "count": count},
                    "parallelism": {
                        "tp": tp,
                        "pp": pp,
                        "micro_batch_size": 1,
                        "global_batch_size": 512,
                    },
                    "precision": "bf16",
                }
            )
            out = predict_runs([spec])[0]
            tps = out.get("tokens_per_s_per_gpu")
            if isinstance(tps, (int, float)) and tps > 0 and out.get("fits", True):
                return float(tps), f"wanka.perf predict ({preset}, tp{tp} pp{pp}, {count} accel.)"
        except Exception:  # noqa: BLE001 - perf model absent or run rejected: peak x MFU below
            pass
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
