"""Search speed on the two contract cases, against Calculon's published search rate.

Cases (issue 5):
- Megatron 1T on 4,096 A100-80GB, global batch 4,096 x 2,048 (Calculon's 1T/4096 case: 7,276,848 candidate
  executions; its exhaustive search evaluates about 94 configs/s per core);
- DeepSeek-V3 on 10,240 H100, global batch 15,360 x 4,096, expert parallelism included.

Prints space, evaluated, feasible, seconds and evaluated/s for each, and the ratio of our rate to
Calculon's. The Calculon figure (94 configs/s/core, 7.3M configs, ~21.5 core-hours for this case) is the
PUBLISHED/RESEARCHED figure from shared/research/perf_tools.md, not measured by this script.

Run from the repository root:  python benchmarks/bench_search.py [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

#: Calculon (calculon-ai/calculon) llm-optimal-execution, measured in shared/research/perf_tools.md section 1:
#: ~94 configurations per second per core; 7,276,848 candidates for megatron-1T on 4,096 A100s.
CALCULON_CONFIGS_PER_S_PER_CORE = 94.0
CALCULON_1T_SPACE = 7_276_848

CASES = [
    {
        "id": "megatron-1t/a100-80gb/4096",
        "model": "megatron-1t",
        "accelerator": "a100-80gb",
        "count": 4096,
        "global_batch_size": 4096,
        "seq_len": 2048,
    },
    {
        "id": "deepseek-v3/h100-sxm/10240",
        "model": "deepseek-v3",
        "accelerator": "h100-sxm",
        "count": 10240,
        "global_batch_size": 15360,
        "seq_len": 4096,
    },
]


def main(argv: list[str] | None = None) -> int:
    from wanka.catalogs import get_accelerator
    from wanka.search.core import search
    from wanka.workload.presets import get_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    cores = os.cpu_count() or 1
    out = []
    for c in CASES:
        t = time.perf_counter()
        res = search(
            get_model(c["model"]),
            get_accelerator(c["accelerator"]),
            count=c["count"],
            global_batch_size=c["global_batch_size"],
            seq_len=c["seq_len"],
        )
        wall = time.perf_counter() - t
        rate = res.evaluated / res.seconds
        calculon_core_s = res.evaluated / CALCULON_CONFIGS_PER_S_PER_CORE
        row = {
            "case": c["id"],
            "space": res.space,
            "evaluated": res.evaluated,
            "feasible": res.feasible,
            "seconds": round(res.seconds, 2),
            "wall_with_reporting_s": round(wall, 2),
            "evaluated_per_s": round(rate),
            "cores": cores,
            "ratio_vs_calculon_rate_same_cores": round(
                rate / (CALCULON_CONFIGS_PER_S_PER_CORE * cores), 1
            ),
            "calculon_core_hours_for_our_evaluated": round(calculon_core_s / 3600, 1),
            "best": res.best["parallelism"] if res.best else None,
            "best_tokens_per_s_per_gpu": res.best["tokens_per_s_per_gpu"] if res.best else None,
        }
        if c["model"] == "megatron-1t":
            row["space_vs_calculon"] = round(res.space / CALCULON_1T_SPACE, 2)
        out.append(row)
        print(json.dumps(row), flush=True)
    print(
        f"Calculon baseline: {CALCULON_CONFIGS_PER_S_PER_CORE:g} configs/s/core and {CALCULON_1T_SPACE:,} configs "
        "for 1T/4096 are published figures (shared/research/perf_tools.md), not measured here."
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
