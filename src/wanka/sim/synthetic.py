"""Synthetic LLM-era workload: training, inference and elastic jobs of many tenants.

The mix is shaped after the LLM-development traces summarised in `research/scheduling.md`
(Acme: Seren/Kalos, max 1,024 GPUs per job and many short debug/evaluation jobs; Helios max
2,048): most jobs are small, a few pre-training runs take thousands of accelerators.

* sizes: 1..`max_size` accelerators, powers of two, with `_SIZE_WEIGHTS` below;
* model size grows with job size (1 B ... 405 B parameters), step time from
  `speed.llm_tokens_per_s` (peak x MFU 0.4 unless `wanka.perf` answers), 4 M tokens per step;
* run time: log-uniform, 10 min..12 h for small jobs, up to 7 days for large training runs;
  inference services live 1..24 h;
* tenants: Zipf(1.1) popularity over `tenants` teams;
* arrivals: Poisson, rate set so the offered load is `load` x the cluster's accelerators.
"""

from __future__ import annotations

import numpy as np

from wanka.errors import ConfigError
from wanka.sim.jobs import KIND_CODES, JobKind, JobTable, Trace
from wanka.sim.speed import llm_tokens_per_s

__all__ = ["synthetic_llm_trace"]

_SIZES = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192])
_SIZE_WEIGHTS = np.array(
    [0.30, 0.05, 0.05, 0.25, 0.10, 0.08, 0.06, 0.04, 0.03, 0.02, 0.012, 0.006, 0.002, 0.001]
)
_PARAMS = np.array([1e9, 7e9, 13e9, 70e9, 405e9])
TOKENS_PER_STEP = 4e6
"""Global batch in tokens per optimizer step (typical LLM pre-training)."""


def synthetic_llm_trace(
    *,
    jobs: int,
    accelerators: int,
    seed: int = 0,
    tenants: int = 8,
    load: float = 0.9,
    max_size: int | None = None,
    accelerator: str = "h100-sxm",
) -> Trace:
    """Generate `jobs` jobs for a cluster of `accelerators` at offered `load`.

    Args:
        jobs: number of jobs.
        accelerators: cluster size, sets the arrival rate and the default max job size.
        seed: seed of the generator's own numpy Generator.
        tenants: number of tenants.
        load: offered load (accelerator-seconds requested per second / accelerators).
        max_size: largest job (default: a quarter of the cluster, at most 8192).
        accelerator: type used to turn model size into step time.
    """
    if jobs < 1 or accelerators < 1 or not 0 < load <= 10 or tenants < 1:
        raise ConfigError(
            f"synthetic trace needs jobs >= 1 ({jobs}), accelerators >= 1 "
            f"({accelerators}), 0 < load <= 10 ({load}), tenants >= 1 ({tenants})"
        )
    rng = np.random.default_rng(seed)
    cap = max_size or max(1, min(8192, accelerators // 4))
    ok = _SIZES <= cap
    w = _SIZE_WEIGHTS[ok] / _SIZE_WEIGHTS[ok].sum()
    size = rng.choice(_SIZES[ok], size=jobs, p=w).astype(np.int64)
    u = rng.random(jobs)
    kind = np.where(u < 0.7, 0, np.where(u < 0.9, 1, 2)).astype(np.int8)
    # Inference services are small (one node at most).
    inf = kind == KIND_CODES.index(JobKind.INFERENCE.value)
    size[inf] = np.minimum(size[inf], 8)
    # Run time: log-uniform; the upper end grows with size for training.
    lo, hi = np.log(600.0), np.log(12 * 3600.0) + np.log2(size) * np.log(7 * 24 / 12) / 13
    work = np.exp(lo + (hi - lo) * rng.random(jobs))
    work[inf] = np.exp(np.log(3600.0) + np.log(24.0) * rng.random(int(inf.sum())))
    # Model size by job size: 1-8 -> 1-7 B, 16-128 -> 13-70 B, >= 256 -> 70-405 B.
    pi = np.clip(
        np.searchsorted([8, 128, 1024], size, side="right") + rng.integers(0, 2, jobs),
        0,
        len(_PARAMS) - 1,
    )
    params = _PARAMS[pi]
    tps = np.array([llm_tokens_per_s(p, accelerator)[0] for p in _PARAMS])[pi]
    step_s = TOKENS_PER_STEP / (size * tps)
    grad_bytes = 2.0 * params / np.minimum(size, 64)  # bf16 grads, sharded by model parallelism
    ranks = np.arange(1, tenants + 1, dtype=np.float64) ** -1.1
    tenant = rng.choice(tenants, size=jobs, p=ranks / ranks.sum()).astype(np.int32)
    mean_demand = float(np.mean(size * work))
    rate = load * accelerators / mean_demand
    arrival = np.cumsum(rng.exponential(1.0 / rate, jobs))
    table = JobTable(
        name=tuple(f"syn-{i}" for i in range(jobs)),
        arrival_s=arrival,
        size=size,
        work_s=work,
        tenant=tenant,
        priority=np.where(inf, 1, 0).astype(np.int32),
        kind=kind,
        accel_type=np.full(jobs, -1, np.int32),
        model=np.full(jobs, -1, np.int32),
        tenants=tuple(f"tenant-{i}" for i in range(tenants)),
        grad_bytes=grad_bytes,
        step_s=step_s,
    )
    return Trace(jobs=table, source=f"synthetic:{jobs}", format="synthetic")
