"""Disaggregated pools: the analytic TTFT of a prefill instance and TPOT of a decode instance
against the request-level simulation.

    python benchmarks/bench_disagg_pools.py [--json]

Prefill pool. A prefill instance of a disaggregated deployment runs prompt iterations only: the
aggregated simulation (`server.simulate_server`) with an output length of 1 is exactly that engine.
For each case (model, chip, tp, ISL; fp8 weights and KV, the engine defaults) and each load (0.1-0.9
of the instance's full-batch prompt rate R_pre, `disagg.pool_rates`), the simulation is run with
seeds 1-4 over a window of at least 2,000 arrivals and 10 minutes; the reference is the median of the
four p50s and of the four p99s. Three analytic figures are compared with it, KV transfer excluded:

  now      `disagg.prefill_ttft`: the prompt's own iterations alone, the residual of the iteration
           in progress and the backlog's Kingman wait;
  before   the iteration of N = max_num_tokens tokens (ceil(ISL / N) of them) plus the Kingman wait,
           which `serve predict` and `serve plan` used up to this change;
  no_resid `now` without the residual of the iteration in progress (the simpler form it was chosen
           over, on these runs).

Decode pool. A decode instance receives requests with their prompt's KV cache and first token
(`simulate_server(prefilled=True)`). For each case (model, chip, tp, ISL, OSL) and load (0.3-0.9 of
the full-batch decode rate R_dec), the simulated TPOT p50/p99 (median of seeds 1-4, same window) is
compared with `pool_rates`' decode iteration at the Little's-law batch (`t_dec`) and its p99 with
the batch's wander (`t_dec99`).

Printed: |error| median / p90 / max and the median signed error, for each figure. No parameter is
fitted to these runs.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from wanka.catalogs import get_accelerator
from wanka.serve import Engine, EngineDefaults, Layouts, model_shape
from wanka.serve.disagg import pool_rates, prefill_ttft
from wanka.serve.engine import queue_wait
from wanka.serve.server import simulate_server
from wanka.workload.presets import get_model

CASES = [  # (model preset, chip, tp, ISL): short to long prompts, dense and MoE, three chips
    ("llama3-70b", "h100-sxm", 4, 2048),
    ("llama3-8b", "h100-sxm", 1, 2048),
    ("llama3-70b", "h100-sxm", 4, 8000),
    ("llama3-8b", "h200", 1, 600),
    ("llama3-70b", "b200", 2, 1000),
    ("llama3-8b", "h100-sxm", 1, 20000),
    ("mixtral-8x7b", "h100-sxm", 2, 3000),
]
LOADS = (0.1, 0.3, 0.5, 0.7, 0.8, 0.9)
DECODE_CASES = [  # (model preset, chip, tp, ISL, OSL)
    ("llama3-70b", "h100-sxm", 4, 2048, 256),
    ("llama3-8b", "h100-sxm", 1, 1000, 200),
    ("llama3-8b", "h200", 1, 600, 600),
    ("llama3-70b", "b200", 2, 4000, 500),
    ("mixtral-8x7b", "h100-sxm", 2, 3000, 300),
]
DECODE_LOADS = (0.3, 0.6, 0.8, 0.9)
SEEDS = (1, 2, 3, 4)
REQUESTS = 2000  # arrivals in the measured window at least (it lasts 10 minutes at least)
QUANTILES = {"p50": 0.5, "p99": 0.99}


def _case(name: str, chip: str, tp: int, isl: float) -> list[dict]:
    eng, lay = _engine(name, chip), Layouts.of(tp)
    pr = pool_rates(eng, lay, isl, 1.0)
    r_pre, t_kv = float(pr["r_pre"][0]), float(pr["t_kv"][0])
    before_own = math.ceil(isl / eng.eng.max_num_tokens) * float(pr["t_pre"][0])
    rows = []
    for u in LOADS:
        runs = [simulate_server(eng, lay, rate=u * r_pre, isl=isl, osl=1.0, requests=REQUESTS, seed=s)
                for s in SEEDS]  # fmt: skip
        row = {"case": f"{name} {chip} tp{tp} isl {int(isl)}", "load": u}
        for k, q in QUANTILES.items():
            row[f"sim_{k}"] = float(np.median([r.pct("ttft", 100 * q) for r in runs]))
            row[f"now_{k}"] = float(prefill_ttft(pr, 0, u * r_pre, q)) - t_kv
            row[f"no_resid_{k}"] = float(pr["t_alone"][0]) + float(queue_wait(1.0 / r_pre, u, q))
            row[f"before_{k}"] = before_own + float(queue_wait(1.0 / r_pre, u, q))
        rows.append(row)
    return rows


def _engine(name: str, chip: str) -> Engine:
    return Engine(model_shape(get_model(name)), get_accelerator(chip), "fp8", "fp8",
                  engine=EngineDefaults())  # fmt: skip


def _decode_case(name: str, chip: str, tp: int, isl: float, osl: float) -> list[dict]:
    eng, lay = _engine(name, chip), Layouts.of(tp)
    r_dec = float(pool_rates(eng, lay, isl, osl)["r_dec"][0])
    rows = []
    for u in DECODE_LOADS:
        pr = pool_rates(eng, lay, isl, osl, u * r_dec)
        runs = [simulate_server(eng, lay, rate=u * r_dec, isl=isl, osl=osl, requests=REQUESTS,
                                seed=s, prefilled=True) for s in SEEDS]  # fmt: skip
        rows.append({
            "case": f"{name} {chip} tp{tp} {int(isl)}/{int(osl)}", "load": u,
            "sim_p50": float(np.median([r.pct("tpot", 50) for r in runs])),
            "sim_p99": float(np.median([r.pct("tpot", 99) for r in runs])),
            "now_p50": float(pr["t_dec"][0]), "now_p99": float(pr["t_dec99"][0]),
        })  # fmt: skip
    return rows


def _stats(rows: list[dict], model: str, k: str) -> dict[str, float]:
    e = np.array([r[f"{model}_{k}"] / r[f"sim_{k}"] - 1.0 for r in rows])
    a = np.abs(e)
    return {"median_abs": float(np.median(a)), "p90_abs": float(np.quantile(a, 0.9)),
            "max_abs": float(a.max()), "median_signed": float(np.median(e))}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [r for c in CASES for r in _case(*c)]
    out = {m: {k: _stats(rows, m, k) for k in QUANTILES} for m in ("now", "before", "no_resid")}
    dec = [r for c in DECODE_CASES for r in _decode_case(*c)]
    out["decode"] = {k: _stats(dec, "now", k) for k in QUANTILES}
    if args.json:
        print(json.dumps({"summary": out, "prefill": rows, "decode": dec}, indent=2))
        return
    print("prefill pool TTFT (ms, KV transfer excluded)")
    for r in rows:
        print(f"{r['case']:34s} load {r['load']:.1f}  p50 sim {r['sim_p50'] * 1e3:7.0f} "
              f"now {r['now_p50'] * 1e3:7.0f} before {r['before_p50'] * 1e3:7.0f} ms | p99 sim "
              f"{r['sim_p99'] * 1e3:7.0f} now {r['now_p99'] * 1e3:7.0f} "
              f"before {r['before_p99'] * 1e3:7.0f} ms")  # fmt: skip
    print("decode pool TPOT (ms)")
    for r in dec:
        print(f"{r['case']:34s} load {r['load']:.1f}  p50 sim {r['sim_p50'] * 1e3:6.1f} "
              f"model {r['now_p50'] * 1e3:6.1f} | p99 sim {r['sim_p99'] * 1e3:6.1f} "
              f"model {r['now_p99'] * 1e3:6.1f}")  # fmt: skip
    for m, by_q in out.items():
        for k, st in by_q.items():
            print(f"{m:8s} {k}: |error| median {st['median_abs']:6.1%} p90 {st['p90_abs']:6.1%} "
                  f"max {st['max_abs']:6.1%}, median signed {st['median_signed']:+6.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
