#!/usr/bin/env python3
"""Fit the step model's named efficiency parameters on the TRAIN split of training_runs.yaml.

    python benchmarks/fit_calibration.py [--data validation/training_runs.yaml] [--only A,B] [--write]

`--only` fits the named parameters and keeps the others at their shipped values; when they are all MoE
parameters the objective runs over the MoE TRAIN runs only (the dense ones do not depend on them).

Split (fixed; `wanka.perf.validate.split_of`): a case is held out when int(sha1(id), 16) % 3 == 0; only
TRAIN cases of type dense or moe are used here. Objective: mean |log(predicted / measured)| of
tokens/s/GPU (robust to the 5-15% container-to-container noise the README warns about).
Method: coordinate descent over multiplicative steps, a few sweeps with shrinking steps (no scipy).

Fitted (and nothing else):
  * Calibration (wanka/catalogs/data/calibration.yaml): gemm_half_dim, moe_grouped_gemm, ep_a2a_hidden,
    ep_a2a_hidden_mnnvl (EP groups inside a multi-node NVLink domain),
    tp_comm_hidden, moe_layer_overhead_s, moe_expert_gemm_s,
    lowp_gemm_speedup for fp8 / mxfp8 / nvfp4 (fp8-blockwise follows fp8 x 0.9: one public run only),
    microbatch_overhead_s, step_overhead_s.
  * software_efficiency (wanka/catalogs/data/software.yaml, `accelerators:` entries): `gemm` per chip
    generation present in the data (A100 40/80 GB share one value, H100, B200 + GB200, B300 + GB300), and
    `attention` for the same groups (FlashAttention-2 reaches ~70% of peak on A100 but ~35% on H100 - Dao
    2023, Shah et al. 2024 - so the fraction is a property of chip and kernel generation).
With --write the two YAML files are rewritten (software.yaml only when a chip fraction was fitted);
without it the fit is printed only.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from wanka.perf.params import Calibration, default_calibration
from wanka.perf.predict import evaluate_run
from wanka.perf.validate import FIT_TYPES, SPLIT_RULE, pct, split_of
from wanka.spec import load_runs

DATA = ROOT / "validation" / "training_runs.yaml"
CAL_PATH = ROOT / "src" / "wanka" / "catalogs" / "data" / "calibration.yaml"
SW_PATH = ROOT / "src" / "wanka" / "catalogs" / "data" / "software.yaml"

# chip groups sharing one fitted GEMM fraction (same silicon generation and software era)
GEMM_GROUPS = {
    "a100": ("a100-40gb", "a100-80gb"),
    "h100": ("h100-sxm",),
    "b200": ("b200", "gb200"),
    "b300": ("b300", "gb300"),
}
# The stated cross-vendor estimates (fractions written against CUDA at gemm 0.8, attention 0.6): each run
# rescales them by fitted-CUDA / estimated-CUDA so the vendor ratios stay as estimated and sourced.
CUDA_ESTIMATE = {"gemm": 0.8, "attention": 0.6}
STACK_ESTIMATES = {
    "ROCm (HIP)": {
        "gemm": 0.55,
        "attention": 0.45,
        "source": "estimate: public MI300X-vs-H100 training benchmarks (SemiAnalysis, 2024-12-22, semianalysis.com) found ROCm BF16 GEMM well below the datasheet peak",
    },
    "CANN": {
        "gemm": 0.65,
        "attention": 0.5,
        "source": "estimate: Ascend 910B/910C large-cluster training reports (Pangu Ultra, arXiv 2504.07866) give MFU near half of peak",
    },
    "Intel Gaudi software (SynapseAI)": {
        "gemm": 0.7,
        "attention": 0.5,
        "source": "estimate: Intel Gaudi 2/3 MLPerf Training submissions (mlcommons.org) reach a large share of peak on GPT-3",
    },
    "XLA": {
        "gemm": 0.75,
        "attention": 0.6,
        "source": "estimate: MaxText reports 50-60% MFU on TPU v4/v5p (github.com/AI-Hypercomputer/maxtext README)",
    },
    "XLA (JAX / PyTorch-XLA)": {
        "gemm": 0.75,
        "attention": 0.6,
        "source": "estimate: MaxText TPU MFU tables (github.com/AI-Hypercomputer/maxtext README)",
    },
    "AWS Neuron SDK": {
        "gemm": 0.6,
        "attention": 0.45,
        "source": "estimate: AWS Neuron NxD training performance pages (awsdocs-neuron.readthedocs-hosted.com) report MFU well under half of peak",
    },
    "Cambricon Neuware (CNToolkit, CNNL, BANG C)": {
        "gemm": 0.5,
        "attention": 0.35,
        "source": "estimate: no public large-scale MFU figure; assumed below CANN",
    },
    "CoreX SDK (CUDA-compatible 'IXUCA')": {
        "gemm": 0.5,
        "attention": 0.35,
        "source": "estimate: no public large-scale MFU figure",
    },
    "Kunlun XPU SDK (XRE/XDNN)": {
        "gemm": 0.5,
        "attention": 0.35,
        "source": "estimate: no public large-scale MFU figure",
    },
    "MUSA": {
        "gemm": 0.45,
        "attention": 0.3,
        "source": "estimate: no public large-scale MFU figure; young stack",
    },
    "TopsRider (TopsPlatform)": {
        "gemm": 0.45,
        "attention": 0.3,
        "source": "estimate: no public large-scale MFU figure",
    },
    "BIRENSUPA": {
        "gemm": 0.45,
        "attention": 0.3,
        "source": "estimate: no public large-scale MFU figure; young stack",
    },
}

BOUNDS = {
    "gemm_half_dim": (8.0, 1024.0),
    "moe_grouped_gemm": (0.2, 1.0),
    "fp8": (1.0, 2.0),
    "mxfp8": (1.0, 2.0),
    "nvfp4": (1.0, 4.0),
    "microbatch_overhead_s": (0.0, 0.05),
    "step_overhead_s": (0.0, 2.0),
    "ep_a2a_hidden": (0.0, 0.95),
    "ep_a2a_hidden_mnnvl": (0.0, 1.0),
    "moe_layer_overhead_s": (0.0, 0.02),
    "moe_expert_gemm_s": (0.0, 2e-4),
    "tp_comm_hidden": (0.0, 0.95),
    **{f"gemm:{g}": (0.2, 1.0) for g in GEMM_GROUPS},
    **{f"attention:{g}": (0.1, 1.0) for g in GEMM_GROUPS},
}


MOE_PARAMS = {
    "moe_grouped_gemm",
    "moe_expert_gemm_s",
    "moe_layer_overhead_s",
    "ep_a2a_hidden",
    "ep_a2a_hidden_mnnvl",
}


def params_of(cal: Calibration, sw: dict) -> dict[str, float]:
    p = {
        "gemm_half_dim": cal.gemm_half_dim,
        "moe_grouped_gemm": cal.moe_grouped_gemm,
        "fp8": cal.lowp_gemm_speedup["fp8"],
        "mxfp8": cal.lowp_gemm_speedup["mxfp8"],
        "nvfp4": cal.lowp_gemm_speedup["nvfp4"],
        "microbatch_overhead_s": cal.microbatch_overhead_s,
        "step_overhead_s": cal.step_overhead_s,
        "ep_a2a_hidden": cal.ep_a2a_hidden,
        "ep_a2a_hidden_mnnvl": (
            cal.ep_a2a_hidden if cal.ep_a2a_hidden_mnnvl is None else cal.ep_a2a_hidden_mnnvl
        ),
        "moe_layer_overhead_s": max(cal.moe_layer_overhead_s, 1e-4),
        "moe_expert_gemm_s": max(cal.moe_expert_gemm_s, 1e-5),
        "tp_comm_hidden": max(cal.tp_comm_hidden, 0.3),
    }
    for g in GEMM_GROUPS:
        p[f"gemm:{g}"] = sw["gemm"][g]
        p[f"attention:{g}"] = sw["attention"][g]
    return p


def build(p: dict[str, float], base: Calibration) -> tuple[Calibration, dict[str, float], float]:
    cal = dataclasses.replace(
        base,
        gemm_half_dim=p["gemm_half_dim"],
        moe_grouped_gemm=p["moe_grouped_gemm"],
        lowp_gemm_speedup={
            "fp8": p["fp8"],
            "fp8-blockwise": 0.9 * p["fp8"],
            "mxfp8": p["mxfp8"],
            "nvfp4": p["nvfp4"],
        },
        microbatch_overhead_s=p["microbatch_overhead_s"],
        step_overhead_s=p["step_overhead_s"],
        ep_a2a_hidden=p["ep_a2a_hidden"],
        ep_a2a_hidden_mnnvl=p["ep_a2a_hidden_mnnvl"],
        moe_layer_overhead_s=p["moe_layer_overhead_s"],
        moe_expert_gemm_s=p["moe_expert_gemm_s"],
        tp_comm_hidden=p["tp_comm_hidden"],
    )
    gemm = {acc: p[f"gemm:{g}"] for g, accs in GEMM_GROUPS.items() for acc in accs}
    attn = {acc: p[f"attention:{g}"] for g, accs in GEMM_GROUPS.items() for acc in accs}
    return cal, gemm, attn


def predictions(runs, p, base) -> np.ndarray:
    cal, gemm, attn = build(p, base)
    out = []
    for run in runs:
        acc = run.hardware.accelerator
        se = dataclasses.replace(
            acc.software_efficiency,
            gemm=gemm.get(acc.id, acc.software_efficiency.gemm),
            attention=attn.get(acc.id, acc.software_efficiency.attention),
        )
        res = evaluate_run(
            run, calibration=cal, accelerator=dataclasses.replace(acc, software_efficiency=se)
        )
        out.append(res.tokens_per_s_per_gpu[0])
    return np.array(out)


def objective(runs, meas, p, base) -> float:
    pred = predictions(runs, p, base)
    if not np.all(np.isfinite(pred)):
        return math.inf
    return float(np.mean(np.abs(np.log(pred / meas))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument(
        "--write", action="store_true", help="rewrite calibration.yaml and software.yaml"
    )
    ap.add_argument("--sweeps", type=int, default=4)
    ap.add_argument(
        "--only",
        default="",
        help="comma-separated parameter names to fit (the others keep their shipped values)",
    )
    args = ap.parse_args()

    all_runs = [
        r for r in load_runs(args.data) if hasattr(r, "model") and r.model.type in FIT_TYPES
    ]
    train = [r for r in all_runs if split_of(r.id) == "train"]
    held = [r for r in all_runs if split_of(r.id) == "held-out"]
    meas_t = np.array([r.measured["tokens_per_s_per_gpu"] for r in train], dtype=float)
    meas_h = np.array([r.measured["tokens_per_s_per_gpu"] for r in held], dtype=float)
    print(
        f"{len(all_runs)} dense/moe cases: {len(train)} train, {len(held)} held-out ({SPLIT_RULE})"
    )

    base = default_calibration()
    sw_data = yaml.safe_load(SW_PATH.read_text())
    accs = sw_data.get("accelerators") or {}
    cuda = sw_data["stacks"]["CUDA"]
    sw = {
        "attention": {g: (accs.get(ids[0]) or cuda)["attention"] for g, ids in GEMM_GROUPS.items()},
        "gemm": {g: (accs.get(ids[0]) or cuda)["gemm"] for g, ids in GEMM_GROUPS.items()},
    }
    p = params_of(base, sw)
    only = [n for n in args.only.split(",") if n]
    unknown = sorted(set(only) - set(p))
    if unknown:
        sys.exit(f"error: unknown parameter(s) {unknown}; fit one of {sorted(p)}")
    n_train = len(train)
    if only and set(only) <= MOE_PARAMS:
        # dense runs do not depend on these: the same argmin over the MoE train runs, much faster
        moe = [i for i, r in enumerate(train) if r.model.moe is not None]
        train, meas_t = [train[i] for i in moe], meas_t[moe]
        print(f"fitting {only} on the {len(train)} MoE train runs")
    best = objective(train, meas_t, p, base)
    print(f"start: train mean|log err| {best:.4f}")
    t0 = time.time()
    steps = [0.2, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125]
    for sweep in range(args.sweeps):
        step = steps[min(sweep, len(steps) - 1)]
        for name in only or p:
            lo, hi = BOUNDS[name]
            cands = []
            for factor in (
                1 + step,
                1 - step,
                1 + 2 * step,
                1 - 2 * step,
                1 + 4 * step,
                1 - 3 * step,
            ):
                trial = dict(p)
                trial[name] = min(hi, max(lo, p[name] * factor))
                if trial[name] != p[name]:
                    cands.append((objective(train, meas_t, trial, base), trial))
            if cands:
                f, trial = min(cands, key=lambda c: c[0])
                if f < best - 1e-5:
                    best, p = f, trial
        print(f"sweep {sweep + 1}: train mean|log err| {best:.4f} ({time.time() - t0:.0f}s)")
    pred_t, pred_h = predictions(train, p, base), predictions(held, p, base)
    for name, pr, me in (("train", pred_t, meas_t), ("held-out", pred_h, meas_h)):
        e = list(np.abs(pr / me - 1))
        print(f"{name:9s} n={len(e)} median {pct(e, 0.5):.1%} p90 {pct(e, 0.9):.1%}")
    for k, v in p.items():
        print(f"  {k:24s} {v:.4g}")
    if not args.write:
        return

    today = dt.date.today().isoformat()
    cal, gemm, attn = build(p, base)
    cal_doc = {
        "fitted_on": f"{Path(args.data).name}: {n_train} TRAIN cases of type dense/moe"
        + (f"; {', '.join(only)} refitted {today} on {len(train)} of them" if only else ""),
        "split": SPLIT_RULE,
        "objective": "mean |log(predicted / measured)| of tokens/s/GPU",
        "script": "benchmarks/fit_calibration.py --write",
        "date": today,
        "parameters": {
            "gemm_half_dim": round(cal.gemm_half_dim, 3),
            "gemm_tile": cal.gemm_tile,
            "attention_head_dim_half": cal.attention_head_dim_half,
            "moe_grouped_gemm": round(cal.moe_grouped_gemm, 4),
            "moe_load_imbalance": cal.moe_load_imbalance,
            "ep_a2a_hidden": round(cal.ep_a2a_hidden, 4),
            "ep_a2a_hidden_mnnvl": round(cal.ep_a2a_hidden_mnnvl, 4),
            "tp_comm_hidden": round(cal.tp_comm_hidden, 4),
            "moe_layer_overhead_s": round(cal.moe_layer_overhead_s, 6),
            "moe_expert_gemm_s": round(cal.moe_expert_gemm_s, 8),
            "lowp_gemm_speedup": {k: round(v, 4) for k, v in cal.lowp_gemm_speedup.items()},
            "microbatch_overhead_s": round(cal.microbatch_overhead_s, 6),
            "step_overhead_s": round(cal.step_overhead_s, 5),
            "main_grad_bytes": cal.main_grad_bytes,
            "allocator_margin": cal.allocator_margin,
            "runtime_reserved_bytes": cal.runtime_reserved_bytes,
        },
        "not_fitted": {
            "gemm_tile": "CUTLASS/cuBLAS 128-wide tiles",
            "attention_head_dim_half": "FlashAttention-2 paper",
            "moe_load_imbalance": "DeepSeek-V3 report (aux-loss-balanced routers)",
            "main_grad_bytes": (
                "Megatron-core DDP grad_reduce_in_fp32=False default, as the "
                "Megatron-Bridge performance recipes set it (bf16 grad buffer)"
            ),
            "allocator_margin": "stated",
            "runtime_reserved_bytes": "stated",
        },
    }
    header = (
        "# Calibration of the training step model (wanka.perf.params.Calibration).\n"
        "# Generated by benchmarks/fit_calibration.py --write; do not edit by hand.\n"
    )
    CAL_PATH.write_text(header + yaml.safe_dump(cal_doc, sort_keys=False))
    if only and not any(n.startswith(("gemm:", "attention:")) for n in only):
        print(f"wrote {CAL_PATH.relative_to(ROOT)} (no chip fraction fitted: software.yaml kept)")
        return
    new_accs = dict(accs)
    for acc_id, g in gemm.items():
        entry = dict(cuda)
        entry["gemm"] = round(g, 4)
        entry["attention"] = round(attn[acc_id], 4)
        entry["source"] = (
            f"gemm and attention fitted {today} on the TRAIN split of training_runs.yaml "
            f"({SPLIT_RULE}) for {acc_id}; memory_bw/collective as the CUDA stack (estimates)"
        )
        new_accs[acc_id] = entry
    # NVIDIA chips without data (H200, H800, B100...) take the CUDA stack entry: the median of the fits
    cuda["gemm"] = round(float(np.median(list(gemm.values()))), 4)
    cuda["attention"] = round(float(np.median(list(attn.values()))), 4)
    cuda["source"] = (
        f"gemm and attention: median of the per-chip fits of {today} (TRAIN split of "
        f"training_runs.yaml, {SPLIT_RULE}); memory_bw and collective are estimates "
        "(STREAM-like kernels; NCCL per-link constants, see topology.collective)"
    )
    for stack, est in STACK_ESTIMATES.items():
        if stack not in sw_data["stacks"]:
            continue
        rg, ra = (
            cuda["gemm"] / CUDA_ESTIMATE["gemm"],
            cuda["attention"] / CUDA_ESTIMATE["attention"],
        )
        entry = sw_data["stacks"][stack]
        entry["gemm"] = round(est["gemm"] * rg, 4)
        entry["attention"] = round(est["attention"] * ra, 4)
        entry["source"] = (
            f"{est['source']}; gemm/attention rescaled x{rg:.2f}/x{ra:.2f} by the fitted CUDA "
            "values over the CUDA estimates they were written against (0.8/0.6), keeping the "
            "estimated vendor ratios"
        )
    sw_data["accelerators"] = new_accs
    head = SW_PATH.read_text().split("stacks:")[0]
    SW_PATH.write_text(
        head
        + yaml.safe_dump(
            {"stacks": sw_data["stacks"], "accelerators": new_accs}, sort_keys=False, width=200
        )
    )
    print(f"wrote {CAL_PATH.relative_to(ROOT)} and {SW_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
