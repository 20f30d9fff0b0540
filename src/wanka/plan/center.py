"""The centre designer: which chips, how many, which network, what capex, power and time-to-train.

Input is a centre file (`load_center`, format in docs/plan.md and examples/center-10k.yaml): training goals
(model, tokens, deadline), optional serving demand, candidate accelerators (catalog ids with the count
available, unit price and optionally a measured software-efficiency profile), network options, power and
budget limits, and the economics below. For every candidate accelerator the designer

1. lists accelerator counts that have at least one valid layout (multiples of the node size of the form
   node x 2^j x {1, 5/4, 3/2}, up to what is available) and keeps a handful around the count that
   reaches the deadline (estimated from a probe search), plus the largest available;
2. searches the best parallel plan at each count. The plan search uses a REDUCED space for speed (vpp in
   {1,2,4,8}, micro-batch in {1,2,4}, etp in {1,2,4,8}; every other dimension as `wanka search`), timed
   with perf's default scale-out model, then re-timed on each network option's fabric;
3. sizes the scale-out and scale-up fabric with `wanka.topology.fabric.design_fabric`;
4. prices it: capex, power, energy, time-to-train with goodput (`plan.goodput`), cost per million tokens;
5. names the binding constraint (deadline, budget, power, availability, memory) and its margin.

Designs are ranked: those meeting every constraint first, then by cost per million training tokens, then
by time-to-train. Mixed fleets (two chip types, each job on one type) are formed when there are two or
more jobs (training goals and serving demands).

Economics defaults (each overridable in the centre file's `economics` block):
- node overhead 40% of the accelerator price: an 8xH100 server with 8x400G NICs costs ~$310k (network.md
  sec. 2.1, Aug-2024 sheet / Thinkmate quote) against 8 x $25k of GPUs, i.e. +55%; NICs and the NVSwitch
  baseboard (~15 points) are priced in the fabric design, so 40% remains for chassis, CPUs, DRAM, storage;
- host power 0.82 x accelerator TDP: ~575 W per H100 of CPU, NIC and PSU on top of its 700 W (network.md
  sec. 2.2, SemiAnalysis "100,000 H100 Clusters");
- PUE 1.3 (assumption: a modern AI hall; the 100k-H100 figure in network.md implies ~1.3-1.5);
- electricity $0.078/kWh (network.md sec. 2.2, SemiAnalysis: $123.9M/yr for 1.59 TWh);
- capex depreciated straight-line over 4 years (assumption; hyperscalers state 5-6 years for servers);
  a training run is charged for the share of that period it occupies.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from wanka.errors import ConfigError, WankaError
from wanka.hardware import Accelerator
from wanka.parallel import ParallelPlan
from wanka.plan.goodput import Reliability, goodput, time_to_train_s
from wanka.search.core import GiB, search
from wanka.search.space import count_candidates, space_dims
from wanka.spec import check_mapping
from wanka.workload.model import ModelSpec

__all__ = [
    "CONSTRAINTS",
    "Candidate",
    "CenterSpec",
    "Economics",
    "Goal",
    "Limits",
    "NetworkOption",
    "Serving",
    "design_center",
    "load_center",
    "parse_center",
]

CONSTRAINTS = ("deadline", "budget", "power", "availability", "memory")
SECONDS_PER_DAY = 86_400.0
#: Global batch when a goal states none: the power of two nearest to 4M tokens per step (GPT-3 used 3.2M,
#: Llama 3 405B 4M rising to 16M; Brown et al. 2020 Table 2.1, Dubey et al. 2024 sec. 3.4.1).
DEFAULT_TOKENS_PER_STEP = 4_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Economics:
    node_overhead_fraction: float = 0.40
    host_power_fraction: float = 0.82
    pue: float = 1.3
    electricity_usd_per_kwh: float = 0.078
    depreciation_years: float = 4.0
    facility_usd_per_mw: float = 0.0
    """Optional building/power capex per MW of facility power (0 = not counted)."""
    serving_efficiency: float = 0.15
    """Unused since serving demand is sized by `wanka.serve`; kept so existing centre files still read."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Goal:
    id: str
    model: ModelSpec
    tokens: float
    deadline_days: float
    global_batch_size: int
    precision: str = "bf16"


@dataclass(frozen=True, slots=True, kw_only=True)
class Serving:
    id: str
    model: ModelSpec
    tokens_per_s: float
    """Output tokens/s to serve (= rate * output_len)."""
    precision: str = "bf16"
    rate: float | None = None
    """Requests/s; null = tokens_per_s / output_len."""
    input_len: float = 2048.0
    """Prompt tokens per request (stated default when the centre file gives none)."""
    output_len: float = 256.0
    """Output tokens per request (stated default when the centre file gives none)."""
    ttft_ms: float | None = None
    """p99 time-to-first-token limit; null = none."""
    tpot_ms: float | None = None
    """p99 time-per-output-token limit; null = none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    accelerator: Accelerator
    available: int
    unit_price_usd: float
    tdp_w: float
    reliability: Reliability
    existing: int = 0
    """Accelerators of this kind already on the site (`site.existing`): no capital cost."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkOption:
    topology: str
    radix: int = 64
    oversubscription: float = 1.0
    tiers: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    power_mw: float | None = None
    budget_usd: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CenterSpec:
    name: str
    goals: tuple[Goal, ...]
    serving: tuple[Serving, ...]
    candidates: tuple[Candidate, ...]
    networks: tuple[NetworkOption, ...]
    limits: Limits
    economics: Economics
    counts_per_candidate: int = 5
    mixed_fleets: bool = True
    site: Any = None
    """An existing data centre (`plan.site.Site`): rack power, cooling, racks and existing hardware."""


# ------------------------------------------------------------------------------------------------
# Parsing

_TOP_KEYS = {
    "name",
    "goals",
    "serving",
    "candidates",
    "network",
    "limits",
    "economics",
    "reliability",
    "counts_per_candidate",
    "mixed_fleets",
    "site",
}
_GOAL_KEYS = {"id", "model", "tokens", "deadline_days", "global_batch_size", "seq_len", "precision"}
_SERVE_KEYS = {
    "id", "model", "tokens_per_s", "precision", "rate", "input_len", "output_len", "ttft_ms",
    "tpot_ms",
}  # fmt: skip
_CAND_KEYS = {"accelerator", "available", "unit_price_usd", "tdp_w", "profile", "mtbf_hours"}
_NET_KEYS = {"options", "radix", "oversubscription", "tiers"}
_LIMIT_KEYS = {"power_mw", "budget_usd"}
_REL_KEYS = {
    "checkpoint_save_s",
    "restart_s",
    "checkpoint_interval_s",
    "failures_per_accelerator_hour",
}


_keys = check_mapping


def _num(where: str, v: Any, *, positive: bool = True, integer: bool = False) -> float:
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            raise ConfigError(f"{where} must be a number, got {v!r}") from None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(f"{where} must be a number, got {v!r}")
    if positive and v <= 0:
        raise ConfigError(f"{where} must be positive, got {v!r}")
    if integer and int(v) != v:
        raise ConfigError(f"{where} must be an integer, got {v!r}")
    return int(v) if integer else float(v)


def _model(where: str, ref: Any, base_dir: Path | None, seq_len: int | None) -> ModelSpec:
    from wanka.spec import model_from_mapping

    if isinstance(ref, str):
        p = Path(ref) if base_dir is None or Path(ref).is_absolute() else base_dir / ref
        if ref.endswith((".yaml", ".yml", ".json")):
            from wanka.search.models import load_model

            m = load_model(str(p))
        else:
            from wanka.workload.presets import get_model

            m = get_model(ref)
    elif isinstance(ref, dict):
        m = model_from_mapping(ref, base_dir=base_dir)
    else:
        raise ConfigError(f"{where}.model must be a preset id, a file or a mapping")
    if seq_len is not None:
        m = replace(m, seq_len=int(_num(f"{where}.seq_len", seq_len, integer=True)))
    return m


def parse_center(d: Any, *, base_dir: Path | None = None) -> CenterSpec:
    """Validate a centre mapping; every problem is a one-line ConfigError/CatalogError."""
    from wanka.catalogs import get_accelerator

    d = _keys("center", d, _TOP_KEYS)
    goals_in = d.get("goals")
    if not goals_in or not isinstance(goals_in, list):
        raise ConfigError("center: `goals` must be a non-empty list of training goals")
    goals = []
    for i, g in enumerate(goals_in):
        where = f"goals[{i}]"
        g = _keys(where, g, _GOAL_KEYS)
        for k in ("model", "tokens", "deadline_days"):
            if g.get(k) is None:
                raise ConfigError(f"{where}: `{k}` is required")
        m = _model(where, g["model"], base_dir, g.get("seq_len"))
        gbs = g.get("global_batch_size")
        if gbs is None:
            gbs = 2 ** round(math.log2(DEFAULT_TOKENS_PER_STEP / m.seq_len))
        prec = str(g.get("precision") or "bf16")
        goals.append(
            Goal(
                id=str(g.get("id") or f"goal-{i + 1}"),
                model=m,
                tokens=_num(f"{where}.tokens", g["tokens"]),
                deadline_days=_num(f"{where}.deadline_days", g["deadline_days"]),
                global_batch_size=int(_num(f"{where}.global_batch_size", gbs, integer=True)),
                precision=prec,
            )
        )
    serving = []
    for i, s in enumerate(d.get("serving") or []):
        where = f"serving[{i}]"
        s = _keys(where, s, _SERVE_KEYS)
        if s.get("model") is None or (s.get("tokens_per_s") is None and s.get("rate") is None):
            raise ConfigError(f"{where}: `model` and `tokens_per_s` (or `rate`) are required")
        opt = {k: _num(f"{where}.{k}", s[k]) for k in ("input_len", "output_len", "ttft_ms",
               "tpot_ms", "rate") if s.get(k) is not None}  # fmt: skip
        osl = opt.get("output_len", 256.0)
        tps = s.get("tokens_per_s")
        serving.append(
            Serving(
                id=str(s.get("id") or f"serve-{i + 1}"),
                model=_model(where, s["model"], base_dir, None),
                tokens_per_s=_num(f"{where}.tokens_per_s", tps)
                if tps is not None
                else opt["rate"] * osl,
                precision=str(s.get("precision") or "bf16"),
                **opt,
            )
        )
    rel_in = _keys("reliability", d.get("reliability") or {}, _REL_KEYS)
    rel_kw: dict[str, Any] = {
        k: (None if v is None else _num(f"reliability.{k}", v, positive=k != "checkpoint_save_s"))
        for k, v in rel_in.items()
    }
    base_rel = Reliability(**{k: v for k, v in rel_kw.items() if v is not None})
    cands_in = d.get("candidates")
    if not cands_in or not isinstance(cands_in, list):
        raise ConfigError("center: `candidates` must be a non-empty list of accelerators")
    cands = []
    for i, c in enumerate(cands_in):
        where = f"candidates[{i}]"
        c = _keys(where, c, _CAND_KEYS)
        if not c.get("accelerator"):
            raise ConfigError(f"{where}: `accelerator` is required")
        acc = get_accelerator(str(c["accelerator"]))
        if c.get("profile"):
            from wanka.profile import apply_profile, load_profile

            p = Path(str(c["profile"]))
            acc = apply_profile(
                acc, load_profile(p if p.is_absolute() or base_dir is None else base_dir / p)
            )
        if c.get("available") is None:
            raise ConfigError(f"{where}: `available` (accelerators on offer) is required")
        avail = int(_num(f"{where}.available", c["available"], integer=True))
        price = c.get("unit_price_usd", acc.price_usd)
        if price is None:
            raise ConfigError(f"{where}: {acc.id} has no catalog price; give unit_price_usd")
        tdp = c.get("tdp_w", acc.tdp_w)
        if tdp is None:
            raise ConfigError(f"{where}: {acc.id} has no catalog TDP; give tdp_w")
        rel = base_rel
        if c.get("mtbf_hours") is not None:
            rel = replace(
                base_rel,
                failures_per_accelerator_hour=1.0 / _num(f"{where}.mtbf_hours", c["mtbf_hours"]),
                source=f"stated MTBF {c['mtbf_hours']} h per accelerator",
            )
        cands.append(
            Candidate(
                accelerator=acc,
                available=avail,
                unit_price_usd=_num(f"{where}.unit_price_usd", price),
                tdp_w=_num(f"{where}.tdp_w", tdp),
                reliability=rel,
            )
        )
    net = _keys("network", d.get("network") or {}, _NET_KEYS)
    options = net.get("options") or ["fat-tree"]
    if isinstance(options, str):
        options = [options]
    from wanka.topology.fabric import TOPOLOGIES

    nets = []
    for o in options:
        if o not in TOPOLOGIES:
            raise ConfigError(
                f"network.options: unknown topology {o!r}; choose from {', '.join(TOPOLOGIES)}"
            )
        nets.append(
            NetworkOption(
                topology=str(o),
                radix=int(_num("network.radix", net.get("radix", 64), integer=True)),
                oversubscription=_num("network.oversubscription", net.get("oversubscription", 1.0)),
                tiers=None
                if net.get("tiers") is None
                else int(_num("network.tiers", net["tiers"], integer=True)),
            )
        )
    lim = _keys("limits", d.get("limits") or {}, _LIMIT_KEYS)
    limits = Limits(
        power_mw=None if lim.get("power_mw") is None else _num("limits.power_mw", lim["power_mw"]),
        budget_usd=None
        if lim.get("budget_usd") is None
        else _num("limits.budget_usd", lim["budget_usd"]),
    )
    eco_in = d.get("economics") or {}
    eco_keys = set(Economics.__dataclass_fields__)
    eco_in = _keys("economics", eco_in, eco_keys)
    eco = Economics(
        **{
            k: _num(
                f"economics.{k}",
                v,
                positive=k not in ("facility_usd_per_mw", "node_overhead_fraction"),
            )
            for k, v in eco_in.items()
            if v is not None
        }
    )
    cpc = int(_num("counts_per_candidate", d.get("counts_per_candidate", 5), integer=True))
    from wanka.plan.site import parse_site, with_existing

    site = parse_site(d.get("site"))
    if site is not None:
        cands, limits = with_existing(site, cands, limits, base_rel)
    return CenterSpec(
        name=str(d.get("name") or "center"),
        goals=tuple(goals),
        serving=tuple(serving),
        candidates=tuple(cands),
        networks=tuple(nets),
        limits=limits,
        economics=eco,
        counts_per_candidate=cpc,
        mixed_fleets=bool(d.get("mixed_fleets", True)),
        site=site,
    )


def load_center(path: str | Path) -> CenterSpec:
    """Read and validate a centre file (YAML or JSON)."""
    from wanka.spec import read_spec_file

    data = read_spec_file(path)
    if data is None:
        raise ConfigError(f"{path}: the file is empty")
    return parse_center(data, base_dir=Path(path).parent)


# ------------------------------------------------------------------------------------------------
# Jobs on one chip type

#: Reduced plan-search dimensions used by the designer (speed); see the module docstring.
REDUCED = {"vpp": (1, 2, 4, 8), "micro_batch_size": (1, 2, 4)}
REDUCED_ETP = (1, 2, 4, 8)
_COUNT_SHAPES = (1.0, 1.25, 1.5)


def nice_counts(node: int, available: int) -> list[int]:
    """node x 2^j x {1, 5/4, 3/2} (whole nodes), up to `available`, ascending.

    >>> nice_counts(8, 100)
    [8, 16, 24, 32, 40, 48, 64, 80, 96]
    """
    out: set[int] = set()
    j = 0
    while node * 2**j <= available:
        for f in _COUNT_SHAPES:
            n = int(round(node * 2**j * f / node)) * node
            if node <= n <= available:
                out.add(n)
        j += 1
    return sorted(out)


@dataclass
class JobOption:
    """The best plan of one job at one count on one chip type."""

    count: int
    plan: dict[str, Any] | None  # search record (parallelism + predict fields) or None
    tokens_per_s_per_gpu: float
    infeasible: dict[str, Any] | None = None
    search_stats: dict[str, Any] = field(default_factory=dict)


def _dims(model: ModelSpec, count: int, gbs: int, precision: str) -> Any:
    kw: dict[str, Any] = dict(REDUCED)
    if model.moe is not None:
        kw["etp"] = REDUCED_ETP
    return space_dims(model, count=count, global_batch_size=gbs, precisions=(precision,), **kw)


def _search_job(goal: Goal, cand: Candidate, count: int) -> JobOption:
    acc = cand.accelerator
    prec = (
        goal.precision if acc.peak_flops.get(goal.precision) or goal.precision == "bf16" else "bf16"
    )
    try:
        acc.peak(prec)
    except WankaError:
        prec = "bf16"
    dims = _dims(goal.model, count, goal.global_batch_size, prec)
    res = search(
        goal.model,
        acc,
        count=count,
        global_batch_size=goal.global_batch_size,
        seq_len=goal.model.seq_len,
        precisions=(prec,),
        dims=dims,
        top_k=2,
    )
    stats = {
        "space": res.space,
        "evaluated": res.evaluated,
        "feasible": res.feasible,
        "seconds": res.seconds,
    }
    if res.best is None:
        return JobOption(
            count=count,
            plan=None,
            tokens_per_s_per_gpu=0.0,
            infeasible=res.infeasible,
            search_stats=stats,
        )
    return JobOption(
        count=count,
        plan=res.best,
        tokens_per_s_per_gpu=float(res.best["tokens_per_s_per_gpu"]),
        search_stats=stats,
    )


def _viable_counts(goal: Goal, cand: Candidate, available: int) -> list[int]:
    node = cand.accelerator.gpus_per_node
    out = []
    for n in nice_counts(node, available):
        prec = "bf16"
        if (
            count_candidates(
                goal.model,
                _dims(goal.model, n, goal.global_batch_size, prec),
                count=n,
                global_batch_size=goal.global_batch_size,
                seq_len=goal.model.seq_len,
            )
            > 0
        ):
            out.append(n)
    return out


def _required_count(goal: Goal, cand: Candidate, tps_per_gpu: float) -> float:
    """Accelerators needed to meet the deadline at `tps_per_gpu`, with goodput at that size (2 rounds)."""
    if tps_per_gpu <= 0:
        return math.inf
    deadline_s = goal.deadline_days * SECONDS_PER_DAY
    n = goal.tokens / (deadline_s * tps_per_gpu)
    for _ in range(3):
        gp = goodput(max(1, int(math.ceil(n))), cand.reliability).goodput
        n = goal.tokens / (deadline_s * tps_per_gpu * gp)
    return n


def _pick_counts(viable: list[int], need: float, k: int) -> list[int]:
    """A handful of counts: one below the need, the first that meets it, the next ones, and the largest."""
    if not viable:
        return []
    above = [c for c in viable if c >= need]
    below = [c for c in viable if c < need]
    picks: list[int] = []
    if below:
        picks.append(below[-1])
    picks += above[: max(1, k - 2)]
    picks.append(viable[-1])
    out = sorted(set(picks))
    if len(out) < k:  # fill from the top of the available range
        for c in reversed(viable):
            if len(out) >= k:
                break
            if c not in out:
                out.append(c)
    return sorted(set(out))[: max(k, 2)]


def job_options(
    goal: Goal, cand: Candidate, k: int, available: int | None = None
) -> tuple[list[JobOption], float]:
    """Best plans of `goal` on `cand` at a handful of counts (up to `available`, default all on offer), and
    the estimated count the deadline needs."""
    viable = _viable_counts(goal, cand, cand.available if available is None else available)
    if not viable:
        return [], math.inf
    probe_count = viable[
        min(len(viable) - 1, max(0, int(np.searchsorted(viable, min(4096, viable[-1])))))
    ]
    probe = _search_job(goal, cand, probe_count)
    tps = probe.tokens_per_s_per_gpu
    if tps <= 0:  # try the largest size: more model-parallel room
        probe = _search_job(goal, cand, viable[-1])
        tps = probe.tokens_per_s_per_gpu
    need = _required_count(goal, cand, tps)
    counts = _pick_counts(viable, need, k)
    opts = [probe if c == probe.count else _search_job(goal, cand, c) for c in counts]
    if opts and all(o.plan is not None for o in opts):
        # refine the need with the measured throughput at the size nearest to it
        near = min(opts, key=lambda o: abs(o.count - need) if math.isfinite(need) else -o.count)
        need = _required_count(goal, cand, near.tokens_per_s_per_gpu)
    return opts, need


def serving_count(s: Serving, cand: Candidate, eco: Economics) -> int:
    """Accelerators (whole nodes) that serve `s` on this chip, sized by the serving model.

    `wanka.serve.plan.plan_serving` (analytic screening: KV-cache capacity, continuous batching, p99
    TTFT/TPOT against the limits) at rate = `rate` or tokens_per_s / output_len, within the chip's
    availability; the cheapest passing deployment's count, rounded up to whole nodes. A demand this chip
    cannot serve within its availability gets availability + one node (no design can host it).
    """
    node = cand.accelerator.gpus_per_node
    count = _serve_plan_count(s, cand.accelerator.id, cand.available)
    return cand.available + node if count is None else math.ceil(count / node) * node


@functools.cache
def _serve_plan_count(s: Serving, accelerator_id: str, available: int) -> int | None:
    from wanka.serve.plan import plan_serving

    lowp = {"nvfp4": "fp4", "mxfp4": "fp4", "fp8-blockwise": "fp8", "mxfp8": "fp8"}
    prec = lowp.get(s.precision, s.precision if s.precision in ("bf16", "fp16", "fp8") else "bf16")
    try:
        res = plan_serving(
            s.model, [accelerator_id], rate=s.rate or s.tokens_per_s / s.output_len,
            input_len=s.input_len, output_len=s.output_len, ttft_ms=s.ttft_ms, tpot_ms=s.tpot_ms,
            max_count=max(int(available), 1), precision=prec, per_chip=1, verify=False,
        )  # fmt: skip
    except WankaError:
        return None
    return int(res.plans[0]["count"]) if res.plans else None


# ------------------------------------------------------------------------------------------------
# Designs


def _fabric(cand: Candidate, count: int, net: NetworkOption) -> Any:
    from wanka.topology.fabric import design_fabric

    return design_fabric(
        net.topology,
        count,
        radix=net.radix,
        tiers=net.tiers,
        oversubscription=net.oversubscription,
        accelerator=cand.accelerator,
    )


def _retime(goal: Goal, cand: Candidate, opt: JobOption, fabric: Any) -> dict[str, Any]:
    """The job's best plan re-timed on `fabric` (predict-shaped record)."""
    from wanka.search.core import plan_record

    par = opt.plan["parallelism"]  # type: ignore[index]
    try:
        return plan_record(
            goal.model,
            cand.accelerator,
            ParallelPlan(**par),
            count=opt.count,
            gpus_per_node=cand.accelerator.gpus_per_node,
            precision=opt.plan["precision"],  # type: ignore[index]
            fabric=fabric.fabric_tier() if fabric is not None else None,
        )
    except WankaError:
        return dict(opt.plan)  # type: ignore[arg-type]


@dataclass
class _Group:
    """One chip type's part of a design: its jobs, count, fabric and costs."""

    cand: Candidate
    net: NetworkOption
    jobs: list[dict[str, Any]]
    count: int
    fabric: Any = None


def _group_costs(g: _Group, eco: Economics) -> dict[str, float]:
    bought = g.count - min(g.count, g.cand.existing)  # chips already on the site cost nothing
    acc_cost = bought * g.cand.unit_price_usd
    nodes = bought * g.cand.unit_price_usd * eco.node_overhead_fraction
    fab_cost = g.fabric.cost_usd if g.fabric is not None else 0.0
    it_w = g.count * g.cand.tdp_w * (1.0 + eco.host_power_fraction) + (
        g.fabric.power_w if g.fabric is not None else 0.0
    )
    return {
        "accelerators_usd": acc_cost,
        "nodes_usd": nodes,
        "fabric_usd": fab_cost,
        "it_power_w": it_w,
        "facility_power_w": it_w * eco.pue,
    }


def _fabric_json(f: Any) -> dict[str, Any] | None:
    if f is None:
        return None
    j = f.to_json()
    keep = (
        "topology",
        "endpoints",
        "tiers",
        "radix",
        "switches",
        "links",
        "optical_links",
        "transceivers",
        "nics",
        "scaleup",
        "scaleup_domains",
        "bisection_gb_s",
        "diameter_hops",
        "cost_usd",
        "cost_breakdown",
        "power_w",
        "power_breakdown",
    )
    return {k: j.get(k) for k in keep}


def _design(spec: CenterSpec, groups: list[_Group], need: dict[str, float]) -> dict[str, Any]:
    eco, lim = spec.economics, spec.limits
    costs = [_group_costs(g, eco) for g in groups]
    capex = sum(c["accelerators_usd"] + c["nodes_usd"] + c["fabric_usd"] for c in costs)
    power_w = sum(c["facility_power_w"] for c in costs)
    capex += eco.facility_usd_per_mw * power_w / 1e6
    count = sum(g.count for g in groups)
    train = [j for g in groups for j in g.jobs if j["role"] == "training"]
    ttt_days = max((j["time_to_train_days"] for j in train), default=0.0)
    tokens = sum(j["tokens"] for j in train)
    # the training partitions' share of capex and power, charged for the training duration
    train_capex = 0.0
    train_energy_mwh = 0.0
    gpu_hours = 0.0
    for g, c in zip(groups, costs):
        per_chip_capex = (c["accelerators_usd"] + c["nodes_usd"] + c["fabric_usd"]) / g.count
        per_chip_w = c["facility_power_w"] / g.count
        for j in g.jobs:
            if j["role"] != "training":
                continue
            days = j["time_to_train_days"]
            if not math.isfinite(days):
                continue
            hours = days * 24.0
            share = min(1.0, days / (eco.depreciation_years * 365.0))  # straight-line depreciation
            train_capex += per_chip_capex * j["count"] * share
            train_energy_mwh += per_chip_w * j["count"] * hours / 1e6
            gpu_hours += j["count"] * hours
    energy_cost = train_energy_mwh * 1000.0 * eco.electricity_usd_per_kwh
    finite = math.isfinite(ttt_days) and ttt_days > 0
    cpmt = (train_capex + energy_cost) / (tokens / 1e6) if finite and tokens > 0 else None
    # constraints: margin > 0 is slack, < 0 a violation (relative to the limit)
    cons: dict[str, dict[str, Any]] = {}
    dl = [(j["deadline_days"], j["time_to_train_days"]) for j in train]
    worst = min(((d - t) / d, d, t) for d, t in dl) if dl else (math.inf, None, None)
    cons["deadline"] = {"value_days": worst[2], "limit_days": worst[1], "margin": worst[0]}
    if lim.budget_usd is not None:
        cons["budget"] = {
            "value_usd": capex,
            "limit_usd": lim.budget_usd,
            "margin": (lim.budget_usd - capex) / lim.budget_usd,
        }
    if lim.power_mw is not None:
        cons["power"] = {
            "value_mw": power_w / 1e6,
            "limit_mw": lim.power_mw,
            "margin": (lim.power_mw - power_w / 1e6) / lim.power_mw,
        }
    g_av = min(groups, key=lambda g: (g.cand.available - g.count) / g.cand.available)
    av = ((g_av.cand.available - g_av.count) / g_av.cand.available, g_av)
    need_n = max(
        (
            need.get(j["id"] + "@" + g_av.cand.accelerator.id, 0.0)
            for j in g_av.jobs
            if j["role"] == "training"
        ),
        default=0.0,
    )
    cons["availability"] = {
        "accelerator": g_av.cand.accelerator.id,
        "count": g_av.count,
        "available": g_av.cand.available,
        "margin": av[0],
        "needed_for_deadline": None if not math.isfinite(need_n) else int(math.ceil(need_n)),
    }
    mem_margins: list[float] = [
        j["memory_margin"] for j in train if j.get("memory_margin") is not None
    ]
    cons["memory"] = {"margin": min(mem_margins) if mem_margins else -1.0}
    violated = {k: v for k, v in cons.items() if v["margin"] is not None and v["margin"] < 0}
    memory_bad = any(j.get("infeasible") for j in train)
    if memory_bad:
        binding = "memory"
    elif violated:
        binding = min(violated, key=lambda k: violated[k]["margin"])
        # a missed deadline at the largest count on offer is an availability problem when more chips would do
        if binding == "deadline" and g_av.count >= max(
            nice_counts(g_av.cand.accelerator.gpus_per_node, g_av.cand.available) or [0]
        ):
            need_av = cons["availability"]["needed_for_deadline"]
            if need_av is not None and need_av > g_av.cand.available:
                binding = "availability"
                cons["availability"]["margin"] = (
                    g_av.cand.available - need_av
                ) / g_av.cand.available
    else:
        binding = min(cons, key=lambda k: cons[k]["margin"])
    meets = not violated and not memory_bad
    accs = sorted(
        {g.cand.accelerator.id for g in groups}, key=[g.cand.accelerator.id for g in groups].index
    )
    first = train[0] if train else None
    detail = _binding_detail(binding, cons, train)
    fab_json = (
        _fabric_json(groups[0].fabric)
        if len(groups) == 1
        else {
            "parts": [_fabric_json(g.fabric) for g in groups],
            "cost_usd": sum((g.fabric.cost_usd if g.fabric else 0.0) for g in groups),
            "power_w": sum((g.fabric.power_w if g.fabric else 0.0) for g in groups),
            "switches": sum((g.fabric.switches if g.fabric else 0) for g in groups),
            "transceivers": sum((g.fabric.transceivers if g.fabric else 0) for g in groups),
        }
    )
    return {
        "id": " + ".join(f"{g.count} x {g.cand.accelerator.id}" for g in groups)
        + f" ({groups[0].net.topology})",
        "accelerator": "+".join(accs),
        "count": count,
        "fleet": [
            {
                "accelerator": g.cand.accelerator.id,
                "count": g.count,
                "roles": sorted({j["role"] for j in g.jobs}),
            }
            for g in groups
        ],
        "network": groups[0].net.topology,
        "fabric": fab_json,
        "parallelism": first["plan"]["parallelism"] if first and first.get("plan") else None,
        "precision": first["plan"]["precision"] if first and first.get("plan") else None,
        "time_to_train_days": ttt_days if math.isfinite(ttt_days) else None,
        "gpu_hours": gpu_hours,
        "energy_mwh": train_energy_mwh,
        "capex_usd": capex,
        "capex_breakdown": {
            k: sum(c[k] for c in costs) for k in ("accelerators_usd", "nodes_usd", "fabric_usd")
        }
        | (
            {"facility_usd": eco.facility_usd_per_mw * power_w / 1e6}
            if eco.facility_usd_per_mw
            else {}
        ),
        "power_mw": power_w / 1e6,
        "cost_per_million_tokens_usd": cpmt,
        "binding_constraint": binding,
        "binding_margin": cons[binding]["margin"],
        "binding_detail": detail,
        "meets_all_constraints": meets,
        "constraints": cons,
        "jobs": [j for g in groups for j in g.jobs],
    }


def _binding_detail(
    binding: str, cons: dict[str, dict[str, Any]], train: list[dict[str, Any]]
) -> str:
    c = cons[binding]
    m = c.get("margin")
    if binding == "memory":
        bad = next((j for j in train if j.get("infeasible")), None)
        if bad:
            inf = bad["infeasible"]
            if inf.get("short_by_gib"):
                return (
                    f"{bad['id']}: no layout fits; the smallest needs {inf['min_peak_memory_gib']:.1f} GiB per "
                    f"accelerator, {inf['short_by_gib']:.1f} GiB over {inf['hbm_gib']:.0f} GiB"
                )
            return f"{bad['id']}: {inf.get('reason')}"
        return f"memory headroom {m:+.0%} of HBM"
    if binding == "deadline":
        return f"time-to-train {c['value_days']:.1f} d vs deadline {c['limit_days']:g} d ({m:+.0%})"
    if binding == "budget":
        return (
            f"capex ${c['value_usd'] / 1e9:.2f}B vs budget ${c['limit_usd'] / 1e9:.2f}B ({m:+.0%})"
        )
    if binding == "power":
        return f"power {c['value_mw']:.1f} MW vs limit {c['limit_mw']:g} MW ({m:+.0%})"
    need = c.get("needed_for_deadline")
    extra = f"; the deadline needs ~{need:,} {c['accelerator']}" if need else ""
    return f"{c['count']:,} of {c['available']:,} {c['accelerator']} available ({m:+.0%}){extra}"


def _job_record(goal: Goal, cand: Candidate, opt: JobOption, fabric: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": goal.id,
        "role": "training",
        "model": goal.model.name,
        "accelerator": cand.accelerator.id,
        "count": opt.count,
        "tokens": goal.tokens,
        "deadline_days": goal.deadline_days,
        "global_batch_size": goal.global_batch_size,
        "search": opt.search_stats,
    }
    if opt.plan is None:
        rec.update(
            {
                "plan": None,
                "infeasible": opt.infeasible,
                "time_to_train_days": math.inf,
                "tokens_per_s": 0.0,
                "memory_margin": -1.0,
            }
        )
        return rec
    plan = _retime(goal, cand, opt, fabric)
    tps_gpu = float(plan.get("tokens_per_s_per_gpu") or opt.tokens_per_s_per_gpu)
    gp = goodput(opt.count, cand.reliability)
    tps = tps_gpu * opt.count
    ttt = time_to_train_s(goal.tokens, tps, gp.goodput) / SECONDS_PER_DAY
    hbm = cand.accelerator.hbm_bytes / GiB
    rec.update(
        {
            "plan": plan,
            "tokens_per_s": tps,
            "tokens_per_s_per_gpu": tps_gpu,
            "mfu": plan.get("mfu"),
            "goodput": gp.to_dict(),
            "time_to_train_days": ttt,
            "memory_margin": (hbm - float(plan.get("peak_memory_gib") or 0.0)) / hbm,
        }
    )
    return rec


def _serving_record(s: Serving, cand: Candidate, eco: Economics) -> dict[str, Any]:
    n = serving_count(s, cand, eco)
    return {
        "id": s.id,
        "role": "serving",
        "model": s.model.name,
        "accelerator": cand.accelerator.id,
        "count": n,
        "tokens_per_s": s.tokens_per_s,
        "sized_by": (
            f"wanka.serve: {s.rate or s.tokens_per_s / s.output_len:.4g} requests/s of "
            f"{s.input_len:g}+{s.output_len:g} tokens"
            + (f", p99 TTFT <= {s.ttft_ms:g} ms" if s.ttft_ms else "")
            + (f", p99 TPOT <= {s.tpot_ms:g} ms" if s.tpot_ms else "")
        ),
    }


def design_center(
    spec: CenterSpec, *, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """Every candidate design, ranked best first (see the module docstring); returns the `plan --json` object."""
    t0 = time.perf_counter()
    eco = spec.economics
    # 1-2: per goal and chip, a handful of counts with their best plans
    options: dict[tuple[str, str], tuple[list[JobOption], float]] = {}
    total = len(spec.goals) * len(spec.candidates)
    done = 0
    if progress:
        progress(0, total)
    for goal in spec.goals:
        for cand in spec.candidates:
            # leave room for this chip's share of serving when it hosts everything (single-type designs)
            room = cand.available - sum(serving_count(s, cand, eco) for s in spec.serving)
            options[(goal.id, cand.accelerator.id)] = job_options(
                goal, cand, spec.counts_per_candidate, available=max(room, 0)
            )
            done += 1
            if progress:
                progress(done, total)
    need = {f"{g}@{a}": n for (g, a), (_, n) in options.items()}
    fabric_cache: dict[tuple[str, int, str], Any] = {}

    def fabric_for(cand: Candidate, n: int, net: NetworkOption) -> Any:
        key = (cand.accelerator.id, n, net.topology)
        if key not in fabric_cache:
            try:
                fabric_cache[key] = _fabric(cand, n, net)
            except WankaError:
                fabric_cache[key] = None
        return fabric_cache[key]

    def best_option(goal: Goal, cand: Candidate) -> JobOption | None:
        """The smallest count whose plan meets the deadline (goodput included), else the fastest."""
        opts, _ = options[(goal.id, cand.accelerator.id)]
        ok = [o for o in opts if o.plan is not None]
        if not ok:
            return opts[-1] if opts else None

        def days(o: JobOption) -> float:
            gp = goodput(o.count, cand.reliability).goodput
            return (
                time_to_train_s(goal.tokens, o.tokens_per_s_per_gpu * o.count, gp) / SECONDS_PER_DAY
            )

        meets = [o for o in ok if days(o) <= goal.deadline_days]
        return min(meets, key=lambda o: o.count) if meets else min(ok, key=days)

    designs: list[dict[str, Any]] = []
    main = spec.goals[0]
    # single-type designs: the main goal at each of its counts; other jobs at their best option
    for cand in spec.candidates:
        opts, _ = options[(main.id, cand.accelerator.id)]
        if not opts:
            designs.append(_no_layout_design(spec, main, cand))
            continue
        for opt in opts:
            for net in spec.networks:
                jobs_opts = [(main, opt)] + [(g, best_option(g, cand)) for g in spec.goals[1:]]
                if any(o is None for _, o in jobs_opts):
                    continue
                n_train = sum(o.count for _, o in jobs_opts if o is not None)
                serving = [_serving_record(s, cand, eco) for s in spec.serving]
                n = n_train + sum(s["count"] for s in serving)
                fab = fabric_for(cand, n, net)
                jobs = [_job_record(g, cand, o, fab) for g, o in jobs_opts] + serving  # type: ignore[arg-type]
                designs.append(
                    _design(
                        spec, [_Group(cand=cand, net=net, jobs=jobs, count=n, fabric=fab)], need
                    )
                )
    # mixed fleets: each job on one of two chip types
    jobs_all: list[Goal | Serving] = list(spec.goals) + list(spec.serving)
    if spec.mixed_fleets and len(spec.candidates) >= 2 and len(jobs_all) >= 2:
        import itertools

        for a, b in itertools.permutations(spec.candidates, 2):
            for assign in itertools.product((0, 1), repeat=len(jobs_all)):
                if 0 not in assign or 1 not in assign or assign[0] != 0:
                    continue
                for net in spec.networks:
                    groups_jobs: list[list[tuple[Goal | Serving, Any]]] = [[], []]
                    okay = True
                    for job, side in zip(jobs_all, assign):
                        cand = (a, b)[side]
                        if isinstance(job, Goal):
                            o = best_option(job, cand)
                            if o is None or o.plan is None:
                                okay = False
                                break
                            groups_jobs[side].append((job, o))
                        else:
                            groups_jobs[side].append((job, None))
                    if not okay:
                        continue
                    groups = []
                    for side, cand in enumerate((a, b)):
                        items = groups_jobs[side]
                        n = sum(
                            (o.count if isinstance(j, Goal) else serving_count(j, cand, eco))
                            for j, o in items
                        )
                        if n > cand.available:
                            okay = False
                        fab = fabric_for(cand, n, net)
                        jobs = [
                            (
                                _job_record(j, cand, o, fab)
                                if isinstance(j, Goal)
                                else _serving_record(j, cand, eco)
                            )
                            for j, o in items
                        ]
                        groups.append(_Group(cand=cand, net=net, jobs=jobs, count=n, fabric=fab))
                    if okay:
                        d = _design(spec, groups, need)
                        d["mixed"] = True
                        designs.append(d)
    designs.sort(key=_rank_key)
    for i, d in enumerate(designs, 1):
        d["rank"] = i
    result: dict[str, Any] = {
        "center": spec.name,
        "designs": designs,
        "seconds": time.perf_counter() - t0,
        "goals": [
            {
                "id": g.id,
                "model": g.model.name,
                "tokens": g.tokens,
                "deadline_days": g.deadline_days,
                "global_batch_size": g.global_batch_size,
                "seq_len": g.model.seq_len,
                "precision": g.precision,
            }
            for g in spec.goals
        ],
        "serving": [
            {"id": s.id, "model": s.model.name, "tokens_per_s": s.tokens_per_s}
            for s in spec.serving
        ],
        "limits": {"power_mw": spec.limits.power_mw, "budget_usd": spec.limits.budget_usd},
        "economics": {k: getattr(eco, k) for k in Economics.__dataclass_fields__},
        "assumptions": [
            "plan search: reduced space (vpp 1/2/4/8, micro-batch 1/2/4, etp 1/2/4/8); timed on perf's default "
            "scale-out model, best plan re-timed on each fabric",
            f"goodput: {spec.candidates[0].reliability.source}; Young/Daly checkpoint interval",
            "capex = accelerators + node overhead + fabric (scale-out and scale-up)"
            + (" + facility" if eco.facility_usd_per_mw else ""),
            "cost per million tokens = capex share over the depreciation period for the training time + "
            "energy at the stated $/kWh, over training tokens",
        ],
    }
    if spec.site is not None:
        from wanka.plan.site import SITE_ASSUMPTION, apply_site

        apply_site(spec.site, result, _rank_key)
        assumptions: list[str] = result["assumptions"]
        assumptions.append(SITE_ASSUMPTION)
    return result


def _no_layout_design(spec: CenterSpec, goal: Goal, cand: Candidate) -> dict[str, Any]:
    """A chip with no count that admits any layout of the goal (divisibility): still an answer."""
    return {
        "id": f"{cand.accelerator.id} (no layout)",
        "accelerator": cand.accelerator.id,
        "count": 0,
        "fleet": [],
        "network": None,
        "fabric": None,
        "parallelism": None,
        "precision": None,
        "time_to_train_days": None,
        "gpu_hours": 0.0,
        "energy_mwh": 0.0,
        "capex_usd": 0.0,
        "power_mw": 0.0,
        "cost_per_million_tokens_usd": None,
        "binding_constraint": "availability",
        "binding_margin": -1.0,
        "binding_detail": f"no count up to {cand.available:,} {cand.accelerator.id} admits a layout of "
        f"{goal.model.name} with global batch {goal.global_batch_size}",
        "meets_all_constraints": False,
        "constraints": {},
        "jobs": [],
    }


def _rank_key(d: dict[str, Any]) -> tuple:
    """Designs meeting every constraint first, by cost per million tokens; then the others, closest to
    meeting their binding constraint first."""
    cpmt = d.get("cost_per_million_tokens_usd")
    ttt = d.get("time_to_train_days")
    cost = cpmt if cpmt is not None else math.inf
    if d["meets_all_constraints"]:
        return (0, cost, ttt if ttt is not None else math.inf)
    margin = d.get("binding_margin")
    return (1, -(margin if margin is not None else -math.inf), cost)
