"""Centre designer speed and answer on examples/center-10k.yaml (1T dense, 10T tokens, 90 days).

Run from the repository root:  python benchmarks/bench_plan.py
"""

from __future__ import annotations

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    from wanka.plan.center import design_center, load_center

    t = time.perf_counter()
    spec = load_center(os.path.join(HERE, "..", "examples", "center-10k.yaml"))
    res = design_center(spec)
    wall = time.perf_counter() - t
    best = res["designs"][0]
    print(
        json.dumps(
            {
                "seconds": round(wall, 2),
                "designs": len(res["designs"]),
                "accelerators": sorted({d["accelerator"] for d in res["designs"]}),
                "meeting_all_constraints": sum(d["meets_all_constraints"] for d in res["designs"]),
                "best": {
                    k: best[k]
                    for k in (
                        "id",
                        "count",
                        "time_to_train_days",
                        "capex_usd",
                        "power_mw",
                        "cost_per_million_tokens_usd",
                        "binding_constraint",
                        "binding_detail",
                    )
                },
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
