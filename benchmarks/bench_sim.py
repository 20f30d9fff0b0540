"""Benchmarks of `wanka.sim`, printing the figures quoted in docs/simulate.md.

    python benchmarks/bench_sim.py            # everything (about 2-4 minutes on 2 cores)
    python benchmarks/bench_sim.py itp pollux # a subset: itp, synthetic, pollux, openb

1. itp: all ten Microsoft ITP raw clusters merged (69,351 jobs) on 2,048 GPUs (256 x 8), FIFO and
   Tiresias: wall time, events/s, average JCT.
2. synthetic: 1,000,000 synthetic LLM jobs on 10,240 accelerators (FIFO).
3. pollux: the 8 Pollux workloads (load 1.0) on 64 GPUs (16 x 4), every policy, beside the
   published Pollux / Optimus+Oracle / Tiresias averages from the artifact's summary.json files.
4. openb: Alibaba openb pods on a 1/16-scale openb cluster, arrivals compressed x0.03, packed vs
   first-fit placement: fragmentation and average JCT.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from wanka.sim import ClusterSpec, SimConfig, simulate, synthetic_llm_trace
from wanka.sim.runner import load_trace
from wanka.sim.traces import builtin_root, read_trace

ROOT = Path(__file__).resolve().parents[1]
SHARED_ITP = Path("/work/shared/traces/microsoft-itp-elasticflow/raw")


def _fmt(s: dict) -> str:
    return (
        f"completed {s['completed']:,} rejected {s['rejected']:,}  avg JCT "
        f"{s['avg_jct_s']:,.0f} s  median {s['median_jct_s']:,.0f} s  p99 "
        f"{s['p99_jct_s']:,.0f} s  avg queue {s['avg_queue_s']:,.0f} s  util "
        f"{100 * s['utilization']:.1f} %  wall {s['wall_s']:.2f} s"
        f"  events {s['events']:,} ({s['events_per_s']:,.0f}/s)"
    )


def bench_itp() -> None:
    print("== ITP raw, 10 clusters merged, 2,048 GPUs (256 x 8) ==")
    spec = str(SHARED_ITP) if SHARED_ITP.exists() else "builtin:microsoft-itp-elasticflow/raw"
    t0 = time.perf_counter()
    tr = read_trace(spec)
    dt = time.perf_counter() - t0
    print(f"read {len(tr.jobs):,} jobs in {dt:.2f} s (bad rows {tr.bad_rows})")
    c = ClusterSpec.from_shape(gpus=2048, gpus_per_node=8)
    for pol in ("fifo", "tiresias", "fifo-backfill", "sjf"):
        s = simulate(cluster=c, trace=tr, policy=pol).summary
        assert s["completed"] + s["rejected"] == s["jobs"]
        print(f"{pol:14s} {_fmt(s)}")
    print("-- the same trace on 1,024 GPUs (128 x 8): a contended cluster --")
    c = ClusterSpec.from_shape(gpus=1024, gpus_per_node=8)
    for pol in ("fifo", "tiresias"):
        s = simulate(cluster=c, trace=tr, policy=pol).summary
        print(f"{pol:14s} {_fmt(s)}")


def bench_synthetic(n: int = 1_000_000) -> None:
    print(f"== synthetic LLM trace, {n:,} jobs, 10,240 accelerators (1,280 x 8) ==")
    c = ClusterSpec.from_shape(gpus=10240, gpus_per_node=8, accelerator="h100-sxm")
    t0 = time.perf_counter()
    tr = synthetic_llm_trace(jobs=n, accelerators=10240, seed=0, load=0.9)
    gen = time.perf_counter() - t0
    print(
        f"generated in {gen:.2f} s; sizes 1..{tr.jobs.size.max():,}, {len(tr.jobs.tenants)} tenants"
    )
    t0 = time.perf_counter()
    s = simulate(cluster=c, trace=tr, policy="fifo").summary
    total = time.perf_counter() - t0 + gen
    print(f"{'fifo':14s} {_fmt(s)}  (total incl. generation {total:.1f} s)")


def published_pollux() -> dict[str, float]:
    out = {}
    root = builtin_root() / "philly-pollux" / "published-results-jobload"
    for name in ("pollux", "optimus", "tiresias"):
        d = json.loads((root / f"{name}-1.0" / "summary.json").read_text())
        out[name] = float(np.mean(list(d["avgs"].values())))
    return out


def bench_pollux() -> None:
    print("== Pollux workloads (load 1.0, 8 workloads x 160 jobs), 64 GPUs (16 x 4) ==")
    c = ClusterSpec.from_yaml(ROOT / "examples" / "cluster-pollux.yaml")
    traces = [
        read_trace(f"builtin:philly-pollux/workloads/workload-{i}.csv.gz") for i in range(1, 9)
    ]
    rows = []
    for pol in ("fifo", "fifo-backfill", "sjf", "tiresias", "gavel", "quota"):
        jcts, mk, wall = [], [], 0.0
        for tr in traces:
            s = simulate(cluster=c, trace=tr, policy=pol).summary
            assert s["completed"] == s["jobs"] == 160, s
            jcts.append(s["avg_jct_s"])
            mk.append(s["makespan_s"])
            wall += s["wall_s"]
        rows.append((pol, float(np.mean(jcts)), float(np.mean(mk))))
        print(
            f"wanka {pol:14s} avg JCT {np.mean(jcts) / 3600:6.3f} h  makespan "
            f"{np.mean(mk) / 3600:6.2f} h  (wall {wall:.2f} s for 8 workloads)"
        )
    for name, v in published_pollux().items():
        print(f"published {name:10s} avg JCT {v / 3600:6.3f} h")


def bench_openb(scale: float = 0.03) -> None:
    print(f"== Alibaba openb pods on the 1/16 openb cluster (385 GPUs), arrivals x{scale} ==")
    c = ClusterSpec.from_yaml(ROOT / "examples" / "cluster-openb-mini.yaml")
    tr = load_trace(
        "builtin:alibaba-gpu-2023-openb/openb_pod_list_default.csv.gz", None, c, arrival_scale=scale
    )
    print(f"{len(tr.jobs):,} GPU pods ({tr.bad_rows:,} rows skipped: {tr.bad_reasons})")
    for pol in ("fifo-backfill", "tiresias", "sjf", "fifo"):
        for pl in ("packed", "first-fit"):
            s = simulate(cluster=c, trace=tr, policy=pol, config=SimConfig(placement=pl)).summary
            print(
                f"{pol:14s} {pl:9s} avg JCT {s['avg_jct_s']:,.0f} s  avg queue "
                f"{s['avg_queue_s']:,.0f} s  fragmented accels (avg) "
                f"{s['avg_fragmented_accels']:.3f} (while jobs arrive "
                f"{s['avg_fragmented_accels_while_arriving']:.3f})  fragmentation "
                f"{s['fragmentation']:.4f}  "
                f"wall {s['wall_s']:.2f} s"
            )


BENCHES = {
    "itp": bench_itp,
    "synthetic": bench_synthetic,
    "pollux": bench_pollux,
    "openb": bench_openb,
}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(BENCHES):
        BENCHES[name]()
