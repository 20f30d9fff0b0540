"""Disaggregated serving: a prefill pool and a decode pool with the KV cache sent between them.

(DistServe, Zhong et al. OSDI'24; Splitwise, Patel et al. ISCA'24; NVIDIA Dynamo.) Per instance, same
layout in both pools:

    prefill   R_p = N / (ISL * T_pre(N))          requests/s, iterations of N = max_num_tokens prompt tokens
    decode    R_d = B / (OSL * T_dec(B))          B = min(KV tokens / (ISL + OSL), max_batch, N)
    transfer  t_kv = send-recv of ISL * KV bytes per token per GPU, each prefill GPU to its decode peer,
              over the scale-up links when both pools share one domain, else the scale-out NICs
    system    R = min(p * R_p, d * R_d)   (p + d instances), capped by the stated request rate
    TTFT      = ceil(ISL / N) * T_pre(N) + t_kv;   TPOT = T_dec(B)

The split p:d, when not stated, is the one with the highest system rate.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from wanka.errors import ConfigError
from wanka.perf.comm import collective_s
from wanka.serve.engine import FIXED_POINT_STEPS, Engine, little_batch
from wanka.serve.model import Layouts, kv_bytes_per_token_per_gpu

__all__ = ["disaggregated", "pool_rates"]

GiB = float(2**30)


def pool_rates(
    eng: Engine,
    lay: Layouts,
    isl: float,
    osl: float,
    rate_per_decode: Any = None,
    *,
    solver: str = "root",
) -> dict[str, Any]:
    """Per-instance prefill and decode request rates, TTFT/TPOT parts and KV transfer (arrays).

    `solver`: as `Engine.server` ("iterate": the plain fixed-point iteration from B = 1).
    """
    n = float(eng.eng.max_num_tokens)
    z = np.zeros(len(lay))
    t_pre = eng.step(lay, n_dec=z, ctx_dec=z, n_pre=z + n, pre_pairs=z + n * isl / 2.0,
                     n_out=z + n / isl).total_s  # fmt: skip
    r_pre = n / (isl * t_pre)
    kv_tokens, pool = eng.capacity(lay)
    b = np.minimum(np.minimum(np.floor(kv_tokens / (isl + osl)), eng.eng.max_batch), n)
    if rate_per_decode is not None:  # Little's law at a given load (`engine.little_batch`)

        def t_of(sub: Layouts, bb: Any) -> Any:
            return eng.step(sub, n_dec=bb, ctx_dec=bb * (isl + osl / 2.0)).total_s

        if solver == "iterate":
            bmax, b = b, np.ones_like(b)
            for _ in range(FIXED_POINT_STEPS):
                b = np.clip(rate_per_decode * osl * t_of(lay, b), 1.0, np.maximum(bmax, 1.0))
        else:
            b, _ = little_batch(lay, np.asarray(rate_per_decode) * osl, b, t_of)
    fits = b >= 1.0
    bb = np.maximum(b, 1.0)
    dec = eng.step(lay, n_dec=bb, ctx_dec=bb * (isl + osl / 2.0))
    r_dec = bb / (osl * dec.total_s)
    per_gpu = isl * kv_bytes_per_token_per_gpu(eng.s, eng.kv_elem, lay.tpa, lay.pp)
    t_kv = collective_s("send-recv", per_gpu, 2.0, 1.0, eng.acc, fabric=eng.fabric)
    ttft = np.ceil(isl / n) * t_pre + t_kv
    return {
        "fits": fits, "r_pre": r_pre, "r_dec": r_dec, "t_pre": t_pre, "t_dec": dec.total_s,
        "comm_dec": dec.comm_s, "t_kv": t_kv, "ttft": ttft, "batch": b, "pool": pool,
    }  # fmt: skip


def _splits(spec: Any, inst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row index, prefill instances) pairs to evaluate."""
    rows, ps = [], []
    for i, n in enumerate(inst.astype(int)):
        if spec.prefill_instances:
            rows.append(i)
            ps.append(spec.prefill_instances)
        else:
            rows += [i] * (n - 1)
            ps += list(range(1, n))
    return np.array(rows, dtype=np.int64), np.array(ps, dtype=np.float64)


def disaggregated(spec: Any, eng: Engine, lay: Layouts, inst: np.ndarray, notes: list[str]):
    """The `serve predict` record of a disaggregated deployment (see the module docstring)."""
    if np.all(inst < 2):
        raise ConfigError(
            f"a disaggregated deployment needs at least 2 instances; {spec.count} accelerators give "
            f"{int(inst.max())} at the smallest layout"
        )
    isl, osl = spec.input_len, spec.output_len
    rows, p = _splits(spec, inst)
    if rows.size == 0:
        raise ConfigError("no prefill:decode split fits the stated instances")
    sub = Layouts.of(lay.tp[rows], lay.pp[rows], lay.ep[rows], lay.attention_dp[rows])
    d = inst[rows] - p
    pr = pool_rates(eng, sub, isl, osl)
    system = np.minimum(p * pr["r_pre"], d * pr["r_dec"])
    if spec.request_rate and math.isfinite(spec.request_rate):
        system = np.minimum(system, spec.request_rate)
    gpus = sub.gpus * (p + d)
    score = np.where(pr["fits"] & (d >= 1), system * osl / gpus, -1.0)
    k = int(np.argmax(score))
    if score[k] <= 0:
        raise ConfigError(
            f"{spec.model.name} does not fit a decode instance on {spec.accelerator.id}: "
            "add accelerators or raise tp/pp"
        )
    one = Layouts.of(sub.tp[k], sub.pp[k], sub.ep[k], sub.attention_dp[k])
    load = float(system[k] / d[k]) if spec.request_rate else None
    pr1 = (
        pool_rates(eng, one, isl, osl, load)
        if load
        else {key: v[k : k + 1] for key, v in pr.items()}
    )
    g = float(one.gpus[0])
    out = float(system[k]) * osl / float(gpus[k])
    ttft, tpot = float(pr1["ttft"][0]), float(pr1["t_dec"][0])
    notes.append(
        f"disaggregated: {int(p[k])} prefill + {int(d[k])} decode instances of tp={int(one.tp[0])} "
        f"pp={int(one.pp[0])}; KV sent over "
        f"{'NVLink/scale-up' if spec.count <= eng.acc.scaleup_domain else 'the scale-out NICs'}"
    )
    notes.append("disaggregated latencies are steady-state figures (p50 = p99), not simulated")
    meets = None
    if spec.has_slo:
        meets = (spec.ttft_ms is None or ttft * 1e3 <= spec.ttft_ms) and (
            spec.tpot_ms is None or tpot * 1e3 <= spec.tpot_ms
        )
    return {
        "id": spec.id,
        "output_tokens_per_s_per_gpu": out,
        "total_tokens_per_s_per_gpu": out * (isl + osl) / osl,
        "ttft_ms": {"p50": ttft * 1e3, "p99": ttft * 1e3},
        "tpot_ms": {"p50": tpot * 1e3, "p99": tpot * 1e3},
        "max_batch": int(pr1["batch"][0]),
        "kv_cache_gib": float(pr1["pool"][0]) / GiB,
        "fits": True,
        "meets_slo": meets,
        "breakdown": {
            "prefill_s": float(pr1["t_pre"][0]) * math.ceil(isl / eng.eng.max_num_tokens),
            "decode_s": tpot * max(osl - 1.0, 0.0),
            "exposed_comm_s": float(pr1["comm_dec"][0]) * max(osl - 1.0, 0.0),
            "kv_transfer_s": float(pr1["t_kv"][0]),
        },
        "prefill_tokens_per_s_per_gpu": float(p[k] * pr["r_pre"][k]) * isl / (p[k] * g),
        "decode_output_tokens_per_s_per_gpu": float(d[k] * pr["r_dec"][k]) * osl / (d[k] * g),
        "layout": {
            "tp": int(one.tp[0]),
            "pp": int(one.pp[0]),
            "ep": int(one.ep[0]),
            "dp": int(p[k] + d[k]),
            "attention_dp": bool(one.attention_dp[0]),
            "prefill_instances": int(p[k]),
            "decode_instances": int(d[k]),
        },
        "assumptions": notes,
    }
