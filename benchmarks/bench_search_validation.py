"""`search --run` on every published run in shared/validation/training_runs.yaml.

For each case the published layout is inside the search space (`published_dims` adds its degrees), so the
best plan found can never predict fewer tokens/s/GPU than the published one. When the memory model predicts
that a published layout (which ran) does not fit, that search judges every candidate against the published
layout's predicted peak memory instead of the modelled capacity (reported per case). Reports how often the found plan differs from the published one, the median
and maximum predicted gain, and every case where found < published (must be none).

Run from the repository root:  python benchmarks/bench_search_validation.py [--limit N] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, "..", "validation", "training_runs.yaml")


def main(argv: list[str] | None = None) -> int:
    from wanka.errors import WankaError
    from wanka.search.core import search_run
    from wanka.spec import RunError, load_runs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", default=os.environ.get("WANKA_VALIDATION", DEFAULT))
    ap.add_argument("--limit", type=int, default=None, help="only the first N cases")
    ap.add_argument("--json", default=None, help="write per-case results to this file")
    args = ap.parse_args(argv)
    runs = [r for r in load_runs(args.file) if not isinstance(r, RunError)]
    if args.limit:
        runs = runs[: args.limit]
    t0 = time.perf_counter()
    rows: list[dict] = []
    errors: list[dict] = []
    for i, run in enumerate(runs, 1):
        t = time.perf_counter()
        try:
            res = search_run(run, top_k=3)
        except WankaError as e:  # the perf model cannot time this model (e.g. hybrid Mamba layers)
            errors.append({"id": run.id, "error": str(e)})
            print(f"[{i}/{len(runs)}] {run.id}: not searchable: {e}", file=sys.stderr)
            continue
        pub = res.published or {}
        p = pub.get("plan") or {}
        best = res.best or {}
        rows.append(
            {
                "id": run.id,
                "count": run.hardware.count,
                "accelerator": run.hardware.accelerator.id,
                "space": res.space,
                "evaluated": res.evaluated,
                "seconds": time.perf_counter() - t,
                "published_in_space": pub.get("in_space"),
                "published_fits": p.get("fits"),
                "memory_judged_against_published": bool(pub.get("memory_note")),
                "published_tps": p.get("tokens_per_s_per_gpu"),
                "found_tps": best.get("tokens_per_s_per_gpu"),
                "same": pub.get("same_as_best"),
                "gain": pub.get("gain"),
                "found": best.get("parallelism"),
                "published": p.get("parallelism"),
            }
        )
        r = rows[-1]
        print(
            f"[{i}/{len(runs)}] {r['id']}: {r['evaluated']:,} evaluated in {r['seconds']:.2f}s, "
            f"gain x{(r['gain'] or float('nan')):.3f}{' (same)' if r['same'] else ''}"
            f"{'' if r['published_fits'] else ' (published does not fit)'}",
            file=sys.stderr,
        )
    total = time.perf_counter() - t0
    fits = [r for r in rows if r["gain"] is not None]
    gains = [r["gain"] for r in fits]
    worse = [r for r in fits if r["gain"] < 1 - 1e-9]
    nofit = [r for r in rows if not r["published_fits"]]
    differ = [r for r in fits if not r["same"]]
    summary = {
        "cases": len(runs),
        "searched": len(rows),
        "not_searchable": len(errors),
        "seconds": round(total, 1),
        "published_in_space": sum(bool(r["published_in_space"]) for r in rows),
        "compared": len(fits),
        "published_predicted_not_to_fit": len(nofit),
        "found_differs": len(differ),
        "found_differs_share": len(differ) / len(fits) if fits else None,
        "median_gain": statistics.median(gains) if gains else None,
        "max_gain": max(gains) if gains else None,
        "median_gain_when_different": statistics.median([r["gain"] for r in differ])
        if differ
        else None,
        "found_below_published": [r["id"] for r in worse],
        "evaluated_total": sum(r["evaluated"] for r in rows),
    }
    print(json.dumps(summary, indent=2))
    if nofit:
        print(
            f"{len(nofit)} published layouts are predicted not to fit by the memory model; since they ran, those "
            f"searches judge every candidate against the published layout's predicted peak: "
            f"{', '.join(r['id'] for r in nofit[:12])}{' ...' if len(nofit) > 12 else ''}"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"summary": summary, "cases": rows, "errors": errors}, f, indent=1)
    return 0 if not worse else 1


if __name__ == "__main__":
    sys.exit(main())
