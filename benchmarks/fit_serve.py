"""Fit the serving calibration on the TRAIN split of validation/inference_runs.yaml; write the YAML.

    python benchmarks/fit_serve.py            # fit, print train/held-out errors, write the YAML
    python benchmarks/fit_serve.py --dry-run  # fit and print only
    python benchmarks/fit_serve.py --only stream_bw_efficiency,attention_efficiency_scale

Fitted: the `ServeCalibration` parameters in GRID; those in HELD keep a published value. Data: the
offline and fixed-batch cases of the TRAIN
part of the split (`wanka.perf.validate.split_of`: held-out when int(sha1(id), 16) % 3 == 0); the server
and interactive cases run the request-level simulation, too slow to sit inside the fit loop, and are
predicted with the fitted values like the held-out cases. Objective: the mean |log(predicted/measured)|
of output tokens/s per GPU, minimised by coordinate search over a grid per parameter (three sweeps) starting from the shipped
values.
No case is special-cased; held-out cases never enter the fit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import pathlib
import sys
from dataclasses import replace

import numpy as np
import yaml

from wanka.perf.validate import SPLIT_RULE, split_of
from wanka.serve import ServeCalibration, load_serve_specs, predict_serve
from wanka.serve.params import default_serve_calibration
from wanka.serve.spec import ServeError

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT / "validation" / "inference_runs.yaml"
OUT = ROOT / "src" / "wanka" / "catalogs" / "data" / "serve_calibration.yaml"
SWEEPS = 3
GRID = {
    # bounded by physics: with the CUDA memory_bw fraction 0.85, 1.1 streams at 93.5% of HBM peak,
    # about the best copy kernels reach (NVIDIA nvbandwidth device-local copy on H100/H200 ~90-93%)
    "stream_bw_efficiency": np.linspace(0.6, 1.1, 11),
    "gemm_efficiency_scale": np.linspace(0.6, 1.8, 13),
    "attention_efficiency_scale": np.linspace(0.5, 3.0, 11),
    "step_overhead_s": np.linspace(0.0, 0.012, 13),
    "gemm_tile": np.array([32, 64, 128]),
    "moe_expert_half_dim": np.array(
        [0, 250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2500, 3000, 4000]
    ),
}


#: parameters held at a published value, not fitted (written to the YAML's `not_fitted`)
HELD = {
    "moe_ep_imbalance": (
        1.15,
        "the training model's moe_load_imbalance (DeepSeek-V3 report: aux-loss-balanced routers). "
        "A routing statistic, not a kernel efficiency: fitted together with moe_expert_half_dim on "
        "the TRAIN rows (Qwen3-235B and Llama 4 Maverick at EP8, Mixtral on one GPU) the two "
        "trade off with no preference (loss 0.0738 at 2.9 / 250, 0.0741 at 2.0 / 750, 0.0744 at "
        "1.15 / 1,750); fitted alone before moe_expert_half_dim existed it went to 1.8, standing "
        "in for the narrow-expert kernels",
    ),
}


def _errors(specs, cal: ServeCalibration) -> np.ndarray:
    out = []
    for s in specs:
        p = predict_serve(s, calibration=cal)["output_tokens_per_s_per_gpu"]
        out.append(math.log(max(p, 1e-9) / s.measured["output_tokens_per_s_per_gpu"]))
    return np.array(out)


def fit(specs, only: tuple[str, ...] = ()) -> ServeCalibration:
    """Coordinate search from the shipped calibration (a refit never ends above its train loss);
    `only`: fit these parameters and keep the others at their shipped values."""
    cal = replace(default_serve_calibration(), **{k: v for k, (v, _) in HELD.items()})
    grids = {k: v for k, v in GRID.items() if not only or k in only}
    best = np.mean(np.abs(_errors(specs, cal)))
    for _ in range(SWEEPS):
        for name, grid in grids.items():
            for v in grid:
                trial = replace(cal, **{name: int(v) if name == "gemm_tile" else float(v)})
                loss = np.mean(np.abs(_errors(specs, trial)))
                if loss < best - 1e-9:
                    best, cal = loss, trial
        print(f"sweep: loss {best:.4f} {cal}", file=sys.stderr)
    return cal


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated parameters to fit (default: all)")
    args = ap.parse_args()
    only = tuple(x for x in args.only.split(",") if x)
    if set(only) - set(GRID):
        ap.error(
            f"--only: unknown parameter(s) {sorted(set(only) - set(GRID))}; choose from {sorted(GRID)}"
        )
    specs = [s for s in load_serve_specs(DATA) if not isinstance(s, ServeError)]
    specs = [s for s in specs if (s.measured or {}).get("output_tokens_per_s_per_gpu")]
    train = [
        s for s in specs if split_of(s.id) == "train" and s.scenario in ("offline", "fixed-batch")
    ]
    held = [
        s
        for s in specs
        if split_of(s.id) == "held-out" and s.scenario in ("offline", "fixed-batch")
    ]
    cal = fit(train, only)
    for name, part in (("train", train), ("held-out", held)):
        e = np.abs(np.expm1(_errors(part, cal)))
        print(
            f"{name}: n={len(e)} median |err| {np.median(e):.1%}, p90 {np.sort(e)[round(0.9 * (len(e) - 1))]:.1%}"
        )
    if args.dry_run:
        return
    doc = {
        "fitted_on": f"{len(train)} offline/fixed-batch TRAIN cases of validation/inference_runs.yaml "
        f"(ids: {', '.join(s.id for s in train)})",
        "split": SPLIT_RULE,
        "date": dt.date.today().isoformat(),
        "objective": "mean |log(predicted / measured)| of output tokens/s per GPU",
        "script": "benchmarks/fit_serve.py" + (f" --only {','.join(only)}" if only else ""),
        "parameters": {
            "stream_bw_efficiency": round(cal.stream_bw_efficiency, 4),
            "gemm_efficiency_scale": round(cal.gemm_efficiency_scale, 4),
            "attention_efficiency_scale": round(cal.attention_efficiency_scale, 4),
            "step_overhead_s": round(cal.step_overhead_s, 5),
            "gemm_tile": int(cal.gemm_tile),
            "moe_ep_imbalance": round(cal.moe_ep_imbalance, 3),
            "moe_expert_half_dim": round(cal.moe_expert_half_dim, 1),
        },
        "not_fitted": {k: f"{v}: {why}" for k, (v, why) in HELD.items()},
    }
    header = "# Serving calibration (wanka.serve.params.ServeCalibration), written by benchmarks/fit_serve.py.\n"
    OUT.write_text(header + yaml.safe_dump(doc, sort_keys=False, width=100), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
