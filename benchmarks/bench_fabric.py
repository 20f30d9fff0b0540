"""Benchmark and validation report of the fabric designer (wanka.topology.fabric).

    python benchmarks/bench_fabric.py

1. Times `wanka fabric compare --endpoints 10240 --accelerator h100-sxm --json` end to end (a fresh
   process, as the contract check runs it) and the library call alone, and prints the comparison
   (cost per accelerator, capex share, power, bisection, reference all-reduce / all-to-all).
2. Prints every fabric check (shared/validation/fabric_checks.yaml and the published counts in
   tests/topology/data/fabric_published.yaml): ours vs expected.
3. Times design_fabric per topology at 100,000 endpoints (the `plan` command calls it per candidate).
4. Prints the reference designs of examples/fabric-designs.yaml.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

from wanka.catalogs import get_accelerator
from wanka.topology.fabric import TOPOLOGIES, compare_fabrics, design_fabric, reference_collectives

ROOT = Path(__file__).resolve().parents[1]
CHECK_FILES = [
    ROOT / "validation" / "fabric_checks.yaml",
    ROOT / "tests" / "topology" / "data" / "fabric_published.yaml",
]


def bench_compare() -> None:
    t0 = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "wanka.cli.main",
            "fabric",
            "compare",
            "--endpoints",
            "10240",
            "--accelerator",
            "h100-sxm",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - t0
    designs = json.loads(out.stdout)["designs"]
    acc = get_accelerator("h100-sxm")
    t0 = time.perf_counter()
    for d in compare_fabrics(10240, accelerator=acc):
        reference_collectives(d, acc)
    lib = time.perf_counter() - t0
    print(
        f"compare 10,240 x h100-sxm: CLI {wall:.2f} s wall (limit 5 s), library {lib * 1e3:.1f} ms\n"
    )
    print(
        f"{'topology':15} {'tiers':>5} {'switches':>9} {'links':>12} {'cost/accel $':>14} {'capex':>7} "
        f"{'power kW':>9} {'bisect TB/s':>12} {'diam':>5} {'AR ms':>8} {'A2A ms':>8}"
    )
    for d in designs:
        share = d["network_share_of_capex"]
        print(
            f"{d['topology']:15} {d['tiers']:>5} {d['switches']:>9,} {d['links']:>12,} "
            f"{d['fabric_cost_per_accelerator']:>14,.0f} {'' if share is None else f'{share:.1%}':>7} "
            f"{d['power_w'] / 1e3:>9,.0f} {d['bisection_gb_s'] / 1e3:>12,.1f} {d['diameter_hops']:>5} "
            f"{d['allreduce_s'] * 1e3:>8.2f} {d['alltoall_s'] * 1e3:>8.2f}"
        )
    print()


def checks() -> int:
    bad = 0
    for path in CHECK_FILES:
        if not path.exists():
            print(f"(missing {path})")
            continue
        print(f"checks from {path.relative_to(ROOT.parent)}:")
        for c in yaml.safe_load(path.read_text()):
            got = design_fabric(**c["input"]).to_dict()
            got = {k: got[k] for k in c["expect"]}
            ok = got == c["expect"]
            bad += not ok
            print(
                f"  {'PASS' if ok else 'FAIL'} {c['id']:24} ours {got}"
                + ("" if ok else f"  expected {c['expect']}")
            )
    print()
    return bad


def bench_design() -> None:
    acc = get_accelerator("h100-sxm")
    print("design_fabric at 100,000 endpoints (plan calls it per candidate):")
    for topo in TOPOLOGIES:
        design_fabric(topo, 100_000, accelerator=acc)
        t0 = time.perf_counter()
        for _ in range(50):
            design_fabric(topo, 100_000, accelerator=acc)
        print(f"  {topo:15} {(time.perf_counter() - t0) / 50 * 1e3:.3f} ms")
    print()


def examples() -> None:
    print("examples/fabric-designs.yaml:")
    for e in yaml.safe_load((ROOT / "examples" / "fabric-designs.yaml").read_text()):
        d = design_fabric(**e["design"])
        share = d.network_share_of_capex
        print(
            f"  {e['id']:24} tiers {d.tiers} switches {list(d.switches_per_tier)} "
            f"${d.fabric_cost_per_accelerator_usd:,.0f}/accel"
            + ("" if share is None else f" ({share:.1%} of capex)")
            + f"  - {e['note']}"
        )


if __name__ == "__main__":
    bench_compare()
    failures = checks()
    bench_design()
    examples()
    sys.exit(1 if failures else 0)
