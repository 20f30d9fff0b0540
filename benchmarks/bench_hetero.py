"""Heterogeneous training: the figures of issue 20, measured in one run.

    python benchmarks/bench_hetero.py [--json]

1. Prediction accuracy on validation/hetero_runs.yaml: median |step-time error| (all, train, held-out
   under the project split) and, per set, the measured time of the layout the model ranks first over the
   measured best.
2. Mixed search: Llama 3.1 405B (global batch 2,048 x 8,192 tokens) on 4,096 H100 + 8,192 Ascend 910B:
   wall and CPU seconds, whether the plan fits, its throughput against the best homogeneous subset (the
   homogeneous `search` on each kind alone, with vpp, cp, FSDP and every recompute/overlap choice; the
   mixed search runs it itself), the naive equal split and the sum-of-parts bound. Baseline in the same
   run: the homogeneous search of the same model on the 4,096 H100 alone (the machine is shared, so
   the ratio is the steadier figure).
3. `wanka plan examples/retrofit-existing-dc.yaml` (when the example exists): wall seconds (fusing the
   idle existing chips included), designs that break the site's rack power or cooling, whether liquid
   cooling admits NVL72-class racks, and what fusing the idle existing chips does for the top designs.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

from wanka.perf.hetero import predict_hetero
from wanka.perf.validate import split_of
from wanka.search import search
from wanka.search.hetero import parse_fleet, search_hetero
from wanka.search.models import load_model
from wanka.spec import load_runs
from wanka.spec_hetero import parse_hetero_run

ROOT = Path(__file__).resolve().parents[1]


def accuracy() -> dict:
    runs = load_runs(ROOT / "validation" / "hetero_runs.yaml")
    rows = []
    for r in runs:
        p = predict_hetero(r)["step_time_s"]
        rows.append((r, p, abs(p / r.measured["step_time_s"] - 1)))
    sets: dict[str, list] = {}
    for r, p, _ in rows:
        sets.setdefault(r.set, []).append((p, r.measured["step_time_s"], r.id))
    first = {
        s: {"first_choice": min(v)[2], "vs_best": min(v)[1] / min(m for _, m, _ in v)}
        for s, v in sets.items()
    }

    def med(part: str | None) -> float:
        e = [x for r, _, x in rows if part is None or split_of(r.id) == part]
        return statistics.median(e)

    return {
        "runs": len(rows),
        "median_abs_error": med(None),
        "median_abs_error_train": med("train"),
        "median_abs_error_held_out": med("held-out"),
        "first_choice_vs_measured_best": first,
        "meets_15pct": med(None) <= 0.15,
        "meets_first_choice_10pct": all(v["vs_best"] <= 1.10 for v in first.values()),
    }


def _cpu() -> float:
    """CPU seconds of this process and its finished worker processes (the search forks workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _load() -> float:
    return os.getloadavg()[0]


def mixed_search() -> dict:
    model = load_model("llama3.1-405b")
    kinds = parse_fleet("h100-sxm:4096,ascend-910b:8192")
    t0, c0 = time.perf_counter(), _cpu()
    res = search_hetero(model, kinds, global_batch_size=2048)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    t0, c0 = time.perf_counter(), _cpu()
    homo = search(
        model, kinds[0].acc, count=4096, global_batch_size=2048, seq_len=model.seq_len, top_k=1
    ).to_dict()
    hwall, hcpu = time.perf_counter() - t0, _cpu() - c0
    best, ref = res["best"], res["references"]
    # the plan as a run spec, read back and predicted on its own (the single-plan path)
    again = predict_hetero(parse_hetero_run({"model": {"preset": "llama3.1-405b"}, **best["plan"]}))
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "load_average_1min": _load(),
        "baseline_homogeneous_search_4096_h100": {"wall_s": hwall, "cpu_s": hcpu},
        "wall_ratio_to_baseline": wall / hwall,
        "fits": best["fits"],
        "round_trip_tokens_per_s": again["tokens_per_s"],
        "family": best["family"],
        "accelerators_used": best["accelerators"],
        "tokens_per_s": best["tokens_per_s"],
        "references": ref,
        "sum_of_parts_efficiency": res["sum_of_parts_efficiency"],
        "speedup_vs_best_homogeneous": res["speedup_vs_best_homogeneous"],
        "speedup_vs_equal_split": res["speedup_vs_equal_split"],
        "under_10s": wall < 10,
        "beats_both": best["tokens_per_s"] > ref["best_homogeneous_tokens_per_s"]
        and best["tokens_per_s"] > (ref["equal_split_tokens_per_s"] or 0),
        "homogeneous_search_model_tokens_per_s_4096_h100": (homo.get("best") or {}).get(
            "tokens_per_s_per_gpu", 0
        )
        * 4096,
        "mixed_plan": {
            k: best["plan"]["parallelism"][k]
            for k in ("micro_batch_size", "vpp", "cp", "recompute")
        }
        | {"stages": len(best["stages"]), "pipelines": _pipelines(best)},
    }


def _pipelines(best: dict) -> dict:
    """Pipelines of each kind in the best plan (replica i of the first stage is pipeline i)."""
    st = best["plan"]["parallelism"]["stages"][0]
    if "replicas" not in st:
        return {st["group"]: st["dp"]}
    out: dict = {}
    for r in st["replicas"]:
        out[r["group"]] = out.get(r["group"], 0) + 1
    return out


def retrofit() -> dict:
    import copy

    import yaml

    from wanka.hardware import COOLING
    from wanka.plan.center import design_center, parse_center

    d = yaml.safe_load((ROOT / "examples" / "retrofit-existing-dc.yaml").read_text())
    t0, c0 = time.perf_counter(), _cpu()
    air = design_center(parse_center(d))
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    site = d["site"]

    def breaks(des: dict) -> bool:
        s = des["site"]
        kw = site["rack_kw"] if not s["upgrade"] else max(u["rack_kw"] for u in site["upgrades"])
        return s["rack_kw_max"] > kw + 1e-9 or COOLING.index(s["cooling"]) > COOLING.index(
            site["cooling"] if not s["upgrade"] else "rear-door"
        )

    liquid = copy.deepcopy(d)
    liquid["site"].update(cooling="liquid", rack_kw=132)
    t0 = time.perf_counter()
    liq = design_center(parse_center(liquid))
    return {
        "air_wall_s": wall,
        "air_cpu_s": cpu,
        "air_designs": len(air["designs"]),
        "air_designs_breaking_site": sum(breaks(x) for x in air["designs"]),
        "air_excluded": air["excluded_by_site"],
        "air_best": air["designs"][0]["id"],
        "liquid_wall_s": time.perf_counter() - t0,
        "liquid_nvl72_designs": sum("gb200" in x["accelerator"] for x in liq["designs"]),
        "air_fused": [
            {"design": x["id"]}
            | {k: v for k, v in x["jobs"][0].get("fused_existing", {}).items() if k != "plan"}
            for x in air["designs"]
            if "fused_existing" in x
        ],
        "under_10s": wall < 10,
    }


def main() -> None:
    out = {"accuracy": accuracy(), "mixed_search_405b": mixed_search(), "retrofit": retrofit()}
    if "--json" in sys.argv:
        print(json.dumps(out, indent=1, default=str))
        return
    a, m = out["accuracy"], out["mixed_search_405b"]
    print(
        f"hetero_runs.yaml: {a['runs']} runs, median |step error| {a['median_abs_error']:.1%} "
        f"(train {a['median_abs_error_train']:.1%}, held-out {a['median_abs_error_held_out']:.1%})"
    )
    for s, v in a["first_choice_vs_measured_best"].items():
        print(
            f"  set {s}: first choice {v['first_choice']} at {v['vs_best']:.2f}x the measured best"
        )
    r = m["references"]
    print(
        f"405B on 4,096 H100 + 8,192 910B: {m['wall_s']:.1f} s wall ({m['cpu_s']:.1f} s CPU; "
        f"homogeneous 4,096-H100 search in the same run {m['baseline_homogeneous_search_4096_h100']['wall_s']:.1f} s; "
        f"1-min load {m['load_average_1min']:.1f} on {os.cpu_count()} cores), "
        f"fits {m['fits']}, {m['tokens_per_s']:,.0f} tokens/s ({m['family']}, {m['accelerators_used']}; "
        f"its plan read back and predicted: {m['round_trip_tokens_per_s']:,.0f})"
    )
    hs, hm = r["per_kind_homogeneous_search_tokens_per_s"], r["per_kind_hetero_model_tokens_per_s"]
    print(
        "  each kind alone, homogeneous search / mixed model's own single-kind plan: "
        + ", ".join(f"{k} {hs[k] or 0:,.0f} / {hm[k]:,.0f}" for k in hs)
        + f"; mixed plan {m['mixed_plan']}"
    )
    print(
        f"  best homogeneous {r['best_homogeneous_tokens_per_s']:,.0f} ({r['best_homogeneous_accelerator']}), "
        f"equal split {r['equal_split_tokens_per_s']:,.0f}, sum of parts {r['sum_of_parts_tokens_per_s']:,.0f}; "
        f"x{m['speedup_vs_best_homogeneous']:.2f} / x{m['speedup_vs_equal_split']:.2f}, "
        f"sum-of-parts efficiency {m['sum_of_parts_efficiency']:.1%}"
    )
    rf = out["retrofit"]
    print(
        f"retrofit-existing-dc.yaml: {rf['air_wall_s']:.1f} s wall ({rf['air_cpu_s']:.1f} s CPU), "
        f"{rf['air_designs']} designs ranked, "
        f"{rf['air_designs_breaking_site']} breaking rack power or cooling, "
        f"{len(rf['air_excluded'])} excluded ({rf['air_excluded'][0]['reason'] if rf['air_excluded'] else '-'}); "
        f"best {rf['air_best']}; with liquid cooling {rf['liquid_nvl72_designs']} NVL72-class designs ranked"
    )
    for f in rf["air_fused"]:
        if "speedup" in f:
            print(
                f"  fused with idle existing chips: {f['design']} -> {f['accelerators']} "
                f"({f['precision']}) x{f['speedup']:.2f}, helps {f['helps']}"
            )
        else:
            print(f"  fused with idle existing chips: {f['design']}: {f.get('reason')}")


if __name__ == "__main__":
    main()
