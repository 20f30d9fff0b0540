"""Reading a centre file (format in docs/plan.md, examples/center-10k.yaml) into a `CenterSpec`.

Every problem is a one-line ConfigError/CatalogError naming the key at fault.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from wanka.catalogs.economics import Economics
from wanka.errors import ConfigError
from wanka.plan.goodput import Reliability
from wanka.plan.inputs import (
    DEFAULT_TOKENS_PER_STEP,
    Candidate,
    CenterSpec,
    Goal,
    Limits,
    NetworkOption,
    Serving,
    Site,
)
from wanka.serve.params import framework_name
from wanka.spec import check_mapping
from wanka.workload.model import ModelSpec

__all__ = ["load_center", "parse_center"]

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
    "tpot_ms", "framework",
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
    if isinstance(v, str):  # the one number rule of the input files (wanka.schemas)
        from wanka.schemas import as_number

        try:
            v = as_number(v)
        except ValueError:
            raise ConfigError(f"{where} must be a number, got {v!r}") from None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(f"{where} must be a number, got {v!r}")
    if positive and v <= 0:
        raise ConfigError(f"{where} must be positive, got {v!r}")
    if integer and int(v) != v:
        raise ConfigError(f"{where} must be an integer, got {v!r}")
    return int(v) if integer else float(v)


def _opt_num(where: str, v: Any, *, integer: bool = False) -> float | None:
    return None if v is None else _num(where, v, integer=integer)


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


def _goal(i: int, g: Any, base_dir: Path | None) -> Goal:
    where = f"goals[{i}]"
    g = _keys(where, g, _GOAL_KEYS)
    for k in ("model", "tokens", "deadline_days"):
        if g.get(k) is None:
            raise ConfigError(f"{where}: `{k}` is required")
    m = _model(where, g["model"], base_dir, g.get("seq_len"))
    gbs = g.get("global_batch_size")
    if gbs is None:
        gbs = 2 ** round(math.log2(DEFAULT_TOKENS_PER_STEP / m.seq_len))
    return Goal(
        id=str(g.get("id") or f"goal-{i + 1}"),
        model=m,
        tokens=_num(f"{where}.tokens", g["tokens"]),
        deadline_days=_num(f"{where}.deadline_days", g["deadline_days"]),
        global_batch_size=int(_num(f"{where}.global_batch_size", gbs, integer=True)),
        precision=str(g.get("precision") or "bf16"),
    )


def _serving(i: int, s: Any, base_dir: Path | None) -> Serving:
    where = f"serving[{i}]"
    s = _keys(where, s, _SERVE_KEYS)
    if s.get("model") is None or (s.get("tokens_per_s") is None and s.get("rate") is None):
        raise ConfigError(f"{where}: `model` and `tokens_per_s` (or `rate`) are required")
    opt = {k: _num(f"{where}.{k}", s[k]) for k in ("input_len", "output_len", "ttft_ms",
           "tpot_ms", "rate") if s.get(k) is not None}  # fmt: skip
    osl = opt.get("output_len", 256.0)
    tps = s.get("tokens_per_s")
    return Serving(
        id=str(s.get("id") or f"serve-{i + 1}"),
        model=_model(where, s["model"], base_dir, None),
        tokens_per_s=_num(f"{where}.tokens_per_s", tps) if tps is not None else opt["rate"] * osl,
        precision=str(s.get("precision") or "bf16"),
        framework=framework_name(s.get("framework") or "TensorRT-LLM", f"{where}.framework"),
        **opt,
    )


def _reliability(d: Any) -> Reliability:
    rel_in = _keys("reliability", d or {}, _REL_KEYS)
    rel_kw: dict[str, Any] = {
        k: (None if v is None else _num(f"reliability.{k}", v, positive=k != "checkpoint_save_s"))
        for k, v in rel_in.items()
    }
    return Reliability(**{k: v for k, v in rel_kw.items() if v is not None})


def _candidate(i: int, c: Any, base_dir: Path | None, base_rel: Reliability) -> Candidate:
    from wanka.catalogs import get_accelerator

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
    return Candidate(
        accelerator=acc,
        available=avail,
        unit_price_usd=_num(f"{where}.unit_price_usd", price),
        tdp_w=_num(f"{where}.tdp_w", tdp),
        reliability=rel,
    )


def _networks(d: Any) -> tuple[NetworkOption, ...]:
    from wanka.topology.fabric import TOPOLOGIES

    net = _keys("network", d or {}, _NET_KEYS)
    options = net.get("options") or ["fat-tree"]
    if isinstance(options, str):
        options = [options]
    for o in options:
        if o not in TOPOLOGIES:
            raise ConfigError(
                f"network.options: unknown topology {o!r}; choose from {', '.join(TOPOLOGIES)}"
            )
    radix = int(_num("network.radix", net.get("radix", 64), integer=True))
    over = _num("network.oversubscription", net.get("oversubscription", 1.0))
    tiers = _opt_num("network.tiers", net.get("tiers"), integer=True)
    return tuple(
        NetworkOption(
            topology=str(o),
            radix=radix,
            oversubscription=over,
            tiers=None if tiers is None else int(tiers),
        )
        for o in options
    )


def _limits(d: Any) -> Limits:
    lim = _keys("limits", d or {}, _LIMIT_KEYS)
    return Limits(
        power_mw=_opt_num("limits.power_mw", lim.get("power_mw")),
        budget_usd=_opt_num("limits.budget_usd", lim.get("budget_usd")),
    )


def _economics(d: Any) -> Economics:
    eco_in = _keys("economics", d or {}, set(Economics.__dataclass_fields__))
    free = ("facility_usd_per_mw", "node_overhead_fraction")  # may be zero
    return Economics(
        **{
            k: _num(f"economics.{k}", v, positive=k not in free)
            for k, v in eco_in.items()
            if v is not None
        }
    )


def _listed(d: dict[str, Any], key: str, what: str) -> list[Any]:
    items = d.get(key)
    if not items or not isinstance(items, list):
        raise ConfigError(f"center: `{key}` must be a non-empty list of {what}")
    return items


def _with_existing(
    site: Site, cands: tuple[Candidate, ...], limits: Limits, reliability: Reliability
) -> tuple[tuple[Candidate, ...], Limits]:
    """Candidates with the site's existing chips (free, added to what is on offer) and the site's power
    as the power limit when the centre file states none."""
    out = list(cands)
    for e in site.existing:
        i = next((j for j, c in enumerate(out) if c.accelerator.id == e.accelerator.id), None)
        if i is not None:
            c = out[i]
            out[i] = replace(c, available=c.available + e.count, existing=c.existing + e.count)
            continue
        if e.accelerator.tdp_w is None:
            raise ConfigError(f"site.existing: {e.accelerator.id} has no catalog TDP")
        out.append(
            Candidate(
                accelerator=e.accelerator,
                available=e.count,
                unit_price_usd=0.0,
                tdp_w=float(e.accelerator.tdp_w),
                reliability=reliability,
                existing=e.count,
            )
        )
    if limits.power_mw is None and site.power_mw is not None:
        limits = replace(limits, power_mw=site.power_mw)
    return tuple(out), limits


def parse_center(d: Any, *, base_dir: Path | None = None) -> CenterSpec:
    """Validate a centre mapping; every problem is a one-line ConfigError/CatalogError."""
    from wanka.schemas import check_input

    d = check_input(
        "center", d
    )  # unknown keys, wrong types; numbers as `schemas.as_number` reads them
    d = _keys("center", d, _TOP_KEYS)
    goals_in = _listed(d, "goals", "training goals")
    goals = tuple(_goal(i, g, base_dir) for i, g in enumerate(goals_in))
    serving = tuple(_serving(i, s, base_dir) for i, s in enumerate(d.get("serving") or []))
    base_rel = _reliability(d.get("reliability"))
    cands_in = _listed(d, "candidates", "accelerators")
    cands = tuple(_candidate(i, c, base_dir, base_rel) for i, c in enumerate(cands_in))
    nets = _networks(d.get("network"))
    limits = _limits(d.get("limits"))
    eco = _economics(d.get("economics"))
    cpc = int(_num("counts_per_candidate", d.get("counts_per_candidate", 5), integer=True))
    from wanka.plan.site import parse_site

    site = parse_site(d.get("site"))
    if site is not None:
        cands, limits = _with_existing(site, cands, limits, base_rel)
    return CenterSpec(
        name=str(d.get("name") or "center"),
        goals=goals,
        serving=serving,
        candidates=cands,
        networks=nets,
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
