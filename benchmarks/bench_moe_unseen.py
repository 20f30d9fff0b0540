"""MoE serving on data the fit never saw: the TensorRT-LLM performance overview's MoE cells that are
not rows of validation/inference_runs.yaml.

    python benchmarks/bench_moe_unseen.py [--json]

Source: NVIDIA TensorRT-LLM `docs/source/performance/perf-overview.md` at commit
00f37686aa854010d68bcbd0f4ab000221541ca6 (the commit the validation rows cite; Apache-2.0), section
"Throughput Measurements": total output tokens/s of the whole TP group, `trtllm-bench throughput`,
synthetic fixed lengths, ModelOpt FP8/FP4 checkpoints, EP = TP for MoE models. Per GPU = value / TP.
Every cell of the Qwen3-235B-A22B, Llama 4 Maverick and Qwen3-30B-A3B tables (RTX 6000 tables left out)
whose (model, chip, ISL, OSL) is not already a validation row is predicted with `serve predict`'s
defaults (TensorRT-LLM engine, layout degrees as published, attention DP chosen); the error summary is
printed by model. Nothing here enters a fit.
"""

from __future__ import annotations

import argparse
import json
import pathlib

import numpy as np
import yaml

from wanka.serve import predict_serve
from wanka.serve.spec import parse_serve_spec

ROOT = pathlib.Path(__file__).resolve().parents[1]
VALIDATION = ROOT / "validation" / "inference_runs.yaml"
ISL_OSL = ["128/128", "128/2048", "128/4096", "500/2000", "1000/1000", "1000/2000", "2048/128",
           "2048/2048", "5000/500", "20000/2000"]  # fmt: skip
# model -> (name in the validation file, [(chip, precision, tp)], one row per ISL_OSL; None: no cell)
TABLES: dict[str, tuple[str, list[tuple[str, str, int]], list[list[int | None]]]] = {
    "qwen3-235b-a22b": ("Qwen3-235B-A22B", [("b200", "fp4", 8), ("h200", "fp8", 8), ("h100-sxm", "fp8", 8)], [
        [63362, 30429, None], [66057, 42821, 19658], [39496, 26852, 12447], [57117, 28026, 18351],
        [42391, 23789, 14898], [34105, 22061, 15136], [7329, 3331, None], [26854, 16672, 9924],
        [8190, 3623, 3225], [4453, 1876, None]]),
    "llama4-maverick": ("Llama-4-Maverick-17B-128E-Instruct", [("b200", "fp4", 8), ("h200", "fp8", 8), ("h100-sxm", "fp8", 8)], [
        [124323, 63994, None], [112676, 40572, 10829], [68170, 24616, 6744], [None, 37835, 10108],
        [79617, 31782, 9677], [63766, 34734, 9151], [18088, 7307, None], [52195, 20957, 6916],
        [None, 8456, 3457], [12678, 4106, None]]),
    "qwen3-30b-a3b": ("Qwen3-30B-A3B", [("b200", "fp4", 1), ("gb200", "fp4", 1)], [
        [39827, 24107], [37844, 31311], [24953, 26337], [27817, 20604], [25828, 17481],
        [22051, 17177], [6251, 6595], [17554, 14719], [6142, 5908], [2944, 3203]]),
}  # fmt: skip


def _validation_rows() -> tuple[set[tuple[str, str, int, int]], dict[str, object]]:
    """(model name, chip, isl, osl) of the validation rows, and each model's shape as written there."""
    rows = yaml.safe_load(VALIDATION.read_text(encoding="utf-8"))
    seen, shapes = set(), {}
    for r in rows:
        name = r["model"]["name"] if isinstance(r["model"], dict) else str(r["model"])
        shapes.setdefault(name, r["model"])
        isl, osl = r["workload"]["input_len"], r["workload"]["output_len"]
        if isinstance(isl, int) and isinstance(osl, int):
            seen.add((name, r["hardware"]["accelerator"], isl, osl))
    return seen, shapes


def cases() -> list[dict]:
    seen, shapes = _validation_rows()
    out = []
    for preset, (name, cols, table) in TABLES.items():
        for lengths, values in zip(ISL_OSL, table, strict=True):
            isl, osl = (int(x) for x in lengths.split("/"))
            for (chip, precision, tp), v in zip(cols, values, strict=True):
                if v is None or (name, chip, isl, osl) in seen:
                    continue
                serving = {"framework": "TensorRT-LLM", "precision": precision, "tp": tp}
                if tp > 1:
                    serving["ep"] = tp
                out.append({
                    "id": f"{preset}-{chip}-{isl}-{osl}", "model": shapes.get(name, preset),
                    "hardware": {"accelerator": chip, "count": tp}, "serving": serving,
                    "workload": {"scenario": "offline", "input_len": isl, "output_len": osl},
                    "measured": {"output_tokens_per_s_per_gpu": v / tp},
                })  # fmt: skip
    return out


def _stats(errors: list[float]) -> dict[str, float]:
    a = np.abs(errors)
    return {"n": len(errors), "median_abs": float(np.median(a)),
            "p90_abs": float(np.percentile(a, 90)), "median_signed": float(np.median(errors))}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    by_model: dict[str, list[float]] = {}
    for c in cases():
        p = predict_serve(parse_serve_spec(c))["output_tokens_per_s_per_gpu"]
        err = p / c["measured"]["output_tokens_per_s_per_gpu"] - 1.0
        by_model.setdefault(c["id"].split("-", 3)[0] + "-" + c["id"].split("-")[1], []).append(err)
    everything = [e for v in by_model.values() for e in v]
    out = {"all": _stats(everything), **{k: _stats(v) for k, v in by_model.items()}}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for k, s in out.items():
        print(f"{k:18s} n={s['n']:3d} median {s['median_abs']:6.1%} p90 {s['p90_abs']:6.1%} "
              f"bias {s['median_signed']:+6.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
