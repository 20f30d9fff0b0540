"""Disaggregated serving: a prefill pool and a decode pool with the KV cache sent between them.

(DistServe, Zhong et al. OSDI'24; Splitwise, Patel et al. ISCA'24; NVIDIA Dynamo.) Each pool has its
own instance layout (p x prefill GPUs + d x decode GPUs = the count); per instance:

    prefill   R_p = N / (ISL * T_pre(N))          requests/s, iterations of N = max_num_tokens prompt tokens
    decode    R_d = B / (OSL * T_dec(B))          B = min(KV tokens / (ISL + OSL), max_batch, N)
    transfer  t_kv = send-recv of ISL * KV bytes per token per GPU, each prefill GPU to its decode peer,
              over the scale-up links when both pools share one domain, else the scale-out NICs
    system    R = min(p * R_p, d * R_d)   (p + d instances), capped by the stated request rate
    TTFT      = ceil(ISL / N) * T_pre(N) + t_kv with the prefill pool full; at a stated rate the
              prompt's own iterations, the residual of the one in progress and the pool's queueing
              wait, p50 and p99, + t_kv (`prefill_ttft`);   TPOT = T_dec(B), at p99 plus the
              decode batch's wander at a stated rate (`engine.lifetime_wander`)
    speculative decoding: T_dec per output token is the iteration over E tokens per step, B at most
              N / (1 + k) (see `wanka.serve.engine`)

The layouts and the split p:d, where not stated, are those with the highest system rate per GPU among
the splits meeting the latency limits at their load (all of them when none does); at a stated rate
that many splits serve in full, ties go to the most spare capacity. With latency limits and no rate
(a server or interactive result) each split's rate is the highest meeting them (`_passing_rate`);
with `concurrency` clients and no rate, the closed loop's rate by Little's law (`_closed_rate`).
Stated degrees that no whole split gives both pools are the decode pool's (`_decode_pool_stated`).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wanka.errors import ConfigError
from wanka.perf.comm import collective_s
from wanka.serve.engine import (
    FIXED_POINT_STEPS,
    Engine,
    elasticity,
    lifetime_wander,
    little_batch,
    queue_wait,
)
from wanka.serve.model import (
    Layouts,
    kv_bytes_per_token_per_gpu,
    kv_tokens_held,
    mean_context,
    prefill_pairs,
)

__all__ = ["disaggregated", "kv_transfer_s", "pool_rates", "prefill_ttft"]

GiB = float(2**30)
RATE_STEPS = 24  # bisection steps of the highest passing rate: 2^-24 of the capacity apart
F64 = NDArray[np.float64]


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

    def t_prompt(tokens: float) -> Any:  # one prefill iteration of `tokens` prompt tokens
        return eng.step(lay, n_dec=z, ctx_dec=z, n_pre=z + tokens,
                        pre_pairs=z + tokens * prefill_pairs(eng.s, 0.0, isl) / isl,
                        n_out=z + tokens / isl).total_s  # fmt: skip

    t_pre = t_prompt(n)
    r_pre = n / (isl * t_pre)
    rest = isl - math.floor(isl / n) * n  # the last chunk of a prompt longer than N
    t_one = t_prompt(min(isl, n))
    t_alone = math.floor(isl / n) * t_pre + (t_prompt(rest) if rest > 0 else 0.0)
    kv_tokens, pool = eng.capacity(lay)
    held = kv_tokens_held(eng.s, isl + osl)
    by_tokens = np.floor(n / eng.eng.rows_per_sequence)
    b = np.minimum(np.minimum(np.floor(kv_tokens / held), eng.eng.max_batch), by_tokens)
    ctx = mean_context(eng.s, isl, osl)

    def t_of(sub: Layouts, bb: Any) -> Any:
        return eng.step(sub, n_dec=bb, ctx_dec=bb * ctx).total_s

    if rate_per_decode is not None:  # Little's law at a given load (`engine.little_batch`)
        if solver == "iterate":
            bmax, b = b, np.ones_like(b)
            for _ in range(FIXED_POINT_STEPS):
                b = np.clip(rate_per_decode * osl / eng.e * t_of(lay, b), 1.0,
                            np.maximum(bmax, 1.0))  # fmt: skip
        else:
            b, _ = little_batch(lay, np.asarray(rate_per_decode) * osl / eng.e, b, t_of)
    fits = b >= 1.0
    bb = np.maximum(b, 1.0)
    dec = eng.step(lay, n_dec=bb, ctx_dec=bb * ctx)
    t_tok = dec.total_s / eng.e  # per output token (speculation: E tokens per iteration)
    t_tok99 = t_tok  # a full pool's batch sits at its cap; at a load it wanders (`engine`)
    if rate_per_decode is not None:
        g = elasticity(t_of, lay, bb, dec.total_s)
        t_tok99 = t_tok + lifetime_wander(dec.total_s, bb, g, 0.99) / eng.e
    r_dec = bb / (osl * t_tok)
    t_kv = kv_transfer_s(eng, lay, isl)
    ttft = np.ceil(isl / n) * t_pre + t_kv
    return {
        "fits": fits, "r_pre": r_pre, "r_dec": r_dec, "t_pre": t_pre, "t_dec": t_tok,
        "t_dec99": t_tok99,
        "comm_dec": dec.comm_s / eng.e, "t_kv": t_kv, "ttft": ttft, "batch": b, "pool": pool,
        "kv_tokens": kv_tokens, "t_one": t_one, "t_alone": t_alone,
        "isl": isl, "max_num_tokens": n,
    }  # fmt: skip


def kv_transfer_s(eng: Engine, lay: Layouts, isl: float) -> Any:
    """Seconds to send one prompt's KV cache from a prefill GPU to its decode peer: a send-recv of
    ISL x KV bytes per token per GPU (`perf.comm.collective_s`)."""
    per_gpu = kv_tokens_held(eng.s, isl) * kv_bytes_per_token_per_gpu(
        eng.s, eng.kv_elem, lay.tpa, lay.pp
    )
    return collective_s("send-recv", per_gpu, 2.0, 1.0, eng.acc, fabric=eng.fabric)


def prefill_ttft(pr: dict[str, Any], idx: Any, rate: Any, quantile: float) -> F64:
    """TTFT quantile (seconds, KV transfer included) at prefill instances `pr[...][idx]` (`pool_rates`)
    each offered `rate` prompts/s of Poisson arrivals.

    An instance runs iterations of every waiting prompt token up to N = max_num_tokens and a prompt
    that arrives during an iteration waits for the next one (continuous batching of prompts). Its
    TTFT is then the sum of three parts:
      own time     its own prompt's iterations alone: floor(ISL / N) full ones and the rest;
      residual     of the iteration in progress, found busy with probability min(1, rate x C), and
                   uniform over it: q x C at quantile q (half of it at the median);
      backlog      Poisson arrivals at a server of 1 / R_pre seconds per prompt, utilisation
                   rate / R_pre (`engine.queue_wait`, Kingman's heavy-traffic tail);
    C, the iteration at that load: with T(x) = a + b x affine between one prompt and N tokens,
    arrivals during one iteration make the next, so C = a / (1 - rate * b * ISL), between one prompt's
    iteration and the full one (the full one when ISL >= N or rate * b * ISL >= 1).
    Against the request-level simulation of one prefill instance (`server.simulate_server`, output
    length 1; Llama 3 8B/70B and Mixtral on H100/H200/B200, ISL 600-20,000, loads 0.1-0.9 of R_pre,
    median of four seeds) the |error| of the p50 is 12% at the median and 27% at the 90th
    percentile, of the p99 11% and 22%; the own time of ceil(ISL / N) iterations of N tokens used
    before was up to 9 times the simulated p50 at light load (`benchmarks/bench_disagg_pools.py`).
    """
    isl, n = pr["isl"], pr["max_num_tokens"]
    t_full, t_one, r_pre = pr["t_pre"][idx], pr["t_one"][idx], pr["r_pre"][idx]
    lam = np.asarray(rate, dtype=np.float64)
    if isl < n:
        slope = (t_full - t_one) * isl / (n - isl)  # b x ISL: one prompt's share of an iteration
        fixed = t_one - slope
        free = 1.0 - lam * slope
        cycle = np.where(free > 0, np.clip(fixed / np.maximum(free, 1e-12), t_one, t_full), t_full)
    else:
        cycle = t_full
    busy = np.minimum(lam * cycle, 1.0)
    residual = busy * quantile * cycle  # the time left of the iteration: uniform over it
    backlog = queue_wait(1.0 / r_pre, lam / r_pre, quantile)
    return np.asarray(pr["t_alone"][idx] + residual + backlog + pr["t_kv"][idx], dtype=np.float64)


def _pairs(
    spec: Any, gpus: np.ndarray, decode_ok: NDArray[np.bool_] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(prefill layout, decode layout, prefill instances, decode instances) rows whose GPUs add up to
    the count: p * g_pre + d * g_dec = count, with the stated instance numbers when given; decode
    layouts only where `decode_ok`."""
    n = int(spec.count)
    g = gpus.astype(int)
    out: list[tuple[int, int, int, int]] = []
    for a, ga in enumerate(g):
        for b, gb in enumerate(g):
            if decode_ok is not None and not decode_ok[b]:
                continue
            ps = [spec.prefill_instances] if spec.prefill_instances else range(1, n // ga + 1)
            for p in ps:
                rest = n - p * ga
                if rest < gb or rest % gb:
                    continue
                d = rest // gb
                if spec.decode_instances and d != spec.decode_instances:
                    continue
                out.append((a, b, p, d))
    arr = np.array(out, dtype=np.int64).reshape(-1, 4)
    return arr[:, 0], arr[:, 1], arr[:, 2].astype(np.float64), arr[:, 3].astype(np.float64)


def _pool_dict(lay: Layouts, i: int) -> dict[str, Any]:
    return {"tp": int(lay.tp[i]), "pp": int(lay.pp[i]), "ep": int(lay.ep[i]),
            "attention_dp": bool(lay.attention_dp[i])}  # fmt: skip


def _decode_pool_stated(
    spec: Any, lay: Layouts, free: Layouts | None, notes: list[str]
) -> tuple[Layouts, NDArray[np.bool_] | None]:
    """(layouts, the decode pool's allowed ones) of a disaggregated spec. Stated degrees hold for both
    pools where a whole split of the count uses them; where none does (e.g. a wide ep of the decode
    instance beside several smaller prefill instances, TensorRT-LLM's and SGLang's DeepSeek
    deployments) they are read as the decode pool's and the prefill pool's layout is chosen from
    `free`, every layout the count allows."""
    if free is None or _pairs(spec, lay.gpus)[0].size:
        return lay, None
    both = Layouts.of(*(np.concatenate([getattr(lay, k), getattr(free, k)])
                        for k in ("tp", "pp", "ep", "attention_dp")))  # fmt: skip
    notes.append(
        "serving tp/pp/ep stated for a disaggregated deployment: no whole split of the count uses "
        "them in both pools, so they are read as the decode pool's and the prefill layout is chosen"
    )
    return both, np.arange(len(both)) < len(lay)


def _best(
    spec: Any, eng: Engine, lay: Layouts, decode_ok: NDArray[np.bool_] | None = None
) -> tuple[int, int, float, float, float, dict[str, Any]]:
    """The (prefill layout, decode layout, p, d, system requests/s) with the highest output rate per
    GPU, and the per-layout pool figures (`pool_rates`)."""
    a, b, p, d = _pairs(spec, lay.gpus, decode_ok)
    if a.size == 0:
        raise ConfigError(
            f"no prefill:decode split of {spec.count} x {spec.accelerator.id} matches prefill_instances="
            f"{spec.prefill_instances} decode_instances={spec.decode_instances} with whole instances "
            "(p x prefill GPUs + d x decode GPUs must equal hardware.count)"
        )
    pr = pool_rates(eng, lay, spec.input_len, spec.output_len)
    capacity = np.minimum(p * pr["r_pre"][a], d * pr["r_dec"][b])
    system = capacity
    if spec.request_rate and math.isfinite(spec.request_rate):
        system = np.minimum(capacity, spec.request_rate)
    ok = pr["fits"][b] & (pr["kv_tokens"][a] >= kv_tokens_held(eng.s, spec.input_len))
    # splits that meet the latency limits at their load first (as `predict._choose` ranks aggregated
    # layouts); at a stated rate many splits serve it all, and the one with the most headroom wins
    if _searches_rate(spec):  # the highest rate whose latencies meet the limits, per split
        system = _passing_rate(spec, eng, lay, (a, b, p, d), capacity, pr)
        slo = system > 0.0
        system = np.where(slo, system, capacity)
    else:
        slo = _meets_at_load(spec, eng, lay, (a, b, p, d), system, pr)
    score = np.where(slo, 1.0, 1e-3) * (system + 1e-3 * capacity) * spec.output_len / spec.count
    score = np.where(ok, score, -1.0)
    k = int(np.argmax(score))
    if score[k] <= 0:
        raise ConfigError(
            f"{spec.model.name} does not fit a decode instance on {spec.accelerator.id}: "
            "add accelerators or raise tp/pp"
        )
    return int(a[k]), int(b[k]), float(p[k]), float(d[k]), float(system[k]), pr


def _searches_rate(spec: Any) -> bool:
    """A server or interactive spec with latency limits and no rate: its result is the highest rate
    whose p99 TTFT and TPOT meet them (MLPerf's Server and Interactive results)."""
    rate = spec.request_rate
    return (
        spec.scenario in ("server", "interactive") and spec.has_slo and not spec.closed_loop
        and not (rate and math.isfinite(rate))
    )  # fmt: skip


def _passing_rate(
    spec: Any,
    eng: Engine,
    lay: Layouts,
    split: tuple[np.ndarray, ...],
    capacity: np.ndarray,
    pr: dict[str, Any],
) -> np.ndarray:
    """Per split, the highest system rate below its capacity at which `_meets_at_load` holds (both
    limits only tighten with the load): RATE_STEPS bisection steps, vectorised over the splits;
    0 where even a light load misses them."""
    lo, hi = np.zeros(capacity.shape), capacity * (1.0 - 1e-9)
    first = _meets_at_load(spec, eng, lay, split, capacity * 1e-3, pr)
    for _ in range(RATE_STEPS):
        mid = 0.5 * (lo + hi)
        ok = _meets_at_load(spec, eng, lay, split, mid, pr)
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    return np.where(first, lo, 0.0)


def _meets_at_load(
    spec: Any,
    eng: Engine,
    lay: Layouts,
    split: tuple[np.ndarray, ...],
    system: np.ndarray,
    pr: dict[str, Any],
) -> np.ndarray:
    """Per split (prefill layout, decode layout, p, d) serving `system` requests/s: p99 TTFT (prefill,
    KV transfer and the prefill pool's wait) and TPOT at each decode instance's load within the limits."""
    a, b, p, d = split
    ok = np.ones(a.size, dtype=bool)
    if spec.ttft_ms is not None:
        ok &= prefill_ttft(pr, a, system / p, 0.99) * 1e3 <= spec.ttft_ms
    if spec.tpot_ms is not None and a.size:
        dec = Layouts.of(lay.tp[b], lay.pp[b], lay.ep[b], lay.attention_dp[b])
        t_dec = pool_rates(eng, dec, spec.input_len, spec.output_len, system / d)["t_dec99"]
        ok &= t_dec * 1e3 <= spec.tpot_ms
    return ok


def disaggregated(
    spec: Any, eng: Engine, lay: Layouts, notes: list[str], free: Layouts | None = None
) -> dict[str, Any]:
    """The `serve predict` record of a disaggregated deployment (see the module docstring).

    `lay`: every single-instance layout the spec allows; the prefill and decode pools may use
    different ones (e.g. prefill tp 4 instances beside one wide expert-parallel decode instance).
    `free`: every layout of the count, for a prefill pool whose stated degrees cannot hold
    (`_decode_pool_stated`); None when the spec states none.
    """
    isl, osl = spec.input_len, spec.output_len
    lay, decode_ok = _decode_pool_stated(spec, lay, free, notes)
    a, b, p, d, system, pr = _best(spec, eng, lay, decode_ok)
    dec = Layouts.of(lay.tp[b], lay.pp[b], lay.ep[b], lay.attention_dp[b])
    if spec.closed_loop:
        system, ttft, tpot, batch = _closed(spec, eng, dec, pr, (a, b, p, d), system, notes)
    else:
        at = spec
        if _searches_rate(spec):
            at = replace(spec, request_rate=system)
            notes.append(
                f"no request rate: the highest meeting the limits, {system:,.2f} requests/s "
                "(p99 TTFT and TPOT at their load, bisection over the split's capacity)"
            )
        ttft, tpot, batch = _open(at, eng, dec, pr, (a, b, p, d), system, notes)
    t_step = tpot["p50"] if math.isfinite(tpot["p50"]) else float(pr["t_dec"][b])
    out = system * osl / spec.count
    same = a == b
    notes.append(
        f"disaggregated: {int(p)} prefill instance(s) of {_pool_dict(lay, a)} + {int(d)} decode "
        f"instance(s) of {_pool_dict(lay, b)}; KV sent over "
        f"{'NVLink/scale-up' if spec.count <= eng.acc.scaleup_domain else 'the scale-out NICs'}"
    )
    notes.append(
        "disaggregated latencies are steady-state figures, not simulated: TPOT p99 adds the decode "
        "batch's wander at a stated rate; TTFT there is the prompt's own prefill, the rest of "
        "the iteration in progress and the prefill pool's queueing wait (Kingman's heavy-traffic "
        "tail)"
    )
    return {
        "id": spec.id,
        "output_tokens_per_s_per_gpu": out,
        "total_tokens_per_s_per_gpu": out * (isl + osl) / osl,
        "ttft_ms": {k: t * 1e3 for k, t in ttft.items()},
        "tpot_ms": {k: t * 1e3 for k, t in tpot.items()},
        "max_batch": int(batch),
        "kv_cache_gib": float(pr["pool"][b]) / GiB,
        "fits": True,
        "meets_slo": _meets(spec, ttft["p99"], tpot["p99"]),
        "breakdown": {
            "prefill_s": float(pr["t_pre"][a]) * math.ceil(isl / eng.eng.max_num_tokens),
            "decode_s": t_step * max(osl - 1.0, 0.0),
            "exposed_comm_s": float(pr["comm_dec"][b]) * max(osl - 1.0, 0.0),
            "kv_transfer_s": float(pr["t_kv"][a]),
        },
        "prefill_tokens_per_s_per_gpu": float(pr["r_pre"][a]) * isl / float(lay.gpus[a]),
        "decode_output_tokens_per_s_per_gpu": float(pr["r_dec"][b]) * osl / float(lay.gpus[b]),
        "layout": {
            **_pool_dict(lay, b), "dp": int(p + d), "prefill_instances": int(p),
            "decode_instances": int(d),
            **({} if same else {"prefill": _pool_dict(lay, a), "decode": _pool_dict(lay, b)}),
        },
        "assumptions": notes,
    }  # fmt: skip


def _open(
    spec: Any,
    eng: Engine,
    dec: Layouts,
    pr: dict[str, Any],
    split: tuple[int, int, float, float],
    system: float,
    notes: list[str],
) -> tuple[dict[str, float], dict[str, float], float]:
    """(TTFT, TPOT, decode batch) with the pools full, or at a stated Poisson rate."""
    a, b, p, d = split
    pd = (
        pool_rates(eng, dec, spec.input_len, spec.output_len, system / d)
        if spec.request_rate
        else None
    )
    t_dec = float((pd or pr)["t_dec"][0 if pd else b])
    t_dec99 = float((pd or pr)["t_dec99"][0 if pd else b])
    batch = float((pd or pr)["batch"][0 if pd else b])
    ttft = {"p50": float(pr["ttft"][a]), "p99": float(pr["ttft"][a])}
    tpot = {"p50": t_dec, "p99": t_dec99}
    if spec.request_rate and math.isfinite(spec.request_rate):  # Poisson arrivals, prefill pool
        ttft = _ttft_at(pr, a, spec.request_rate / p)
        if spec.request_rate > system * (1.0 + 1e-9):  # as the aggregated simulation reports it
            ttft = tpot = {"p50": math.inf, "p99": math.inf}
            notes.append("the request rate exceeds what this deployment serves: queues grow")
    return ttft, tpot, batch


def _closed(
    spec: Any,
    eng: Engine,
    dec: Layouts,
    pr: dict[str, Any],
    split: tuple[int, int, float, float],
    capacity: float,
    notes: list[str],
) -> tuple[float, dict[str, float], dict[str, float], float]:
    """(system requests/s, TTFT, TPOT, decode batch) of a closed loop of C clients (`_closed_rate`).
    Below capacity TTFT is the prefill pool's at its load and the p50 TPOT the rest of a request's
    stay by Little's law, (C / X - TTFT) / (OSL - 1): where tile padding makes the decode step a
    staircase the batch sits on a step, between the iteration times on either side of it."""
    a, _, p, d = split
    x = _closed_rate(spec, eng, dec, pr, (a, p, d), capacity, notes)
    pd = pool_rates(eng, dec, spec.input_len, spec.output_len, x / d)
    t_dec, t_dec99 = float(pd["t_dec"][0]), float(pd["t_dec99"][0])
    ttft = _closed_ttft(spec, pr, (a, p), x, capacity, t_dec)
    if x < capacity * (1.0 - 1e-6) and spec.output_len > 1:
        t = (spec.concurrency / x - ttft["p50"]) / (spec.output_len - 1.0)
        t_dec, t_dec99 = t, t + (t_dec99 - t_dec)
    batch = x / d * max(spec.output_len - 1.0, 1.0) * t_dec
    return x, ttft, {"p50": t_dec, "p99": t_dec99}, batch


def _in_service_s(
    pr: dict[str, Any], a: int, p: float, t_dec: float, rate: float, osl: float
) -> float:
    """A request's mean time in the system at `rate` requests/s: its prefill (p50 TTFT at the prefill
    pool's load, KV transfer included) and its OSL - 1 decode iterations of `t_dec`."""
    return float(prefill_ttft(pr, a, rate / p, 0.5)) + max(osl - 1.0, 0.0) * t_dec


def _closed_rate(
    spec: Any,
    eng: Engine,
    dec: Layouts,
    pr: dict[str, Any],
    split: tuple[int, float, float],
    capacity: float,
    notes: list[str],
) -> float:
    """System requests/s of a closed loop of C clients: the X with X * (TTFT(X) + (OSL - 1) *
    TPOT(X)) = C (Little's law over a request's whole stay), found by bisection on (0, capacity];
    at capacity when C exceeds what the pools hold (the rest wait for the prefill pool)."""
    a, p, d = split
    c, osl = float(spec.concurrency), spec.output_len

    def held(x: float) -> float:  # requests in the system at rate x
        t_dec = float(pool_rates(eng, dec, spec.input_len, osl, x / d)["t_dec"][0])
        return x * _in_service_s(pr, a, p, t_dec, x, osl)

    lo, hi = 0.0, capacity
    if held(capacity * (1.0 - 1e-6)) > c:
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if held(mid) < c else (lo, mid)
    notes.append(
        f"workload.concurrency {spec.concurrency}: closed loop over both pools, {hi:,.2f} requests/s "
        f"(Little's law over prefill and decode; capacity {capacity:,.2f})"
    )
    return hi


def _ttft_at(pr: dict[str, Any], a: int, rate: float) -> dict[str, float]:
    """p50 and p99 TTFT of prefill layout `a` with `rate` prompts/s per instance (`prefill_ttft`)."""
    return {k: float(prefill_ttft(pr, a, rate, q)) for k, q in (("p50", 0.5), ("p99", 0.99))}


def _closed_ttft(
    spec: Any,
    pr: dict[str, Any],
    pre: tuple[int, float],
    rate: float,
    capacity: float,
    t_dec: float,
) -> dict[str, float]:
    """TTFT of a closed loop: below capacity the prefill pool's p50/p99 at its load
    (`prefill_ttft`); at capacity the clients the pools cannot hold wait in a queue of fixed length,
    each the same time, so TTFT = C / X - (OSL - 1) * TPOT (Little's law), p50 and p99 alike. No
    request queues behind more than the C - 1 others, so neither exceeds C prompts at the prefill
    pool's full rate and the request's own prefill."""
    a, p = pre
    if rate < capacity * (1.0 - 1e-6):
        most = spec.concurrency / (p * float(pr["r_pre"][a])) + float(pr["ttft"][a])
        return {k: min(t, most) for k, t in _ttft_at(pr, a, rate / p).items()}
    t = max(spec.concurrency / rate - max(spec.output_len - 1.0, 0.0) * t_dec, float(pr["ttft"][a]))
    return {"p50": t, "p99": t}


def _meets(spec: Any, ttft_s: float, tpot_s: float) -> bool | None:
    if not spec.has_slo:
        return None
    return (spec.ttft_ms is None or ttft_s * 1e3 <= spec.ttft_ms) and (
        spec.tpot_ms is None or tpot_s * 1e3 <= spec.tpot_ms
    )
