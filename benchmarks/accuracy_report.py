#!/usr/bin/env python3
"""The accuracy figures of docs/accuracy.md, measured now from the data in validation/.

    python benchmarks/accuracy_report.py [--loso] [--search] [--write-profile]

1. `validation/training_runs.yaml` (dense + MoE, as `check-contracts predict` counts them): predicted
   rows, median and p90 |error| of tokens/s/GPU, by framework and by chip; with `--loso`, the
   leave-one-source-out estimate (each source predicted with the chips' software efficiency refitted on
   the other sources, `wanka.perf.calibrate.leave_one_source_out`).
2. Ascend calibration: `validation/ascend_mindspeed_runs.yaml` split in halves by
   `int(sha1(id), 16) % 2` (fixed); the chip's software efficiency is fitted (`wanka calibrate`'s fit) on
   half 0 and half 1 is predicted. `--write-profile` writes the fit as examples/profiles/ascend-910b2-mindspeed.yaml.
3. Chips nobody tuned on (catalog figures only, no profile): Ascend 910B2 (all MindSpeed rows),
   TPU v6e/v5p (MaxText rows), H800 (DeepSeek rows).
4. Collectives: GB200 NVL72 all-reduce of 8 GiB against 840 GB/s, and every collective check.
5. With `--search`: `search --run` on every dense/MoE run of training_runs.yaml: does the best plan fit,
   and is it at least as fast as the published layout (slow: one search per run).
Error = predicted / measured - 1; percentiles as check-contracts computes them.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from wanka.catalogs import get_accelerator
from wanka.perf.calibrate import apply_fractions, calibrate_runs, leave_one_source_out
from wanka.perf.validate import FIT_TYPES, family_of, pct, validate_runs
from wanka.spec import load_runs
from wanka.topology.collective import estimate

VAL = ROOT / "validation"
HEAD = "| group | cases | median abs error | p90 abs error | median signed |\n|---|---:|---:|---:|---:|"


def row(name: str, st: dict) -> str:
    if not st.get("n"):
        return f"| {name} | 0 | - | - | - |"
    signed = f"{st['median_signed']:+.1%}" if "median_signed" in st else "-"
    return f"| {name} | {st['n']} | {st['median_abs']:.1%} | {st['p90_abs']:.1%} | {signed} |"


def stats(errs: list[float]) -> dict:
    a = [abs(e) for e in errs]
    return {
        "n": len(errs),
        "median_abs": pct(a, 0.5),
        "p90_abs": pct(a, 0.9),
        "median_signed": pct(errs, 0.5),
    }


def training(loso: bool) -> None:
    runs = [r for r in load_runs(VAL / "training_runs.yaml")]
    rep = validate_runs(runs)
    cases = [c for c in rep["cases"] if c["type"] in FIT_TYPES]
    errs = [c["rel_error"] for c in cases if "rel_error" in c]
    print("## 1. training_runs.yaml (dense + MoE)\n")
    print(f"{len(errs)} of {len(cases)} rows predicted; target: all, median <= 6%, p90 <= 20%\n")
    print(HEAD)
    print(row("whole file", stats(errs)))
    print(row("held-out split", rep["summary"]["dense_moe"]["held_out"]))
    for key in ("by_framework", "by_accelerator", "by_family"):
        print(f"\n### whole file, {key.replace('by_', 'by ')}\n\n{HEAD}")
        for name, st in rep["summary"]["all"][key].items():
            print(row(name, st))
    hyb = [c for c in rep["cases"] if c["type"] not in FIT_TYPES]
    ok = [c for c in hyb if "rel_error" in c]
    print(f"\nmoe-hybrid rows (not in the target): {len(ok)} of {len(hyb)} predicted")
    if loso:
        t0 = time.time()
        fit = [r for r in runs if hasattr(r, "model") and r.model.type in FIT_TYPES]
        lo = leave_one_source_out(fit, lambda r: family_of(r.id, r.source))
        print(f"\n### leave one source out ({time.time() - t0:.0f} s)\n")
        print("| source | cases | median abs error | p90 abs error | refitted | no other source |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, st in lo.items():
            extra = f"{st.get('refitted', '')} | {st.get('no_other_source', '')}"
            print(
                f"| {name} | {st['n']} | {st['median_abs']:.1%} | {st['p90_abs']:.1%} | {extra} |"
            )


def half(rid: str) -> int:
    return int(hashlib.sha1(rid.encode()).hexdigest(), 16) % 2


def ascend(write_profile: bool) -> None:
    path = VAL / "ascend_mindspeed_runs.yaml"
    runs = [r for r in load_runs(path) if hasattr(r, "model")]
    fit_on = [r for r in runs if half(r.id) == 0]
    test = [r for r in runs if half(r.id) == 1]
    fit = calibrate_runs(fit_on)
    acc = apply_fractions(
        runs[0].hardware.accelerator,
        {k: v["fitted"] for k, v in fit["parameters"].items()},
        "calibrated on half 0",
    )
    before = validate_runs(test)["summary"]["dense_moe"]["all"]
    after = validate_runs(test, accelerator_for=lambda r: acc)["summary"]["dense_moe"]["all"]
    print("\n## 2. Ascend 910B2 calibration (MindSpeed-LLM README)\n")
    print(
        f"fit on {len(fit_on)} runs (half 0), predicted {len(test)} (half 1); target median <= 8%, p90 <= 20%\n"
    )
    print(HEAD)
    print(row("half 1, catalog (no profile)", before))
    print(row("half 1, calibrated on half 0", after))
    ins = fit["in_sample"]["after"]
    print(
        f"\nin-sample (half 0) after the fit: median {ins['median_abs']:.1%}, p90 {ins['p90_abs']:.1%}"
    )
    for k, p in fit["parameters"].items():
        spread = f"{p['loo_min']:.3f}..{p['loo_max']:.3f}" if p["free"] else "not exercised"
        print(f"- {k}: catalog {p['catalog']:.3f} -> {p['fitted']:.3f} (leave-one-out {spread})")
    if write_profile:
        from wanka.profile import calibrated_profile, dump_profile

        out = ROOT / "examples" / "profiles" / "ascend-910b2-mindspeed.yaml"
        out.parent.mkdir(exist_ok=True)
        prof = calibrated_profile(
            runs[0].hardware.accelerator, fit, data=f"{path.name} (half 0 by sha1(id) % 2)"
        )
        dump_profile(prof, out)
        print(f"\nwrote {out.relative_to(ROOT)}")


def untuned() -> None:
    print("\n## 3. Chips nobody tuned on (catalog only)\n")
    print("target per family: every run predicted, median <= 15%, p90 <= 35%\n")
    print(HEAD)
    for name, fname in (
        ("Ascend 910B2 (MindSpeed-LLM)", "ascend_mindspeed_runs.yaml"),
        ("TPU v6e / v5p (MaxText)", "tpu_maxtext_runs.yaml"),
        ("H800 (DeepSeek reports)", "h800_deepseek_runs.yaml"),
    ):
        rep = validate_runs(load_runs(VAL / fname))
        errs = [c["rel_error"] for c in rep["cases"] if "rel_error" in c]
        print(row(f"{name}, {len(errs)}/{len(rep['cases'])} predicted", stats(errs)))
        for c in rep["cases"]:
            if "rel_error" not in c or abs(c["rel_error"]) > 0.35:
                print(
                    f"|  {c['id']} | | {c.get('rel_error', float('nan')):+.1%} | | {c.get('error', '')} |"
                )


def collectives() -> None:
    print("\n## 4. Collectives\n")
    e = estimate("all-reduce", 8 * 2**30, 72, 72, get_accelerator("gb200"))
    bw = e.busbw_bytes_per_s / 1e9
    print(
        f"GB200 NVL72 all-reduce 8 GiB, 72 ranks: {bw:.0f} GB/s busbw ({e.algorithm}) vs 840 "
        f"({bw / 840 - 1:+.1%}; target within 10%)"
    )
    checks = yaml.safe_load(
        (ROOT / "tests" / "topology" / "data" / "collective_checks.yaml").read_text()
    )
    ok = miss = 0
    for c in checks:
        i = c["input"]
        got = (
            estimate(
                i["op"],
                i["bytes"],
                i["gpus"],
                i.get("gpus_per_node", 8),
                get_accelerator(i["accelerator"]),
                algorithm=i.get("algorithm", "auto"),
                in_network_reduction=i.get("in_network_reduction", False),
            ).busbw_bytes_per_s
            / 1e9
        )
        good = abs(got / c["expect"]["busbw_gb_s"] - 1) <= c["tolerance"]
        ok += good
        if not good:
            miss += 1
            print(
                f"- miss: {c['id']} {got:.0f} vs {c['expect']['busbw_gb_s']} ({c.get('status', 'not marked')})"
            )
    print(f"collective checks within tolerance: {ok} of {len(checks)}")


def _search_one(r):
    from wanka.search.core import search_run

    res = search_run(r, workers=1)
    best, pub = res.best, res.published
    return (
        r.id,
        None if best is None else (bool(best.get("fits")), best["tokens_per_s_per_gpu"]),
        pub.get("fits"),
        pub["plan"].get("tokens_per_s_per_gpu") or 0.0,
    )


def search_all(jobs: int, ids: set[str] | None = None) -> None:
    import multiprocessing as mp

    runs = [
        r
        for r in load_runs(VAL / "training_runs.yaml")
        if hasattr(r, "model") and r.model.type in FIT_TYPES and (not ids or r.id in ids)
    ]
    t0 = time.time()
    with mp.get_context("fork").Pool(jobs) as pool:
        out = pool.map(_search_one, runs, chunksize=4)
    n = len(out)
    fits = sum(1 for _, b, _, _ in out if b and b[0])
    faster = sum(1 for _, b, _, p in out if b and b[1] >= p * (1 - 1e-6))
    pub_nofit = sum(1 for _, _, f, _ in out if f is False)
    print(f"\n## 5. search --run on {n} runs ({time.time() - t0:.0f} s, {jobs} processes)\n")
    print(
        f"best plan fits: {fits}/{n}; best at least as fast as the published layout: {faster}/{n}; "
        f"published layout predicted not to fit: {pub_nofit}/{n}"
    )
    for rid, b, f, p in out:
        if not (b and b[0] and b[1] >= p * (1 - 1e-6)):
            got = "no plan fits" if b is None else f"best {b[1]:.0f} (fits {b[0]})"
            print(f"- {rid}: {got} vs published {p:.0f} (published fits: {f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loso", action="store_true", help="add the leave-one-source-out estimate")
    ap.add_argument("--search", action="store_true", help="run search --run on every run (slow)")
    ap.add_argument("--write-profile", action="store_true", help="write the Ascend example profile")
    ap.add_argument("--jobs", type=int, default=2, help="processes for --search")
    ap.add_argument("--only-search", action="store_true", help="skip sections 1-4")
    ap.add_argument("--ids", default="", help="with --search: only these run ids (comma-separated)")
    args = ap.parse_args()
    if not args.only_search:
        training(args.loso)
        ascend(args.write_profile)
        untuned()
        collectives()
    if args.search:
        search_all(args.jobs, {i.strip() for i in args.ids.split(",") if i.strip()})


if __name__ == "__main__":
    main()
