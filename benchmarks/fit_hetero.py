"""Fit the heterogeneous model's named parameters on the TRAIN split of validation/hetero_runs.yaml.

    python benchmarks/fit_hetero.py            # fit, print train and held-out figures
    python benchmarks/fit_hetero.py --write    # also write catalogs/data/hetero.yaml and the chip entries

Split: the project rule (`wanka.perf.validate.split_of`: held-out if sha1(id) % 3 == 0). Parameters:
  * software_efficiency.gemm of t4 and v100-sxm (attention scaled by the same ratio): the only data on
    these chips are these runs (training_runs.yaml has none);
  * software_efficiency.collective of t4 (PCIe-only server: NCCL rings through the host bridge);
  * HeteroCalibration.layer_bytes_per_token (unfused-kernel memory traffic per token per layer).
Objective on the TRAIN runs: mean |log(predicted / measured step time)| plus, per set, log(measured time
of the train run the model ranks first / the best measured train run) - the two figures the acceptance
uses (step-time error; the layout ranked first). Coarse grid, then coordinate search (no scipy).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
from datetime import date
from pathlib import Path

import yaml

from wanka.perf.hetero import predict_hetero
from wanka.perf.params import HeteroCalibration
from wanka.perf.validate import split_of
from wanka.spec import load_runs

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "validation" / "hetero_runs.yaml"
OUT = ROOT / "src" / "wanka" / "catalogs" / "data" / "hetero.yaml"
SW = ROOT / "src" / "wanka" / "catalogs" / "data" / "software.yaml"
START = {"t4_gemm": 0.6, "t4_collective": 0.8, "v100_gemm": 0.6, "layer_bytes_per_token": 1e6}
BOUNDS = {
    "t4_gemm": (0.05, 1.0),
    "t4_collective": (0.02, 1.0),
    "v100_gemm": (0.05, 1.0),
    "layer_bytes_per_token": (1e3, 2e7),
}


def _with(run, x):
    groups = []
    for g in run.groups:
        a = g.accelerator
        se = a.software_efficiency
        if a.id == "t4":
            r = x["t4_gemm"] / se.gemm
            se = dataclasses.replace(
                se, gemm=x["t4_gemm"], attention=se.attention * r, collective=x["t4_collective"]
            )
        elif a.id == "v100-sxm":
            r = x["v100_gemm"] / se.gemm
            se = dataclasses.replace(se, gemm=x["v100_gemm"], attention=se.attention * r)
        groups.append(
            dataclasses.replace(g, accelerator=dataclasses.replace(a, software_efficiency=se))
        )
    return dataclasses.replace(run, groups=tuple(groups))


def errors(runs, x):
    hc = HeteroCalibration(layer_bytes_per_token=x["layer_bytes_per_token"])
    out = {}
    for r in runs:
        p = predict_hetero(_with(r, x), hetero=hc)
        out[r.id] = p["step_time_s"] / r.measured["step_time_s"]
    return out


def loss(runs, x):
    e = errors(runs, x)
    sets = {}
    for r in runs:
        sets.setdefault(r.set, []).append((e[r.id] * r.measured["step_time_s"], r))
    rank = sum(
        math.log(
            min(v, key=lambda t: t[0])[1].measured["step_time_s"]
            / min(t[1].measured["step_time_s"] for t in v)
        )
        for v in sets.values()
    )
    return statistics.fmean(abs(math.log(v)) for v in e.values()) + rank


GRID = {
    "t4_gemm": (0.18, 0.25, 0.35),
    "t4_collective": (0.15, 0.3, 0.6),
    "v100_gemm": (0.27,),
    "layer_bytes_per_token": (5e5, 1e6, 2e6),
}


def fit(runs):
    import itertools

    points = [dict(zip(GRID, v, strict=True)) for v in itertools.product(*GRID.values())]
    x = min(points, key=lambda p: loss(runs, p))
    best = loss(runs, x)
    step = 0.5  # log step
    while step > 0.02:
        improved = False
        for k, (lo, hi) in BOUNDS.items():
            for d in (-step, step):
                y = dict(x)
                y[k] = min(hi, max(lo, x[k] * math.exp(d)))
                v = loss(runs, y)
                if v < best - 1e-6:
                    x, best, improved = y, v, True
        if not improved:
            step /= 2
    return x, best


def report(runs, x, name):
    e = errors(runs, x)
    abs_e = sorted(abs(v - 1) for v in e.values())
    sets = {}
    for r in runs:
        sets.setdefault(r.set, []).append((e[r.id] * r.measured["step_time_s"], r))
    ranks = {
        s: min(v, key=lambda t: t[0])[1].measured["step_time_s"]
        / min(t[1].measured["step_time_s"] for t in v)
        for s, v in sets.items()
    }
    print(
        f"{name}: {len(runs)} runs, median |error| {statistics.median(abs_e):.1%}, "
        f"p90 {abs_e[int(0.9 * (len(abs_e) - 1))]:.1%}; first choice / measured best "
        + ", ".join(f"{s} {v:.2f}x" for s, v in ranks.items())
    )


def write(x, n_train):
    today = date.today().isoformat()
    doc = {
        "fitted_on": f"hetero_runs.yaml: {n_train} TRAIN runs",
        "split": "held-out if int(sha1(case id).hexdigest(), 16) % 3 == 0, else train",
        "objective": "mean |log(predicted / measured step time)|",
        "script": "benchmarks/fit_hetero.py --write",
        "date": today,
        "parameters": {
            "layer_bytes_per_token": round(x["layer_bytes_per_token"]),
            "grad_reduce_bytes": 4.0,
        },
        "not_fitted": {"grad_reduce_bytes": "fp16 loss-scaled training reduces fp32 gradients"},
    }
    head = "# Heterogeneous composition constants (wanka.perf.params.HeteroCalibration).\n"
    OUT.write_text(
        head + "# Generated by benchmarks/fit_hetero.py --write.\n" + yaml.safe_dump(doc)
    )
    sw = yaml.safe_load(SW.read_text())
    cuda = sw["stacks"]["CUDA"]
    src = f"fitted {today} on the TRAIN split of hetero_runs.yaml (benchmarks/fit_hetero.py)"
    for cid, g, c in (
        ("t4", x["t4_gemm"], x["t4_collective"]),
        ("v100-sxm", x["v100_gemm"], cuda["collective"]),
    ):
        sw["accelerators"][cid] = {
            "gemm": round(g, 4),
            "attention": round(cuda["attention"] * g / cuda["gemm"], 4),
            "memory_bw": cuda["memory_bw"],
            "collective": round(c, 4),
            "source": "gemm (attention by the same ratio to the CUDA stack) "
            + ("and collective " if cid == "t4" else "")
            + src,
        }
    head = SW.read_text().split("stacks:")[0]
    SW.write_text(
        head
        + yaml.safe_dump(
            {"stacks": sw["stacks"], "accelerators": sw["accelerators"]}, sort_keys=False, width=200
        )
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    runs = [r for r in load_runs(DATA) if hasattr(r, "groups")]
    train = [r for r in runs if split_of(r.id) == "train"]
    held = [r for r in runs if split_of(r.id) != "train"]
    x, best = fit(train)
    print("fitted:", {k: round(v, 5) for k, v in x.items()}, f"train loss {best:.3f}")
    report(train, x, "train")
    report(held, x, "held-out")
    report(runs, x, "all")
    if args.write:
        write(x, len(train))


if __name__ == "__main__":
    main()
