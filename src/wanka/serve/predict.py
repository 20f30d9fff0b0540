"""`serve predict`: one serving spec in, the DESIGN.md output contract out.

Layout: the degrees the spec states are used as given (tp * pp * dp must equal the count). Degrees it
leaves null are chosen: every tp that divides the count and the heads and fits one scale-up domain, pp
only as much as needed to fit, ep in {1, tp} for MoE models (attention data parallel with ep > 1 unless stated);
the layout with the highest output throughput per accelerator that meets the spec's latency limits
wins (the way a benchmark submitter tunes a deployment), and the choice is stated in `assumptions`.

Scenarios: offline and fixed-batch are steady states (`serve.engine`); server and interactive run the
request-level simulation (`serve.server`) at the stated request rate, or, without a rate, at the highest
rate whose simulated p99 TTFT/TPOT meet the limits (MLPerf's server result). Disaggregated deployments
use the pool model of `serve.disagg`.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from wanka.errors import ConfigError, WankaError
from wanka.serve.disagg import disaggregated
from wanka.serve.engine import Engine, Steady
from wanka.serve.lengths import request_lengths
from wanka.serve.model import Layouts, activation_workspace_bytes, model_shape, wide_ep_degrees
from wanka.serve.params import ServeCalibration
from wanka.serve.server import ServerResult, StepTable, simulate_closed_loop, simulate_server
from wanka.serve.spec import ServeError, ServeSpec

__all__ = ["candidate_layouts", "predict_serve", "predict_specs"]

GiB = float(2**30)
# requests each simulation of the rate search counts at least; its window also lasts at least
# `server.MEASURE_S` seconds, which sets the length above 0.5 requests/s per instance
SEARCH_REQUESTS = 300
RATE_STEPS = 5  # bisection steps inside the analytic bracket (a factor 5 shrinks 2**5 = 32x)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _degrees(spec: ServeSpec, any_count: bool) -> tuple[list[int], list[int]]:
    """Candidate tp and pp degrees: stated ones, else tp dividing the heads inside one scale-up domain
    (plus, for MoE models, wide expert-parallel widths beyond it, `wide_ep_degrees`) and pp up to the
    layers, dividing the count unless `any_count` (one pool's instance, pp in 1/2/4/8)."""
    m, count = spec.model, spec.count
    domain = max(spec.accelerator.scaleup_domain, 1)
    sizes = range(1, count + 1) if any_count else _divisors(count)
    tps = [spec.tp] if spec.tp else [t for t in sizes if t <= domain and m.heads % t == 0]
    if not spec.tp and m.moe is not None and spec.attention_dp is not False:
        # a stated wide EP group: beyond the domain, or no tensor-parallel width (attention DP)
        wide = [spec.ep] if spec.ep and (spec.ep > domain or m.heads % spec.ep) else []
        wide = wide or wide_ep_degrees(m.moe.experts, domain, count)
        tps += [t for t in wide if t in sizes and t <= m.moe.experts]
    stages = (1, 2, 4, 8) if any_count else sizes  # a pool's instance: at most 8 stages
    pps = [spec.pp] if spec.pp else [p for p in stages if p <= min(m.layers, count)]
    return tps, pps


def _ep_rows(spec: ServeSpec, tp: int, pp: int, inst: int) -> list[tuple[int, int, int, bool, int]]:
    m = spec.model
    if not spec.tp and (tp > max(spec.accelerator.scaleup_domain, 1) or m.heads % tp):  # wide EP
        ok = pp == 1 and spec.ep in (None, tp)
        return [(tp, 1, tp, True, inst)] if ok else []
    eps = [spec.ep] if spec.ep else ([1, tp] if m.moe is not None and tp > 1 else [1])
    rows = []
    for ep in eps:
        # the experts are split over ep of the instance's tp GPUs
        if m.moe is not None and (m.moe.experts % ep or tp % ep):
            continue
        # expert parallelism serves with attention DP unless the spec says otherwise
        # (TensorRT-LLM's MoE performance configurations, SGLang's DeepSeek recipe)
        adps = [spec.attention_dp] if spec.attention_dp is not None else [ep > 1]
        rows += [(tp, pp, ep, bool(a), inst) for a in adps]
    return rows


def candidate_layouts(
    spec: ServeSpec, notes: list[str] | None = None, *, per_pool: bool = False
) -> tuple[Layouts, np.ndarray]:
    """(instance layouts, instances) the spec allows; raises ConfigError when none matches the count.

    `per_pool`: every instance layout up to the count, whatever divides it (a disaggregated
    deployment's pools each pick one; instances are then 1 per row).
    """
    count = spec.count
    tps, pps = _degrees(spec, per_pool)
    rows: list[tuple[int, int, int, bool, int]] = []
    for tp in tps:
        for pp in pps:
            inst, rem = divmod(count, tp * pp)
            if per_pool:
                rows += _ep_rows(spec, tp, pp, 1) if tp * pp <= count else []
                continue
            if rem or inst == 0 or (spec.dp and spec.dp != inst):
                continue
            rows += _ep_rows(spec, tp, pp, inst)
    if not rows:
        raise ConfigError(
            f"no layout of {count} x {spec.accelerator.id} matches serving tp={spec.tp} "
            f"pp={spec.pp} dp={spec.dp} ep={spec.ep}: tp * pp * dp must equal hardware.count "
            f"({count}), tp must divide the heads ({spec.model.heads}), ep the experts and tp"
            + _ep_hint(spec)
        )
    a = np.array(rows, dtype=np.float64)
    return Layouts.of(a[:, 0], a[:, 1], a[:, 2], a[:, 3] > 0), a[:, 4]


def _ep_hint(spec: ServeSpec) -> str:
    """How to write expert parallelism wider than attention's tp (vLLM's dp x tp with EP)."""
    if not (spec.ep and spec.tp and spec.ep > spec.tp):
        return ""
    return (
        f" (an instance is its tp GPUs; for experts over {spec.ep} GPUs with data-parallel "
        f"attention write tp: {spec.ep}, ep: {spec.ep}, attention_dp: true)"
    )


def _free(spec: ServeSpec) -> Layouts | None:
    """Every instance layout of the count, ignoring stated degrees (None when none is stated)."""
    if not (spec.tp or spec.pp or spec.ep):
        return None
    return candidate_layouts(replace(spec, tp=None, pp=None, ep=None), per_pool=True)[0]


def _pick(lay: Layouts, i: int) -> Layouts:
    return Layouts.of(lay.tp[i], lay.pp[i], lay.ep[i], lay.attention_dp[i])


def _layout_dict(lay: Layouts, inst: float) -> dict[str, Any]:
    return {
        "tp": int(lay.tp[0]), "pp": int(lay.pp[0]), "ep": int(lay.ep[0]), "dp": int(inst),
        "attention_dp": bool(lay.attention_dp[0]),
    }  # fmt: skip


def _meets(spec: ServeSpec, ttft99_s: float, tpot99_s: float) -> bool | None:
    if not spec.has_slo:
        return None
    ok = spec.ttft_ms is None or ttft99_s * 1e3 <= spec.ttft_ms
    return bool(ok and (spec.tpot_ms is None or tpot99_s * 1e3 <= spec.tpot_ms))


def _no_fit(spec: ServeSpec, eng: Engine, lay: Layouts) -> ConfigError:
    w = eng.weights_per_gpu(lay)
    i = int(np.argmin(w))
    act = float(activation_workspace_bytes(eng.s, lay.tpa[i], eng.eng)[()])
    if w[i] < spec.accelerator.hbm_bytes * eng.eng.gpu_memory_utilization <= w[i] + act:
        return ConfigError(  # the weights fit; the engine's batch limits leave no room for a KV pool
            f"{spec.model.name} on {spec.count} x {spec.accelerator.id} ({spec.precision}): weights "
            f"{w[i] / GiB:.1f} GiB per GPU fit, but the activation workspace of max_batch "
            f"{eng.eng.max_batch:,} / max_num_tokens {eng.eng.max_num_tokens:,} takes "
            f"{act / GiB:,.0f} GiB more and leaves no KV cache; lower serving.max_batch or "
            "serving.max_num_tokens"
        )
    kv_err = _kv_short(spec, eng, lay)
    if kv_err is not None:
        return kv_err
    return ConfigError(
        f"{spec.model.name} does not fit at any batch on {spec.count} x {spec.accelerator.id} "
        f"({spec.precision}): weights {w[i] / GiB:.1f} GiB per GPU at best (tp={int(lay.tp[i])}, "
        f"pp={int(lay.pp[i])}) vs {spec.accelerator.hbm_bytes / GiB:.0f} GiB HBM; "
        "add accelerators, raise tp/pp or use a lower precision"
    )


def _kv_short(spec: ServeSpec, eng: Engine, lay: Layouts) -> ConfigError | None:
    """The error when the KV cache, not the weights, is what cannot hold the requests: one sequence
    (its whole length reserved) or the stated fixed batch of them, on the roomiest layout."""
    kv_tokens = eng.capacity(lay)[0]
    j = int(np.argmax(kv_tokens))
    length = spec.input_len + spec.output_len
    per_seq = float(eng.reserve_tokens(spec.input_len, spec.output_len))
    seqs = spec.batch_size if spec.scenario == "fixed-batch" and spec.batch_size else 1
    held = float(kv_tokens[j])
    if held <= 0 or held >= per_seq * seqs:  # no KV pool at all: the weights are what does not fit
        return None
    where = (
        f"{spec.count} x {spec.accelerator.id} ({spec.precision}, tp={int(lay.tp[j])}, "
        f"pp={int(lay.pp[j])})"
    )
    if seqs > 1 and held >= per_seq:
        return ConfigError(
            f"a fixed batch of {seqs:,} sequences of {length:,.0f} tokens needs "
            f"{per_seq * seqs:,.0f} KV-cache tokens; {where} holds {held:,.0f} at best "
            f"({int(held // per_seq):,} sequences); lower workload.batch_size or add accelerators"
        )
    return ConfigError(
        f"one request of {length:,.0f} tokens needs {per_seq:,.0f} KV-cache tokens; {where} holds "
        f"{held:,.0f} at best; shorten the request or add accelerators (raise tp/pp)"
    )


def _steady(spec: ServeSpec, eng: Engine, lay: Layouts, inst: Any = 1.0) -> Steady:
    """The steady state `_choose` ranks layouts by: a closed loop caps each instance's batch at its
    share of the concurrency (the load balancer spreads the clients over the instances)."""
    if spec.scenario == "fixed-batch":
        return eng.fixed_batch(lay, spec.batch_size, spec.input_len, spec.output_len)
    cap = np.ceil(spec.concurrency / np.asarray(inst)) if spec.closed_loop else None
    return eng.offline(lay, spec.input_len, spec.output_len, batch_cap=cap)


def _closed(spec: ServeSpec, eng: Engine, lay: Layouts, inst: float, notes: list[str]):
    """The closed-loop simulation of one instance at its share of the clients."""
    assert spec.concurrency is not None  # `spec.closed_loop` holds
    c = max(math.ceil(spec.concurrency / inst), 1)
    notes.append(
        f"workload.concurrency {spec.concurrency}: closed loop, {c} requests in flight per instance "
        f"({int(inst)} instance(s)), each client sending its next request when one completes"
    )
    return simulate_closed_loop(
        eng, lay, concurrency=c, isl=spec.input_len, osl=spec.output_len, requests=spec.requests,
        seed=spec.seed, lengths=request_lengths(spec),
    )  # fmt: skip


def _long_prompt_ok(spec: ServeSpec, eng: Engine, lay: Layouts) -> np.ndarray:
    """Whether the 99th-percentile prompt (the dataset sample's, else the mean length) can meet the
    p99 TTFT limit: one that arrives while another as long is being prefilled waits for it, so twice
    its prefill time alone (token-budget chunks, `Engine.fixed_batch`) must fit in the limit."""
    if spec.ttft_ms is None:
        return np.ones(len(lay), dtype=bool)
    lengths = request_lengths(spec)
    isl99 = float(np.percentile(lengths[0], 99)) if lengths is not None else spec.input_len
    t_pre = eng.fixed_batch(lay, 1.0, isl99, 1.0).ttft_p50_s
    return np.asarray(2.0 * t_pre * 1e3 <= spec.ttft_ms)


def _choose(spec: ServeSpec, eng: Engine, lay: Layouts, inst: np.ndarray) -> int:
    """Index of the best layout for the spec's scenario (see the module docstring).

    Pipeline parallelism only when no pp = 1 layout fits (vLLM's distributed-serving guidance: tensor
    parallel inside a node, pipeline stages only when the model does not fit one node), on chips whose
    scale-up path is a GPU interconnect. Over PCIe every fitting layout competes: tensor parallelism's
    two all-reduces per layer are what PCIe carries worst, and NVIDIA's TensorRT-LLM performance
    overview runs its PCIe RTX PRO 6000 tables with pipeline stages ("RTX 6000 systems can benefit
    from enabling pipeline parallelism").
    """
    st = _steady(spec, eng, lay, inst)
    fits = st.fits
    if spec.pp is None and "pcie" not in (spec.accelerator.scaleup_name or "").lower():
        if np.any(fits & (lay.pp == 1)):
            fits = fits & (lay.pp == 1)
        elif np.any(fits):
            fits = fits & (lay.pp == lay.pp[fits].min())
    score = np.where(fits, st.output_tokens_per_s_per_gpu, -1.0)
    if spec.scenario in ("server", "interactive") and spec.has_slo and not spec.closed_loop:
        slo_tpot = (spec.tpot_ms or math.inf) / 1e3
        # at the stated rate (or near capacity) the decode iteration must meet the TPOT limit
        rate = spec.request_rate if spec.request_rate and math.isfinite(spec.request_rate) else None
        lam = (
            rate / inst
            if rate
            else 0.8 * st.output_tokens_per_s_per_gpu * lay.gpus / spec.output_len
        )
        sv = eng.server(lay, lam, spec.input_len, spec.output_len)
        # a layout whose capacity is below the rate (queues grow) ranks below one that carries it
        # too slowly, which ranks below one that meets the limit
        stable = np.isfinite(sv.ttft_p99_s)
        ok = stable & (sv.tpot_p99_s <= slo_tpot) & _long_prompt_ok(spec, eng, lay)
        score = np.where(ok, score, np.where(stable, score * 1e-3, score * 1e-6))
    if not np.any(st.fits):
        raise _no_fit(spec, eng, lay)
    return int(np.argmax(score))


def _server(spec: ServeSpec, eng: Engine, lay: Layouts, inst: float, notes: list[str]):
    """(per-instance rate, simulation result) at the stated rate or the highest passing one."""
    table = StepTable(eng, lay, eng.eng.max_num_tokens)
    isl, osl = spec.input_len, spec.output_len
    lengths = request_lengths(spec)

    def sim(rate: float, n: int) -> ServerResult:
        return simulate_server(
            eng, lay, rate=rate, isl=isl, osl=osl, requests=n, seed=spec.seed, table=table,
            lengths=lengths,
        )  # fmt: skip

    if spec.request_rate and math.isfinite(spec.request_rate):
        return spec.request_rate / inst, sim(spec.request_rate / inst, spec.requests)
    cap = eng.offline(lay, isl, osl)
    mu = float(cap.output_tokens_per_s_per_gpu[0] * lay.gpus[0] / osl)  # requests/s at full batch

    def passes(r: ServerResult) -> bool:
        ok = not r.saturated
        if spec.ttft_ms is not None:
            ok = ok and r.pct("ttft", 99) * 1e3 <= spec.ttft_ms
        if spec.tpot_ms is not None:
            ok = ok and r.pct("tpot", 99) * 1e3 <= spec.tpot_ms
        return ok

    # bracket with the analytic model's highest passing rate, then bisect with the simulation
    grid = mu * np.geomspace(0.02, 1.0, 48)
    an = eng.server(lay, grid, isl, osl)
    ok = np.isfinite(an.ttft_p99_s)
    if spec.ttft_ms is not None:
        ok &= an.ttft_p99_s * 1e3 <= spec.ttft_ms
    if spec.tpot_ms is not None:
        ok &= an.tpot_p99_s * 1e3 <= spec.tpot_ms
    r_a = float(grid[ok].max()) if ok.any() else 0.02 * mu
    lo, hi = 0.4 * r_a, min(1.3 * mu, 2.0 * r_a)
    for _ in range(RATE_STEPS):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if passes(sim(mid, SEARCH_REQUESTS)) else (lo, mid)
    res = sim(lo, spec.requests)
    for _ in range(4):  # the longer final run must pass too
        if passes(res):
            break
        lo *= 0.85
        res = sim(lo, spec.requests)
    what = (
        f"whose simulated p{spec.percentile[1:]} latencies meet the limits"
        if spec.has_slo
        else "the simulation sustains without its queue growing (no latency limits stated)"
    )
    notes.append(
        f"workload.request_rate null: the highest rate {what}, {lo * inst:.3g} requests/s "
        f"({RATE_STEPS}-step search)"
    )
    return lo, res


def _burst(spec: ServeSpec, notes: list[str]) -> bool:
    """An infinite rate (every request queued at once, as trtllm-bench and vLLM's benchmark_serving
    send them) is served as offline: the full steady batch; noted."""
    if spec.request_rate is None or math.isfinite(spec.request_rate):
        return False
    notes.append(
        "workload.request_rate infinite: every request queued at once, served as offline (the full "
        "steady batch; TTFT of a prompt joining it, not the wait in the queue)"
    )
    return True


def predict_serve(
    spec: ServeSpec, *, calibration: ServeCalibration | None = None
) -> dict[str, Any]:
    """The `serve predict --json` record of one spec (raises a WankaError when it cannot be evaluated).

    `calibration`: the serving calibration (default: the shipped fit).
    """
    notes = list(spec.assumptions)
    shape = model_shape(spec.model)
    eng = Engine(
        shape, spec.accelerator, spec.precision, spec.kv_precision, engine=spec.engine,
        scal=calibration,
    )  # fmt: skip
    if spec.disaggregated:
        return disaggregated(
            spec, eng, candidate_layouts(spec, per_pool=True)[0], notes, _free(spec)
        )
    lay_all, inst_all = candidate_layouts(spec)
    i = _choose(spec, eng, lay_all, inst_all)
    lay, inst = _pick(lay_all, i), float(inst_all[i])
    if len(lay_all) > 1:
        notes.append(f"layout chosen: {_layout_dict(lay, inst)} (of {len(lay_all)} candidates)")
    st = _steady(spec, eng, lay, inst)
    if not st.fits[0]:
        raise _no_fit(spec, eng, lay)
    gpus, osl, isl = float(lay.gpus[0]), spec.output_len, spec.input_len
    if spec.closed_loop:
        res = _closed(spec, eng, lay, inst, notes)
        out = res.output_tokens_per_s / gpus
        ttft = (res.pct("ttft", 50), res.pct("ttft", 99))
        tpot = (res.pct("tpot", 50), res.pct("tpot", 99))
    elif spec.scenario in ("server", "interactive") and not _burst(spec, notes):
        rate, res = _server(spec, eng, lay, inst, notes)
        out = rate * osl / gpus
        if res.saturated:  # the run stops once its queue grows; the deployment serves its capacity
            out = min(out, float(np.asarray(st.output_tokens_per_s_per_gpu)[0]))
        ttft = (res.pct("ttft", 50), res.pct("ttft", 99))
        tpot = (res.pct("tpot", 50), res.pct("tpot", 99))
        if res.saturated:
            notes.append("the request rate exceeds what this deployment serves: queues grow")
        if res.preemptions:
            notes.append(f"KV cache exhausted: {res.preemptions} preemptions (recompute)")
    else:
        out = float(st.output_tokens_per_s_per_gpu[0])
        ttft = (float(st.ttft_p50_s[0]),) * 2
        tpot = (float(st.tpot_s[0]),) * 2
    t = st.times
    share_comm = float(t.comm_s[0] / t.total_s[0])
    prefill_s, decode_s = float(st.ttft_p50_s[0]), float(st.tpot_s[0]) * max(osl - 1.0, 0.0)
    return {
        "id": spec.id,
        "output_tokens_per_s_per_gpu": out,
        "total_tokens_per_s_per_gpu": out * (isl + osl) / osl,
        "ttft_ms": {"p50": ttft[0] * 1e3, "p99": ttft[1] * 1e3},
        "tpot_ms": {"p50": tpot[0] * 1e3, "p99": tpot[1] * 1e3},
        "max_batch": int(st.batch[0]),
        "kv_cache_gib": float(st.kv_pool_bytes[0]) / GiB,
        "fits": True,
        "meets_slo": _meets(spec, ttft[1], tpot[1]),
        "breakdown": {
            "prefill_s": prefill_s,
            "decode_s": decode_s,
            "exposed_comm_s": share_comm * (prefill_s + decode_s),
            "kv_transfer_s": 0.0,
        },
        "layout": _layout_dict(lay, inst),
        "assumptions": notes,
    }


def predict_specs(
    specs: list[ServeSpec | ServeError], *, calibration: ServeCalibration | None = None
) -> list[dict[str, Any]]:
    """Predict every spec; one that cannot be evaluated gives `{"id", "error"}`, the rest still run."""
    out: list[dict[str, Any]] = []
    for s in specs:
        if isinstance(s, ServeError):
            out.append({"id": s.id, "error": s.error})
            continue
        try:
            out.append(predict_serve(s, calibration=calibration))
        except WankaError as e:
            out.append({"id": s.id, "error": str(e) or type(e).__name__})
    return out
