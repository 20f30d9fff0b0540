#!/usr/bin/env python3
"""Time `wanka.perf.evaluate` on random candidate configurations (one core, one call per model).

    python benchmarks/bench_perf.py [--n 1000000] [--count 1024] [--accelerator h100-sxm]

Candidates: tp, pp, cp, ep, vpp, micro-batch size, recompute, fsdp, distributed optimizer and sequence
parallel drawn at random (dp = count / (tp * pp * cp), so most candidates are well formed; the rest are
masked `valid == False` as a search would see them). Prints configurations per second for a 70B dense
model (llama3-70b) and a DeepSeek-V3-like MoE model (deepseek-v3) on `count` accelerators.
Target (issue 3): >= 100,000 configurations/s on one core.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np

from wanka.catalogs import get_accelerator
from wanka.perf import PlanArrays, evaluate
from wanka.workload.presets import get_model


def random_plans(n: int, count: int, moe: bool, rng: np.random.Generator) -> PlanArrays:
    tp = rng.choice([1, 2, 4, 8], n)
    pp = rng.choice([1, 2, 4, 8, 16], n)
    cp = rng.choice([1, 1, 1, 2, 4], n)
    dp = np.maximum(count // (tp * pp * cp), 1)
    ep = rng.choice([1, 8, 16, 32, 64], n) if moe else np.ones(n, dtype=np.int64)
    return PlanArrays(
        tp=tp,
        pp=pp,
        vpp=np.where(pp > 1, rng.choice([1, 2, 4], n), 1),
        cp=cp,
        ep=ep,
        etp=np.ones(n, dtype=np.int64),
        dp=dp,
        micro_batch_size=rng.choice([1, 2, 4], n),
        fsdp=rng.choice([0, 0, 1, 2], n),
        distributed_optimizer=rng.random(n) < 0.8,
        sequence_parallel=tp > 1,
        recompute=rng.choice([0, 1, 2], n),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--count", type=int, default=1024)
    ap.add_argument("--accelerator", default="h100-sxm")
    ap.add_argument("--global-batch-size", type=int, default=2048)
    args = ap.parse_args()
    acc = get_accelerator(args.accelerator)
    rng = np.random.default_rng(0)
    for mid in ("llama3-70b", "deepseek-v3"):
        model = get_model(mid)
        plans = random_plans(args.n, args.count, model.moe is not None, rng)
        evaluate(
            model,
            acc,
            plans.take(np.arange(1000)),
            count=args.count,
            gpus_per_node=acc.gpus_per_node,
            global_batch_size=args.global_batch_size,
            seq_len=model.seq_len,
            precision="bf16",
        )  # warm-up
        t = time.perf_counter()
        res = evaluate(
            model,
            acc,
            plans,
            count=args.count,
            gpus_per_node=acc.gpus_per_node,
            global_batch_size=args.global_batch_size,
            seq_len=model.seq_len,
            precision="bf16",
        )
        dt = time.perf_counter() - t
        print(
            f"{mid:12s} {args.n:,} configurations on {args.count} x {acc.id}: {dt:.2f} s, "
            f"{args.n / dt:,.0f} configurations/s; valid {int(res.valid.sum()):,}, fits {int(res.fits.sum()):,}, "
            f"best {np.nanmax(np.where(res.fits, res.tokens_per_s_per_gpu, np.nan)):,.0f} tokens/s/GPU"
        )


if __name__ == "__main__":
    main()
