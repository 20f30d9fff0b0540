"""`serve plan`: which chip, how many, laid out how, serve a model at a rate within p99 TTFT/TPOT limits.

Search (vectorised, like `search`): for each candidate chip, every instance layout (tp dividing the heads
inside one scale-up domain, pp in 1/2/4/8, ep in {1, tp} and attention data parallelism for MoE) times a
ladder of target utilisations (instances = ceil(rate / (capacity per instance * u))), aggregated, plus
disaggregated prefill:decode pools sized the same way. Every candidate is scored with the analytic server
model (`Engine.server`; `pool_rates` for disaggregated), kept when its predicted p99s meet the limits and
ranked by cost per million output tokens. The cheapest plan per chip is then re-checked with the
request-level simulation (`serve.server`), whose p99s are the ones reported; a disaggregated plan as one
prefill instance (one output token, plus the KV transfer) and one decode instance (`prefilled`).

Cost per million output tokens = hourly cost / (output tokens per hour / 1e6), with hourly cost =
count * (price * (1 + node overhead) / (depreciation years * 8760 h)
         + tdp * (1 + host power share) * PUE * electricity price).
The economic constants are the ones `wanka plan` states (catalogs.economics): node overhead 40% of the
accelerator price, host power 82% on top of the chips, PUE 1.3, $0.078/kWh, 4-year straight-line
depreciation. A chip without a catalog price is priced at the median price per HBM bandwidth of the priced
chips (stated in the output).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from wanka.catalogs import accelerators, get_accelerator
from wanka.catalogs.economics import Economics
from wanka.hardware import Accelerator
from wanka.serve.disagg import kv_transfer_s, pool_rates, prefill_ttft
from wanka.serve.engine import Engine
from wanka.serve.model import Layouts, default_kv_precision, model_shape, wide_ep_degrees
from wanka.serve.params import (
    EngineDefaults,
    engine_defaults,
    framework_name,
    paged_framework,
)
from wanka.serve.server import StepTable, simulate_server
from wanka.serve.spec import with_speculation
from wanka.userfile import check_count, check_number
from wanka.workload.model import ModelSpec

__all__ = ["CostAssumptions", "PlanResult", "no_plan_reason", "plan_serving"]

MAX_RATE = 1e6  # requests/s: far above any single deployment
MAX_TOKENS = 1e7  # tokens per request: beyond every published context window
UTILISATIONS = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.12, 0.06])


CostAssumptions = Economics
"""Stated economics: the one home is `wanka.catalogs.economics` (the values `wanka plan` uses)."""
_DEFAULT_COST = CostAssumptions()


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanResult:
    plans: list[dict[str, Any]]
    candidates: int
    feasible: int
    notes: list[str]
    best_reachable: dict[str, Any] | None
    """When no plan meets the limits: which limit binds and the best p99s any candidate reaches."""
    screened: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    """Every candidate screened, per chip: `usd_per_mtok`, analytic `ttft_p99_s` and `tpot_p99_s`,
    `meets` (both limits) and `disaggregated` (arrays of one length; `serve plan --plot` draws them)."""


def _price(acc: Accelerator, notes: list[str]) -> tuple[float, float]:
    """(price USD, TDP W), estimating a missing price from the priced chips' $ per HBM bandwidth."""
    tdp = float(acc.tdp_w or 700.0)
    if acc.tdp_w is None:
        notes.append(f"{acc.id}: no TDP in the catalog; 700 W assumed")
    if acc.price_usd:
        return float(acc.price_usd), tdp
    per_bw = [a.price_usd / a.hbm_bw_bytes_per_s for a in accelerators().values()
              if a.price_usd and a.hbm_bw_bytes_per_s]  # fmt: skip
    price = float(np.median(per_bw)) * acc.hbm_bw_bytes_per_s
    notes.append(
        f"{acc.id}: no price in the catalog; ${price:,.0f} estimated from the median $ per HBM "
        f"bandwidth of the priced chips"
    )
    return price, tdp


def _layouts(model: ModelSpec, acc: Accelerator, max_count: int) -> Layouts:
    domain = max(int(acc.scaleup_domain), 1)
    rows = []
    for tp in (1, 2, 4, 8, 16, 32, 64):
        if tp > domain or model.heads % tp:
            continue
        for pp in (1, 2, 4, 8):
            if tp * pp > max_count or pp > model.layers:
                continue
            eps = [1]
            if model.moe is not None and tp > 1 and model.moe.experts % tp == 0:
                eps = [1, tp]
            for ep in eps:
                for adp in [False, True] if ep > 1 else [False]:
                    rows.append((tp, pp, ep, adp))
    if model.moe is not None:  # wide expert parallelism over whole scale-up domains
        rows += [(w, 1, w, True) for w in wide_ep_degrees(model.moe.experts, domain, max_count)]
    a = np.array(rows, dtype=np.float64)
    return Layouts.of(a[:, 0], a[:, 1], a[:, 2], a[:, 3] > 0)


def _expand(lay: Layouts, idx: np.ndarray) -> Layouts:
    return lay.take(idx)


def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(layout index, utilisation index) of every layout x utilisation pair, flat."""
    li, ui = np.meshgrid(np.arange(n), np.arange(len(UTILISATIONS)), indexing="ij")
    return li.ravel(), ui.ravel()


def _chip(model: ModelSpec, acc: Accelerator, precision: str, kv: str, q: dict[str, Any], notes):
    """Aggregated and disaggregated candidates on one chip, scored (dict of arrays)."""
    k, a = q["draft"]
    settings = replace(engine_defaults(q["framework"], acc), draft_tokens=k, draft_acceptance=a)
    eng = Engine(model_shape(model), acc, precision, kv, engine=settings)
    rate, isl, osl, max_count = q["rate"], q["isl"], q["osl"], q["max_count"]
    lay = _layouts(model, acc, max_count)
    cap = eng.offline(lay, isl, osl)
    mu = cap.output_tokens_per_s_per_gpu * lay.gpus / osl  # requests/s per instance at full batch
    li, ui = _pairs(len(lay))
    n = np.ceil(rate / np.maximum(mu[li] * UTILISATIONS[ui], 1e-12))
    keep = cap.fits[li] & (n * lay.gpus[li] <= max_count)
    pairs = np.unique(np.stack([li[keep], n[keep]]), axis=1)  # distinct (layout, instances)
    li, n = pairs[0].astype(np.int64), pairs[1]
    sub = _expand(lay, li)
    sv = eng.server(sub, rate / n, isl, osl, solver=q["solver"])
    out = {
        "lay": sub, "count": n * sub.gpus, "instances": n, "ttft": sv.ttft_p99_s,
        "tpot": sv.tpot_p99_s, "ttft50": sv.ttft_p50_s, "tpot50": sv.tpot_s,
        "prefill": np.zeros_like(n), "disagg": np.zeros(n.shape, dtype=bool),
        # the most requests/s any layout carries at full batch within max_count accelerators
        "max_rate": float(np.max(np.where(cap.fits, mu * np.floor(max_count / lay.gpus), 0.0),
                                 initial=0.0)),
    }  # fmt: skip
    dis = _disagg(eng, lay, cap.fits, q)
    if dis is not None:
        out = {k: np.concatenate([out[k], dis[k]]) if k not in ("lay", "max_rate") else out[k]
               for k in out}  # fmt: skip
        out["lay"] = Layouts.of(
            np.concatenate([sub.tp, dis["lay"].tp]), np.concatenate([sub.pp, dis["lay"].pp]),
            np.concatenate([sub.ep, dis["lay"].ep]),
            np.concatenate([sub.attention_dp, dis["lay"].attention_dp]),
        )  # fmt: skip
    return eng, out


def _disagg(
    eng: Engine, lay: Layouts, fits: np.ndarray, q: dict[str, Any]
) -> dict[str, Any] | None:
    """Disaggregated candidates: prefill and decode pools each sized for the rate at a utilisation."""
    idx = np.nonzero(fits)[0]
    if idx.size == 0:
        return None
    sub = _expand(lay, idx)
    pr = pool_rates(eng, sub, q["isl"], q["osl"], solver=q["solver"])
    li, ui = _pairs(len(sub))
    u = UTILISATIONS[ui]
    p = np.ceil(q["rate"] / np.maximum(pr["r_pre"][li] * u, 1e-12))
    d = np.ceil(q["rate"] / np.maximum(pr["r_dec"][li] * u, 1e-12))
    count = (p + d) * sub.gpus[li]
    keep = pr["fits"][li] & (count <= q["max_count"])
    if not keep.any():
        return None
    li, p, d = li[keep], p[keep], d[keep]
    lay2 = _expand(sub, li)
    # TTFT at the prefill pool's load (`disagg.prefill_ttft`)
    ttft50, ttft99 = (prefill_ttft(pr, li, q["rate"] / p, qq) for qq in (0.5, 0.99))
    dec = pool_rates(eng, lay2, q["isl"], q["osl"], q["rate"] / d, solver=q["solver"])
    return {
        "lay": lay2, "count": (p + d) * lay2.gpus, "instances": p + d,
        "ttft": ttft99, "tpot": dec["t_dec99"], "ttft50": ttft50,
        "tpot50": dec["t_dec"], "prefill": p, "disagg": np.ones(p.shape, dtype=bool),
    }  # fmt: skip


def _verify(
    eng: Engine, lay: Layouts, inst: float, q: dict[str, Any]
) -> tuple[float, float, float, float]:
    """(ttft p50, ttft p99, tpot p50, tpot p99) of one aggregated instance, simulated."""
    table = StepTable(eng, lay, eng.eng.max_num_tokens)
    r = simulate_server(eng, lay, rate=q["rate"] / inst, isl=q["isl"], osl=q["osl"],
                        requests=q["requests"], table=table)  # fmt: skip
    if r.saturated:
        return math.inf, math.inf, math.inf, math.inf
    return r.pct("ttft", 50), r.pct("ttft", 99), r.pct("tpot", 50), r.pct("tpot", 99)


def _verify_disagg(
    eng: Engine, lay: Layouts, pre: float, dec: float, q: dict[str, Any]
) -> tuple[float, float, float, float]:
    """(ttft p50, ttft p99, tpot p50, tpot p99) of a disaggregated plan, simulated: one prefill
    instance (the engine with one output token) at rate / pre, plus the KV transfer, and one decode
    instance (`simulate_server(prefilled=True)`) at rate / dec."""
    table = StepTable(eng, lay, eng.eng.max_num_tokens)
    t_kv = float(np.asarray(kv_transfer_s(eng, lay, q["isl"]))[0])
    run = {"isl": q["isl"], "requests": q["requests"], "table": table}
    a = simulate_server(eng, lay, rate=q["rate"] / pre, osl=1.0, **run)
    b = simulate_server(eng, lay, rate=q["rate"] / dec, osl=q["osl"], prefilled=True, **run)
    if a.saturated or b.saturated:
        return math.inf, math.inf, math.inf, math.inf
    return (a.pct("ttft", 50) + t_kv, a.pct("ttft", 99) + t_kv, b.pct("tpot", 50),
            b.pct("tpot", 99))  # fmt: skip


def plan_serving(
    model: ModelSpec,
    accelerator_ids: list[str],
    *,
    rate: float,
    input_len: float,
    output_len: float,
    ttft_ms: float | None,
    tpot_ms: float | None,
    max_count: int = 1024,
    precision: str = "auto",
    per_chip: int = 3,
    requests: int = 1000,
    verify: bool = True,
    cost: CostAssumptions = _DEFAULT_COST,
    solver: str = "root",
    framework: str = "TensorRT-LLM",
    speculative: dict[str, Any] | None = None,
) -> PlanResult:
    """Rank deployments of `model` over the chips by cost per million output tokens (see the docstring).

    `verify`: re-check the cheapest aggregated plan per chip with the request-level simulation
    (False: analytic p99s only, the screening alone). `solver`: how the analytic server model
    solves Little's law (`Engine.server`; "iterate" is the reference the benchmark compares with).
    `framework`: the engine whose defaults each chip runs with (`params.FRAMEWORKS`).
    `speculative`: speculative decoding on every chip (`{method, tokens, acceptance}`, as a serving
    spec's `serving.speculative`).
    """
    framework = framework_name(framework, "--framework")
    check_number(
        "--rate", rate, maximum=MAX_RATE, unit="requests/s", why_max="a million per second"
    )
    for name, v in (("--input-len", input_len), ("--output-len", output_len)):
        check_number(
            name, v, maximum=MAX_TOKENS, unit="tokens", why_max="10 million-token contexts"
        )
    check_count("--max-count", max_count)
    chips = [get_accelerator(a) for a in accelerator_ids]
    q = {"rate": float(rate), "isl": float(input_len), "osl": float(output_len),
         "max_count": int(max_count), "requests": requests, "verify": verify,
         "solver": solver, "framework": framework, "draft": (0, 0.0)}  # fmt: skip
    lim_ttft = (ttft_ms or math.inf) / 1e3
    lim_tpot = (tpot_ms or math.inf) / 1e3
    notes: list[str] = []
    if speculative is not None:  # checked once, before any chip, and stated
        drafts = with_speculation(speculative, model, EngineDefaults(), notes, "--speculative")
        q["draft"] = (drafts.draft_tokens, drafts.draft_acceptance)
    used: list[tuple[str, EngineDefaults]] = []  # (chip, engine settings it was planned with)
    plans: list[dict[str, Any]] = []
    screened: dict[str, dict[str, np.ndarray]] = {}
    total = feasible = 0
    best = {"ttft_ms_p99": math.inf, "tpot_ms_p99": math.inf, "max_rate_per_s": 0.0}
    for acc in chips:
        prec = _precision(acc, precision)
        kv = default_kv_precision(prec, acc, model.moe is not None)
        price, tdp = _price(acc, notes)
        eng, c = _chip(model, acc, prec, kv, q, notes)
        used.append((acc.id, eng.eng))
        total += int(c["count"].size)
        best["ttft_ms_p99"] = min(
            best["ttft_ms_p99"], float(np.min(c["ttft"], initial=np.inf)) * 1e3
        )
        best["tpot_ms_p99"] = min(
            best["tpot_ms_p99"], float(np.min(c["tpot"], initial=np.inf)) * 1e3
        )
        best["max_rate_per_s"] = max(best["max_rate_per_s"], c["max_rate"])
        ok = (c["ttft"] <= lim_ttft) & (c["tpot"] <= lim_tpot)
        feasible += int(ok.sum())
        usd_per_mtok = c["count"] * cost.hourly_usd(price, tdp) / (rate * output_len * 3600.0 / 1e6)
        order = [i for i in np.argsort(usd_per_mtok) if ok[i]]
        screened[acc.id] = {"usd_per_mtok": usd_per_mtok, "ttft_p99_s": c["ttft"],
                            "tpot_p99_s": c["tpot"], "meets": ok, "disaggregated": c["disagg"]}  # fmt: skip
        plans += _chip_plans(
            eng, acc, prec, c, order, usd_per_mtok, q, per_chip, lim_ttft, lim_tpot
        )
    notes.append(_engine_note(framework, used))
    plans.sort(key=lambda p: p["cost_per_million_tokens_usd"])
    reach = None
    if not plans:
        binds = []
        if best["ttft_ms_p99"] > (ttft_ms or math.inf):
            binds.append("ttft")
        if best["tpot_ms_p99"] > (tpot_ms or math.inf):
            binds.append("tpot")
        reach = {"binding": binds or ["capacity"], **best}
    return PlanResult(plans=plans, candidates=total, feasible=feasible, notes=notes,
                      best_reachable=reach, screened=screened)  # fmt: skip


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def no_plan_reason(
    b: dict[str, Any],
    rate: float,
    within: str,
    *,
    rate_name: str = "--rate",
    advice: str = "; raise --max-count or lower --rate",
) -> str:
    """Why no plan was found (`PlanResult.best_reachable`): the binding limit and what is reachable
    `within` the accelerators allowed ("--max-count 1024" for `serve plan`). `rate_name` names the
    rate in the caller's terms; `advice` follows a capacity limit."""
    binds = b.get("binding", [])
    top = b.get("max_rate_per_s", 0.0)
    if binds == ["capacity"] and top <= 0.0:
        return (
            f"the model fits on none of these chips within {within}: no layout holds its weights "
            f"and the KV cache of one request{'; raise --max-count or use chips with more memory' if advice else ''}"
        )
    if binds == ["capacity"] and top < rate:
        return (
            f"capacity binds; within {within} these chips serve at most {_num(top)} requests/s at "
            f"full batch, below {rate_name} {_num(rate)}{advice}"
        )
    if binds == ["capacity"]:  # each limit is met by some plan, never both by one
        binds = ["ttft", "tpot"]
    return (
        f"{' and '.join(binds)} bind{'' if len(binds) > 1 else 's'}; the best p99s reachable are "
        f"TTFT {b.get('ttft_ms_p99', float('inf')):,.0f} ms and TPOT "
        f"{b.get('tpot_ms_p99', float('inf')):,.1f} ms (within {within})"
    )


def _engine_note(framework: str, used: list[tuple[str, EngineDefaults]]) -> str:
    """The engine limits each chip was planned with (`params.engine_defaults`)."""
    groups: dict[tuple[int, int], list[str]] = {}
    for chip, e in used:
        groups.setdefault((e.max_batch, e.max_num_tokens), []).append(chip)
    limits = "; ".join(
        f"{b} sequences and {t} tokens per iteration"
        + (f" on {', '.join(ids)}" if len(groups) > 1 else "")
        for (b, t), ids in groups.items()
    )
    kv = "in blocks on demand" if paged_framework(framework) else "reserved at admission"
    return f"engine: {framework} defaults, {limits}; KV {kv}"


def _precision(acc: Accelerator, precision: str) -> str:
    if precision != "auto":
        from wanka.serve.model import precision_name, weight_format

        name = precision_name(precision)
        weight_format(name, acc)
        return name
    # the chip's 8-bit tensor format: fp8, else int8 W8A8 (SmoothQuant on A100s, MindIE's W8A8 on
    # Ascend: the quantisation those stacks serve with), else 16-bit
    if acc.peak_flops.get("fp8"):
        return "fp8"
    return "int8" if acc.peak_flops.get("int8") else "bf16"


def _chip_plans(
    eng, acc, prec, c, order, usd, q, per_chip, lim_ttft, lim_tpot
) -> list[dict[str, Any]]:
    """The cheapest passing candidates of one chip; aggregated ones re-checked by simulation."""
    out: list[dict[str, Any]] = []
    tries = 0
    for i in order:
        if len(out) >= per_chip or tries >= 3 * per_chip:
            break
        lay = Layouts.of(c["lay"].tp[i], c["lay"].pp[i], c["lay"].ep[i], c["lay"].attention_dp[i])
        ttft50, ttft99, tpot50, tpot99 = (
            c["ttft50"][i],
            c["ttft"][i],
            c["tpot50"][i],
            c["tpot"][i],
        )
        how = "analytic"
        if q["verify"] and len(out) == 0:  # the cheapest plan per chip, by simulation
            tries += 1
            inst, pre = float(c["instances"][i]), float(c["prefill"][i])
            ttft50, ttft99, tpot50, tpot99 = (
                _verify_disagg(eng, lay, pre, inst - pre, q) if c["disagg"][i]
                else _verify(eng, lay, inst, q)
            )  # fmt: skip
            how = "simulated"
            if not (ttft99 <= lim_ttft and tpot99 <= lim_tpot):
                continue
        inst = int(c["instances"][i])
        pre = int(c["prefill"][i])
        out.append({
            "accelerator": acc.id,
            "count": int(c["count"][i]),
            "precision": prec,
            "layout": {
                "tp": int(lay.tp[0]), "pp": int(lay.pp[0]), "ep": int(lay.ep[0]),
                "dp": inst, "attention_dp": bool(lay.attention_dp[0]),
                "disaggregated": bool(c["disagg"][i]),
                "prefill_decode": f"{pre}:{inst - pre}" if c["disagg"][i] else None,
            },
            "output_tokens_per_s": q["rate"] * q["osl"],
            "ttft_ms_p50": float(ttft50) * 1e3, "ttft_ms_p99": float(ttft99) * 1e3,
            "tpot_ms_p50": float(tpot50) * 1e3, "tpot_ms_p99": float(tpot99) * 1e3,
            "latency_from": how,
            "meets_slo": True,
            "cost_per_million_tokens_usd": float(usd[i]),
        })  # fmt: skip
        if any(
            o["count"] == out[-1]["count"] and o["layout"] == out[-1]["layout"] for o in out[:-1]
        ):
            out.pop()  # the same deployment again (two utilisation targets gave one split)
    return out
