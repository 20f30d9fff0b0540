"""Serving throughput on data the fit never saw: the TensorRT-LLM performance overview's cells that are
not rows of validation/inference_runs.yaml.

    python benchmarks/bench_unseen_perf_overview.py [--json]

Source: NVIDIA TensorRT-LLM `docs/source/performance/perf-overview.md` at commit
00f37686aa854010d68bcbd0f4ab000221541ca6 (the commit the validation rows cite; Apache-2.0), section
"Throughput Measurements": total output tokens/s of the whole TP group, `trtllm-bench throughput`,
synthetic fixed lengths, ModelOpt FP8/FP4 checkpoints, EP = TP for MoE models. Per GPU = value / TP.
Every cell of the Qwen3-235B-A22B, Llama 4 Maverick, Qwen3-30B-A3B (MoE), Llama 3.3 70B, Llama 3.1
405B and Llama 3.1 8B (dense) tables (RTX 6000 tables and Llama 4 Scout, no preset, left out) whose
(model, chip, ISL, OSL) is not already a validation row is predicted with `serve predict`'s defaults
(TensorRT-LLM engine, layout degrees as published, attention DP chosen); the error summary is printed
for MoE, dense and by model. Nothing here enters a fit.
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
    "llama3.3-70b": ("Llama-3.3-70B-Instruct", [("b200", "fp4", 1), ("gb200", "fp4", 1), ("h200", "fp8", 1), ("h100-sxm", "fp8", 2)], [
        [11147, 12189, 3803, 6378], [9922, 11309, 4336, 6651], [6831, 7849, 2872, 4199],
        [7762, 9028, 3666, 5222], [7007, 7326, 2909, 4205], [6271, 6513, 2994, 4146],
        [1339, 1450, 442, 762], [4783, 5646, 2003, 3082], [1459, 1602, 566, 898], [665, 755, 283, 437]]),
    "llama3.1-405b": ("Llama-3.1-405B-Instruct", [("b200", "fp4", 4), ("gb200", "fp4", 4), ("h200", "fp8", 8), ("h100-sxm", "fp8", 8)], [
        [6281, 6740, 3814, 3627], [8020, 8151, 5348, 4340], [6345, 6608, 4741, 3116],
        [6244, 6540, 4724, 3994], [5209, 5389, 3330, 2919], [4933, 5135, 3722, 2895],
        [749, 797, 456, 453], [4212, 4407, 2948, 2296], [1048, 1112, 650, 610], [672, 739, 505, 345]]),
    "llama3.1-8b": ("Llama-3.1-8B-Instruct", [("h200", "fp8", 1), ("h100-sxm", "fp8", 1)], [
        [27911, 28312], [26221, 22714], [18027, 14325], [20770, 17660], [17744, 15220],
        [16828, 13899], [3538, 3450], [12194, 9305], [3902, 3459], [1804, 1351]]),
}  # fmt: skip
MOE = ("qwen3-235b-a22b", "llama4-maverick", "qwen3-30b-a3b")


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
                if tp > 1 and preset in MOE:
                    serving["ep"] = tp
                out.append({
                    "id": f"{preset}-{chip}-{isl}-{osl}", "preset": preset,
                    "model": shapes.get(name, preset),
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
        spec = parse_serve_spec({k: v for k, v in c.items() if k != "preset"})
        p = predict_serve(spec)["output_tokens_per_s_per_gpu"]
        err = p / c["measured"]["output_tokens_per_s_per_gpu"] - 1.0
        by_model.setdefault(c["preset"], []).append(err)
    moe = [e for k, v in by_model.items() if k in MOE for e in v]
    dense = [e for k, v in by_model.items() if k not in MOE for e in v]
    out = {
        "MoE": _stats(moe),
        "dense": _stats(dense),
        **{k: _stats(v) for k, v in by_model.items()},
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for k, s in out.items():
        print(f"{k:16s} n={s['n']:3d} median {s['median_abs']:6.1%} p90 {s['p90_abs']:6.1%} "
              f"bias {s['median_signed']:+6.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
