"""Benchmark and validation report of the communication model (wanka.topology.collective).

    python benchmarks/bench_collective.py

1. Times `collective_time` on 1e6-element arrays (random sizes, group sizes and placements) per op and
   prints elements/s.
2. Prints every validation check (the public rows of shared/validation/collective_checks.yaml and the
   extra published figures in tests/topology/data/collective_checks.yaml): ours vs expected busbw.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import yaml

from wanka.catalogs import get_accelerator
from wanka.topology.collective import OPS, FabricTier, collective_time, estimate

ROOT = Path(__file__).resolve().parents[1]
CHECK_FILES = [
    ROOT / "validation" / "collective_checks.yaml",
    ROOT / "tests" / "topology" / "data" / "collective_checks.yaml",
]


def bench(n_elements: int = 1_000_000, repeats: int = 3) -> None:
    rng = np.random.default_rng(0)
    size = 10.0 ** rng.uniform(3, 10.5, n_elements)  # 1 kB .. 32 GB
    ranks = rng.choice([1, 2, 4, 8, 16, 64, 256, 1024, 8192], n_elements)
    per_node = rng.choice([1, 4, 8], n_elements)
    acc = get_accelerator("h100-sxm")
    fabric = FabricTier(tier_accelerators=(256, 4096), oversubscription=(1.0, 4.0))
    collective_time("all-reduce", 1e6, 8, 8, acc)  # load the constants once
    print(
        f"collective_time on {n_elements:,} elements (h100-sxm, 2-tier fabric with 4:1 core taper)"
    )
    for op in OPS:
        for inr in (False, True):
            best = np.inf
            for _ in range(repeats):
                t0 = time.perf_counter()
                collective_time(
                    op, size, ranks, per_node, acc, in_network_reduction=inr, fabric=fabric
                )
                best = min(best, time.perf_counter() - t0)
            print(
                f"  {op:15s} in-network-reduction={inr!s:5s}  {best * 1e3:7.1f} ms  "
                f"{n_elements / best:,.0f} elements/s"
            )


def checks() -> None:
    seen: set[str] = set()
    rows = []
    for path in CHECK_FILES:
        if not path.exists():
            continue
        for c in yaml.safe_load(path.read_text()):
            if c["id"] in seen:
                continue
            seen.add(c["id"])
            i = dict(c["input"])
            e = estimate(
                i["op"],
                i["bytes"],
                i["gpus"],
                i.get("gpus_per_node", 8),
                get_accelerator(i["accelerator"]),
                algorithm=i.get("algorithm", "auto"),
                in_network_reduction=i.get("in_network_reduction", False),
            )
            got, want = e.busbw_bytes_per_s / 1e9, c["expect"]["busbw_gb_s"]
            err = got / want - 1
            verdict = "PASS" if abs(err) <= c["tolerance"] else "MISS"
            rows.append(
                (
                    c["id"],
                    c.get("set", "public"),
                    got,
                    want,
                    err,
                    c["tolerance"],
                    verdict,
                    f"{e.algorithm}/{e.protocol}",
                    c.get("status", ""),
                )
            )
    print("\nvalidation checks (busbw, GB/s = 1e9 B/s)")
    print(
        f"  {'id':30s} {'set':6s} {'ours':>8s} {'expected':>8s} {'error':>7s} {'tol':>4s}  verdict  algorithm"
    )
    for r in rows:
        print(
            f"  {r[0]:30s} {r[1]:6s} {r[2]:8.1f} {r[3]:8.1f} {r[4]:+7.1%} {r[5]:4.0%}  {r[6]:7s}  {r[7]}"
            f"{'  (' + r[8] + ')' if r[8] else ''}"
        )
    passed = sum(r[6] == "PASS" for r in rows)
    print(f"  {passed}/{len(rows)} within tolerance")


if __name__ == "__main__":
    bench()
    checks()
