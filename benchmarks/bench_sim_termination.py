"""Every policy ends on every shipped Pollux workload, quickly, with every job accounted for.

    python benchmarks/bench_sim_termination.py [--timeout-s 2] [--policies fifo,sjf,...]

4 policies (fifo, sjf, fifo-backfill, tiresias) x 8 Pollux workloads x 4 loads (0.5, 1.0, 1.5,
2.0) on the Pollux artifact's cluster (examples/cluster-pollux.yaml, 16 x 4 GPUs). Each run goes
in a child process with a wall-clock limit, so a run that never ends is reported, not waited on.
Prints one line per run that misses the limit or loses a job, then a summary; exit 1 if any did.
The limit applies to the CPU seconds of the run itself (`time.process_time`), so that other work
on a shared machine does not count; a run that never ends is caught by the wall-clock join.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOADS = {"0.5": "workloads-0.5", "1.0": "workloads", "1.5": "workloads-1.5", "2.0": "workloads-2.0"}
POLICIES = ("fifo", "sjf", "fifo-backfill", "tiresias")


def _run(policy: str, trace: str, out: mp.Queue) -> None:
    from wanka.sim import ClusterSpec, simulate
    from wanka.sim.runner import load_trace

    cluster = ClusterSpec.from_yaml(ROOT / "examples" / "cluster-pollux.yaml")
    tr = load_trace(trace, None, cluster)
    t0 = time.process_time()
    s = simulate(cluster=cluster, trace=tr, policy=policy).summary
    out.put((time.process_time() - t0, s["jobs"], s["completed"], s["rejected"]))


def one(policy: str, trace: str, timeout_s: float) -> tuple[str, float, str]:
    """(status, wall seconds, detail) of one run in a child process."""
    q: mp.Queue = mp.Queue()
    p = mp.Process(target=_run, args=(policy, trace, q))
    p.start()
    p.join(timeout_s * 30)  # generous wall-clock join; the limit is checked on CPU seconds
    if p.is_alive():
        p.kill()
        p.join()
        return "hang", float("inf"), f"still running after {timeout_s * 30:.0f} s of wall time"
    if q.empty():
        return "crash", float("nan"), f"exit code {p.exitcode}"
    wall, n, done, rej = q.get()
    if done + rej != n:
        return "lost", wall, f"{n - done - rej} of {n} jobs neither completed nor rejected"
    if wall > timeout_s:
        return "slow", wall, f"{wall:.2f} s > {timeout_s} s"
    return "ok", wall, f"{done} completed, {rej} rejected"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout-s", type=float, default=2.0)
    ap.add_argument("--policies", default=",".join(POLICIES))
    args = ap.parse_args()
    worst, bad, runs = 0.0, 0, 0
    for policy in args.policies.split(","):
        for load, folder in LOADS.items():
            for w in range(1, 9):
                trace = f"builtin:philly-pollux/{folder}/workload-{w}.csv.gz"
                status, wall, detail = one(policy, trace, args.timeout_s)
                runs += 1
                if status != "ok":
                    bad += 1
                    print(f"{status:5s} {policy:14s} load {load} workload-{w}: {detail}")
                elif wall > worst:
                    worst = wall
    print(
        f"{runs} runs, {runs - bad} ended under {args.timeout_s} CPU s with every job "
        f"accounted for; slowest {worst:.2f} CPU s; {bad} failed"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
