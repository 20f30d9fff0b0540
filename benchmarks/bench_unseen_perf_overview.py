"""Serving throughput on data the fit never saw: the TensorRT-LLM performance overview's cells that are
not rows of validation/inference_runs.yaml.

    python benchmarks/bench_unseen_perf_overview.py [--json]

Source: NVIDIA TensorRT-LLM `docs/source/performance/perf-overview.md` at commit
00f37686aa854010d68bcbd0f4ab000221541ca6 (the commit the validation rows cite; Apache-2.0), section
"Throughput Measurements": total output tokens/s of the whole run, `trtllm-bench throughput`,
synthetic fixed lengths, ModelOpt FP8/FP4 checkpoints, EP = TP for MoE models. Per GPU = value /
(TP x PP). Every cell of the Qwen3-235B-A22B, Llama 4 Maverick, Llama 4 Scout, Qwen3-30B-A3B (MoE),
Llama 3.3 70B, Llama 3.1 405B and Llama 3.1 8B (dense) tables, with their RTX 6000 Pro Blackwell
Server Edition tables (TP x PP over PCIe), whose (model, chip, ISL, OSL) is not already a validation
row is predicted with `serve predict`'s defaults (TensorRT-LLM engine, layout degrees as published,
attention DP chosen); the error summary is printed for MoE, dense, the cells read before the RTX
tables and Scout were added, by model and by chip. Nothing here enters a fit.
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
RTX = "rtx-pro-6000"  # the tables' "RTX 6000 Pro Blackwell Server Edition"
# model -> (name in the validation file, [(chip, precision, tp, pp)], one row per ISL_OSL (None: no
# cell)); a table that lists other lengths gives its rows as {lengths: row}
Table = tuple[
    str, list[tuple[str, str, int, int]], list[list[int | None]] | dict[str, list[int | None]]
]
TABLES: dict[str, list[Table]] = {
    "qwen3-235b-a22b": [
        ("Qwen3-235B-A22B", [("b200", "fp4", 8, 1), ("h200", "fp8", 8, 1), ("h100-sxm", "fp8", 8, 1)], [
            [63362, 30429, None], [66057, 42821, 19658], [39496, 26852, 12447], [57117, 28026, 18351],
            [42391, 23789, 14898], [34105, 22061, 15136], [7329, 3331, None], [26854, 16672, 9924],
            [8190, 3623, 3225], [4453, 1876, None]]),
        ("Qwen3-235B-A22B", [(RTX, "fp4", 2, 4)], dict(zip(ISL_OSL[:9], [
            [18890], [12494], [7715], [11157], [10697], [10109], [3181], [6712], [3173]]))),
    ],
    "llama4-maverick": [
        ("Llama-4-Maverick-17B-128E-Instruct", [("b200", "fp4", 8, 1), ("h200", "fp8", 8, 1), ("h100-sxm", "fp8", 8, 1)], [
            [124323, 63994, None], [112676, 40572, 10829], [68170, 24616, 6744], [None, 37835, 10108],
            [79617, 31782, 9677], [63766, 34734, 9151], [18088, 7307, None], [52195, 20957, 6916],
            [None, 8456, 3457], [12678, 4106, None]]),
        ("Llama-4-Maverick-17B-128E-Instruct", [(RTX, "fp4", 4, 2)], dict(zip(ISL_OSL[:9], [
            [30583], [19146], [12165], [17870], [15954], [12456], [4463], [10727], [4613]]))),
    ],
    "llama4-scout": [
        ("Llama-4-Scout-17B-16E-Instruct", [("b200", "fp4", 1, 1), ("gb200", "fp4", 1, 1), ("h200", "fp8", 4, 1), ("h100-sxm", "fp8", 4, 1)], [
            [25342, 19954, 30354, None], [14699, 15238, 34316, 15130], [8932, 9556, 21332, 8603],
            [11977, 11795, 24630, 12399], [10591, 7738, 21636, 12129], [9356, 8581, 18499, 9838],
            [3137, 3295, 3699, 3253], [7152, 7464, 14949, 7972], [2937, 3107, 4605, 3342],
            [1644, 1767, 2105, None]]),
        ("Llama-4-Scout-17B-16E-Instruct", [(RTX, "fp4", 2, 2), (RTX, "fp4", 4, 2)], {
            "128/128": [18644, 23454], "128/2048": [12321, 21035], "128/4096": [7643, 13421],
            "1000/1000": [9476, 15781], "1000/2000": [8919, 16434], "2048/128": [2615, 2941],
            "2048/2048": [6208, 10410], "5000/500": [2662, None]}),
    ],
    "qwen3-30b-a3b": [
        ("Qwen3-30B-A3B", [("b200", "fp4", 1, 1), ("gb200", "fp4", 1, 1)], [
            [39827, 24107], [37844, 31311], [24953, 26337], [27817, 20604], [25828, 17481],
            [22051, 17177], [6251, 6595], [17554, 14719], [6142, 5908], [2944, 3203]]),
        ("Qwen3-30B-A3B", [(RTX, "fp4", 1, 1), (RTX, "fp4", 2, 1), (RTX, "fp4", 4, 1), (RTX, "fp4", 8, 1)], [
            [28011, 32646, 36819, 39490], [12540, 22744, 35715, 52676], [7491, 15049, 28139, 33895],
            [10695, 17266, 26175, 44088], [9910, 16431, 24046, 31785], [8378, 13323, 25131, 28881],
            [3257, 3785, 4311, 4798], [5908, 10679, 18134, 22391], [2530, 3799, 5212, 5965],
            [871, 1558, 2551, None]]),
    ],
    "llama3.3-70b": [
        ("Llama-3.3-70B-Instruct", [("b200", "fp4", 1, 1), ("gb200", "fp4", 1, 1), ("h200", "fp8", 1, 1), ("h100-sxm", "fp8", 2, 1)], [
            [11147, 12189, 3803, 6378], [9922, 11309, 4336, 6651], [6831, 7849, 2872, 4199],
            [7762, 9028, 3666, 5222], [7007, 7326, 2909, 4205], [6271, 6513, 2994, 4146],
            [1339, 1450, 442, 762], [4783, 5646, 2003, 3082], [1459, 1602, 566, 898], [665, 755, 283, 437]]),
        ("Llama-3.3-70B-Instruct", [(RTX, "fp4", 1, 1), (RTX, "fp4", 1, 2), (RTX, "fp4", 1, 4), (RTX, "fp4", 1, 8)], [
            [3264, 6172, 9641, 11881], [2422, 4993, 7922, 9833], [1349, 2893, 4978, 7352],
            [1856, 4114, 6939, 9435], [1787, 3707, 5961, 8166], [1594, 2993, 5274, 6943],
            [393, 813, 1511, 2495], [1074, 2336, 3870, 6078], [401, 812, 1511, 2491],
            [142, 319, 630, 1148]]),
    ],
    "llama3.1-405b": [
        ("Llama-3.1-405B-Instruct", [("b200", "fp4", 4, 1), ("gb200", "fp4", 4, 1), ("h200", "fp8", 8, 1), ("h100-sxm", "fp8", 8, 1)], [
            [6281, 6740, 3814, 3627], [8020, 8151, 5348, 4340], [6345, 6608, 4741, 3116],
            [6244, 6540, 4724, 3994], [5209, 5389, 3330, 2919], [4933, 5135, 3722, 2895],
            [749, 797, 456, 453], [4212, 4407, 2948, 2296], [1048, 1112, 650, 610], [672, 739, 505, 345]]),
        ("Llama-3.1-405B-Instruct", [(RTX, "fp4", 1, 8)], {
            "128/128": [4452], "128/2048": [2981], "1000/1000": [2369], "1000/2000": [1931],
            "2048/128": [579], "2048/2048": [1442]}),
    ],
    "llama3.1-8b": [
        ("Llama-3.1-8B-Instruct", [("h200", "fp8", 1, 1), ("h100-sxm", "fp8", 1, 1)], [
            [27911, 28312], [26221, 22714], [18027, 14325], [20770, 17660], [17744, 15220],
            [16828, 13899], [3538, 3450], [12194, 9305], [3902, 3459], [1804, 1351]]),
    ],
}  # fmt: skip
MOE = ("qwen3-235b-a22b", "llama4-maverick", "llama4-scout", "qwen3-30b-a3b")


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
    for preset, tables in TABLES.items():
        for name, cols, rows in tables:
            items = rows.items() if isinstance(rows, dict) else zip(ISL_OSL, rows, strict=True)
            for lengths, values in items:
                isl, osl = (int(x) for x in lengths.split("/"))
                for col, v in zip(cols, values, strict=True):
                    if v is not None and (name, col[0], isl, osl) not in seen:
                        out.append(_case(preset, shapes.get(name, preset), col, isl, osl, v))
    return out


def _case(preset: str, model: object, col: tuple, isl: int, osl: int, value: int) -> dict:
    """One cell as a serving spec: the whole run's output tokens/s over its tp x pp GPUs."""
    chip, precision, tp, pp = col
    serving = {"framework": "TensorRT-LLM", "precision": precision, "tp": tp, "pp": pp}
    if tp > 1 and preset in MOE:
        serving["ep"] = tp
    return {
        "id": f"{preset}-{chip}-tp{tp}pp{pp}-{isl}-{osl}", "preset": preset, "model": model,
        "hardware": {"accelerator": chip, "count": tp * pp}, "serving": serving,
        "workload": {"scenario": "offline", "input_len": isl, "output_len": osl},
        "measured": {"output_tokens_per_s_per_gpu": value / (tp * pp)},
    }  # fmt: skip


def _stats(errors: list[float]) -> dict[str, float]:
    a = np.abs(errors)
    return {"n": len(errors), "median_abs": float(np.median(a)),
            "p90_abs": float(np.percentile(a, 90)), "median_signed": float(np.median(errors))}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    errs: list[tuple[str, str, float]] = []  # (preset, chip, error)
    for c in cases():
        spec = parse_serve_spec({k: v for k, v in c.items() if k != "preset"})
        p = predict_serve(spec)["output_tokens_per_s_per_gpu"]
        errs.append((c["preset"], spec.accelerator.id,
                     p / c["measured"]["output_tokens_per_s_per_gpu"] - 1.0))  # fmt: skip
    groups: dict[str, list[float]] = {
        "MoE": [e for m, _, e in errs if m in MOE],
        "dense": [e for m, _, e in errs if m not in MOE],
        # the cells before the RTX PRO 6000 tables and Llama 4 Scout were read (stop 31)
        "earlier cells": [e for m, c, e in errs if c != RTX and m != "llama4-scout"],
    }
    for key in [*TABLES, *sorted({c for _, c, _ in errs})]:
        groups[key] = [e for m, c, e in errs if key in (m, c)]
    out = {k: _stats(v) for k, v in groups.items() if v}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for k, st in out.items():
        print(f"{k:16s} n={st['n']:3d} median {st['median_abs']:6.1%} p90 {st['p90_abs']:6.1%} "
              f"bias {st['median_signed']:+6.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
