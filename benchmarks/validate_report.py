#!/usr/bin/env python3
"""Print the validation tables of docs/perf-model.md (markdown) from `wanka.perf.validate`.

    python benchmarks/validate_report.py [--data validation/training_runs.yaml]

Same numbers as `wanka validate FILE --json`; tokens/s/GPU error = predicted / measured - 1; the
percentile is check-contracts' (sorted value at round(q * (n - 1))).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from wanka.perf.validate import validate_runs
from wanka.spec import load_runs


def row(name: str, st: dict) -> str:
    if not st["n"]:
        return f"| {name} | 0 | - | - | - |"
    return f"| {name} | {st['n']} | {st['median_abs']:.1%} | {st['p90_abs']:.1%} | {st['median_signed']:+.1%} |"


HEAD = "| group | cases | median abs error | p90 abs error | median signed |\n|---|---:|---:|---:|---:|"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "validation" / "training_runs.yaml"))
    args = ap.parse_args()
    rep = validate_runs(load_runs(args.data))
    s = rep["summary"]
    print(f"Split: {s['split_rule']}. {s['predicted']} of {s['cases']} cases predicted.\n")
    print("### dense + MoE\n")
    print(HEAD)
    for k, label in (
        ("held_out", "held-out (not used for fitting)"),
        ("train", "train"),
        ("all", "whole file"),
    ):
        print(row(label, s["dense_moe"][k]))
    print(row("moe-hybrid (reported apart)", s["moe_hybrid"]))
    for part, label in (("held_out", "held-out"), ("all", "whole file")):
        for key in ("by_accelerator", "by_type", "by_precision", "by_family"):
            print(f"\n### {label}, {key.replace('by_', 'by ')}\n")
            print(HEAD)
            for name, st in s[part][key].items():
                print(row(name, st))
    pm = s["peak_memory"]
    print("\n### peak memory\n")
    print(
        f"{pm['n']} cases give measured.peak_memory_gib"
        + ("" if not pm["n"] else f": median {pm['median_abs']:.1%}, p90 {pm['p90_abs']:.1%}")
    )
    failed = [c for c in rep["cases"] if "error" in c]
    if failed:
        print(f"\n### not predicted ({len(failed)})\n")
        for c in failed:
            print(f"- {c['id']} ({c['type']}): {c['error']}")


if __name__ == "__main__":
    main()
