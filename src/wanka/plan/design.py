"""One centre design priced and checked: capex, power, energy, cost per million training tokens, every
constraint's margin and the binding one. `Design.to_dict` is one entry of `plan --json`'s `designs`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from wanka.catalogs.economics import Economics
from wanka.plan.inputs import Candidate, CenterSpec, Goal, NetworkOption
from wanka.plan.jobs import nice_counts
from wanka.plan.records import Job, TrainingJob

__all__ = ["Design", "Group", "design", "no_layout_design", "rank_key"]

_CAPEX_KEYS = ("accelerators_usd", "nodes_usd", "fabric_usd")


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """One chip type's part of a design: its jobs, count and fabric."""

    cand: Candidate
    net: NetworkOption
    jobs: tuple[Job, ...]
    count: int
    fabric: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupCosts:
    accelerators_usd: float
    nodes_usd: float
    fabric_usd: float
    it_power_w: float
    facility_power_w: float

    @property
    def capex_usd(self) -> float:
        return self.accelerators_usd + self.nodes_usd + self.fabric_usd


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingTotals:
    """The training partitions' share of capex and energy, charged for the training duration."""

    capex_usd: float
    energy_mwh: float
    gpu_hours: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Design:
    """A ranked candidate: fleet, fabric, costs, constraints and jobs."""

    id: str
    accelerator: str
    count: int
    fleet: tuple[dict[str, Any], ...]
    network: str | None
    fabric: dict[str, Any] | None
    parallelism: dict[str, Any] | None
    precision: str | None
    time_to_train_days: float | None
    gpu_hours: float
    energy_mwh: float
    capex_usd: float
    capex_breakdown: dict[str, float] | None
    power_mw: float
    cost_per_million_tokens_usd: float | None
    binding_constraint: str
    binding_margin: float
    binding_detail: str
    meets_all_constraints: bool
    constraints: dict[str, dict[str, Any]]
    jobs: tuple[Job, ...]
    mixed: bool = False
    retired: tuple[dict[str, Any], ...] | None = None
    """Existing site chips this design leaves unused (`plan.site`; None without a site)."""
    site: dict[str, Any] | None = None
    """Racks, rack power, cooling and upgrade of this design on the site (None without a site)."""

    def to_dict(self, rank: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "accelerator": self.accelerator,
            "count": self.count,
            "fleet": [dict(f) for f in self.fleet],
            "network": self.network,
            "fabric": self.fabric,
            "parallelism": self.parallelism,
            "precision": self.precision,
            "time_to_train_days": self.time_to_train_days,
            "gpu_hours": self.gpu_hours,
            "energy_mwh": self.energy_mwh,
            "capex_usd": self.capex_usd,
        }
        if self.capex_breakdown is not None:
            out["capex_breakdown"] = dict(self.capex_breakdown)
        out |= {
            "power_mw": self.power_mw,
            "cost_per_million_tokens_usd": self.cost_per_million_tokens_usd,
            "binding_constraint": self.binding_constraint,
            "binding_margin": self.binding_margin,
            "binding_detail": self.binding_detail,
            "meets_all_constraints": self.meets_all_constraints,
            "constraints": {k: dict(v) for k, v in self.constraints.items()},
            "jobs": [j.to_dict() for j in self.jobs],
        }
        if self.mixed:
            out["mixed"] = True
        if rank is not None:
            out["rank"] = rank
        if self.site is not None:
            out["retired"] = [dict(r) for r in self.retired or ()]
            out["site"] = dict(self.site)
        return out


def rank_key(d: Design | dict[str, Any]) -> tuple:
    """Designs meeting every constraint first, by cost per million tokens; then the others, closest to
    meeting their binding constraint first."""
    get = d.get if isinstance(d, dict) else lambda k: getattr(d, k)
    cpmt, ttt, margin = get("cost_per_million_tokens_usd"), get("time_to_train_days"), None
    cost = cpmt if cpmt is not None else math.inf
    if get("meets_all_constraints"):
        return (0, cost, ttt if ttt is not None else math.inf)
    margin = get("binding_margin")
    return (1, -(margin if margin is not None else -math.inf), cost)


def _group_costs(g: Group, eco: Economics) -> GroupCosts:
    bought = g.count - min(g.count, g.cand.existing)  # chips already on the site cost nothing
    it_w = g.count * g.cand.tdp_w * (1.0 + eco.host_power_fraction) + (
        g.fabric.power_w if g.fabric is not None else 0.0
    )
    return GroupCosts(
        accelerators_usd=bought * g.cand.unit_price_usd,
        nodes_usd=bought * g.cand.unit_price_usd * eco.node_overhead_fraction,
        fabric_usd=g.fabric.cost_usd if g.fabric is not None else 0.0,
        it_power_w=it_w,
        facility_power_w=it_w * eco.pue,
    )


def _training_totals(
    groups: list[Group], costs: list[GroupCosts], eco: Economics
) -> TrainingTotals:
    capex, energy_mwh, gpu_hours = 0.0, 0.0, 0.0
    for g, c in zip(groups, costs):
        per_chip_capex = c.capex_usd / g.count
        per_chip_w = c.facility_power_w / g.count
        for j in g.jobs:
            if not isinstance(j, TrainingJob) or not math.isfinite(j.time_to_train_days):
                continue
            days = j.time_to_train_days
            hours = days * 24.0
            share = min(1.0, days / (eco.depreciation_years * 365.0))  # straight-line depreciation
            capex += per_chip_capex * j.count * share
            energy_mwh += per_chip_w * j.count * hours / 1e6
            gpu_hours += j.count * hours
    return TrainingTotals(capex_usd=capex, energy_mwh=energy_mwh, gpu_hours=gpu_hours)


def _fabric_json(f: Any) -> dict[str, Any] | None:
    if f is None:
        return None
    j = f.to_dict()
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


def _fabric_summary(groups: list[Group]) -> dict[str, Any] | None:
    if len(groups) == 1:
        return _fabric_json(groups[0].fabric)
    return {
        "parts": [_fabric_json(g.fabric) for g in groups],
        "cost_usd": sum((g.fabric.cost_usd if g.fabric else 0.0) for g in groups),
        "power_w": sum((g.fabric.power_w if g.fabric else 0.0) for g in groups),
        "switches": sum((g.fabric.switches if g.fabric else 0) for g in groups),
        "transceivers": sum((g.fabric.transceivers if g.fabric else 0) for g in groups),
    }


def _availability(groups: list[Group], need: dict[str, float]) -> tuple[dict[str, Any], Group]:
    """The availability constraint of the chip type with the least slack, and that group."""
    g_av = min(groups, key=lambda g: (g.cand.available - g.count) / g.cand.available)
    acc = g_av.cand.accelerator.id
    need_n = max(
        (need.get(j.id + "@" + acc, 0.0) for j in g_av.jobs if isinstance(j, TrainingJob)),
        default=0.0,
    )
    con = {
        "accelerator": acc,
        "count": g_av.count,
        "available": g_av.cand.available,
        "margin": (g_av.cand.available - g_av.count) / g_av.cand.available,
        "needed_for_deadline": None if not math.isfinite(need_n) else int(math.ceil(need_n)),
    }
    return con, g_av


def _constraints(
    spec: CenterSpec,
    train: list[TrainingJob],
    capex: float,
    power_w: float,
    availability: dict[str, Any],
) -> dict[str, dict[str, Any]]:
    """Every constraint's value, limit and margin: > 0 is slack, < 0 a violation (relative to the limit)."""
    lim = spec.limits
    cons: dict[str, dict[str, Any]] = {}
    dl = [(j.deadline_days, j.time_to_train_days) for j in train]
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
    cons["availability"] = availability
    mem = [j.memory_margin for j in train if j.memory_margin is not None]
    cons["memory"] = {"margin": min(mem) if mem else -1.0}
    return cons


def _binding(
    cons: dict[str, dict[str, Any]], train: list[TrainingJob], g_av: Group
) -> tuple[str, bool]:
    """The binding constraint (the most violated, else the tightest) and whether all are met. A missed
    deadline at the largest count on offer is an availability problem when more chips would do."""
    violated = {k: v for k, v in cons.items() if v["margin"] is not None and v["margin"] < 0}
    memory_bad = any(j.infeasible for j in train)
    if memory_bad:
        return "memory", False
    if not violated:
        return min(cons, key=lambda k: cons[k]["margin"]), True
    binding = min(violated, key=lambda k: violated[k]["margin"])
    avail = g_av.cand.available
    largest = max(nice_counts(g_av.cand.accelerator.gpus_per_node, avail) or [0])
    if binding == "deadline" and g_av.count >= largest:
        need_av = cons["availability"]["needed_for_deadline"]
        if need_av is not None and need_av > avail:
            binding = "availability"
            cons["availability"]["margin"] = (avail - need_av) / avail
    return binding, False


def _binding_detail(binding: str, cons: dict[str, dict[str, Any]], train: list[TrainingJob]) -> str:
    c = cons[binding]
    m = c.get("margin")
    if binding == "memory":
        bad = next((j for j in train if j.infeasible), None)
        if bad and bad.infeasible:
            inf = bad.infeasible
            if inf.get("short_by_gib"):
                return (
                    f"{bad.id}: no layout fits; the smallest needs {inf['min_peak_memory_gib']:.1f} "
                    f"GiB per accelerator, {inf['short_by_gib']:.1f} GiB over {inf['hbm_gib']:.0f} GiB"
                )
            return f"{bad.id}: {inf.get('reason')}"
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


def design(
    spec: CenterSpec, groups: list[Group], need: dict[str, float], *, mixed: bool = False
) -> Design:
    """Price `groups` (one per chip type) and check them against the centre's limits."""
    eco = spec.economics
    costs = [_group_costs(g, eco) for g in groups]
    power_w = sum(c.facility_power_w for c in costs)
    facility_usd = eco.facility_usd_per_mw * power_w / 1e6
    capex = sum(c.capex_usd for c in costs) + facility_usd
    train = [j for g in groups for j in g.jobs if isinstance(j, TrainingJob)]
    ttt_days = max((j.time_to_train_days for j in train), default=0.0)
    tokens = sum(j.tokens for j in train)
    tot = _training_totals(groups, costs, eco)
    energy_cost = tot.energy_mwh * 1000.0 * eco.electricity_usd_per_kwh
    finite = math.isfinite(ttt_days) and ttt_days > 0
    cpmt = (tot.capex_usd + energy_cost) / (tokens / 1e6) if finite and tokens > 0 else None
    avail, g_av = _availability(groups, need)
    cons = _constraints(spec, train, capex, power_w, avail)
    binding, meets = _binding(cons, train, g_av)
    ids = [g.cand.accelerator.id for g in groups]
    first = train[0] if train else None
    breakdown = {k: sum(getattr(c, k) for c in costs) for k in _CAPEX_KEYS}
    if eco.facility_usd_per_mw:
        breakdown["facility_usd"] = facility_usd
    return Design(
        id=" + ".join(f"{g.count} x {g.cand.accelerator.id}" for g in groups)
        + f" ({groups[0].net.topology})",
        accelerator="+".join(sorted(set(ids), key=ids.index)),
        count=sum(g.count for g in groups),
        fleet=tuple(
            {
                "accelerator": g.cand.accelerator.id,
                "count": g.count,
                "roles": sorted({j.role for j in g.jobs}),
            }
            for g in groups
        ),
        network=groups[0].net.topology,
        fabric=_fabric_summary(groups),
        parallelism=first.plan["parallelism"] if first and first.plan else None,
        precision=first.plan["precision"] if first and first.plan else None,
        time_to_train_days=ttt_days if math.isfinite(ttt_days) else None,
        gpu_hours=tot.gpu_hours,
        energy_mwh=tot.energy_mwh,
        capex_usd=capex,
        capex_breakdown=breakdown,
        power_mw=power_w / 1e6,
        cost_per_million_tokens_usd=cpmt,
        binding_constraint=binding,
        binding_margin=cons[binding]["margin"],
        binding_detail=_binding_detail(binding, cons, train),
        meets_all_constraints=meets,
        constraints=cons,
        jobs=tuple(j for g in groups for j in g.jobs),
        mixed=mixed,
    )


def no_layout_design(goal: Goal, cand: Candidate) -> Design:
    """A chip with no count that admits any layout of the goal (divisibility): still an answer."""
    return Design(
        id=f"{cand.accelerator.id} (no layout)",
        accelerator=cand.accelerator.id,
        count=0,
        fleet=(),
        network=None,
        fabric=None,
        parallelism=None,
        precision=None,
        time_to_train_days=None,
        gpu_hours=0.0,
        energy_mwh=0.0,
        capex_usd=0.0,
        capex_breakdown=None,
        power_mw=0.0,
        cost_per_million_tokens_usd=None,
        binding_constraint="availability",
        binding_margin=-1.0,
        binding_detail=f"no count up to {cand.available:,} {cand.accelerator.id} admits a layout "
        f"of {goal.model.name} with global batch {goal.global_batch_size}",
        meets_all_constraints=False,
        constraints={},
        jobs=(),
    )
