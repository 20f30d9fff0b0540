"""Existing data-centre sites in `plan`: the `site:` block (docs/plan.md, "Existing sites").

    site:
      power_mw: 6            # facility power available to the hall
      rack_kw: 12            # power (and heat) one rack may take
      cooling: air           # air | rear-door | liquid
      racks: 400             # rack positions
      existing:              # hardware already there: no capital cost, pays power and rack space
        - {accelerator: v100-sxm, count: 1024, gpus_per_node: 8}
      upgrades:              # optional, costed per rack converted
        - {name: rear-door heat exchangers, cooling: rear-door, rack_kw: 35, usd_per_rack: 30000}

A design is placed rack by rack: each accelerator kind comes as its catalog server (`server` in
accelerators.yaml: accelerators, rack units, maximum kW, the cooling it needs). A rack takes
min(floor(rack_kw / server kW), floor(42 U / server U)) servers, with rack_kw capped by what the hall
cooling removes (`catalogs/data/sites.yaml`). A server needing better cooling than the hall has, or more
power than a rack may take, cannot be placed. When the site alone does not fit a design, the cheapest
upgrade that does is applied and priced. Designs that still do not fit are left out of the ranking and
listed with the limit that binds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from wanka.catalogs import get_accelerator, load_data
from wanka.errors import ConfigError
from wanka.hardware import COOLING, Accelerator
from wanka.plan.design import Design, rank_key
from wanka.plan.inputs import Existing, Site, Upgrade

__all__ = [
    "SITE_ASSUMPTION",
    "Existing",
    "Site",
    "Upgrade",
    "fit_designs",
    "parse_site",
    "place",
    "site_summary",
]

SITE_ASSUMPTION = (
    "site: servers placed per rack by catalog server kW and rack units against rack_kw and the hall "
    "cooling (catalogs/data/sites.yaml); existing chips cost no capital, pay power and rack space"
)

_SITE_KEYS = {"power_mw", "rack_kw", "cooling", "racks", "existing", "upgrades"}
_EXIST_KEYS = {"accelerator", "count", "gpus_per_node"}
_UPGRADE_KEYS = {"name", "cooling", "rack_kw", "usd_per_rack"}


def _pos(where: str, v: Any, integer: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise ConfigError(f"{where} must be a positive number, got {v!r}")
    if integer and int(v) != v:
        raise ConfigError(f"{where} must be an integer, got {v!r}")
    return int(v) if integer else float(v)


def _cooling(where: str, v: Any) -> str:
    if v not in COOLING:
        raise ConfigError(f"{where} must be one of {', '.join(COOLING)}, got {v!r}")
    return str(v)


def parse_site(d: Any) -> Site | None:
    """Validate a `site:` mapping (None when the centre file has none)."""
    from wanka.spec import check_mapping

    if d is None:
        return None
    d = check_mapping("site", d, _SITE_KEYS, {"rack_kw", "cooling"})
    existing = []
    for i, e in enumerate(d.get("existing") or []):
        where = f"site.existing[{i}]"
        e = check_mapping(where, e, _EXIST_KEYS, {"accelerator", "count"})
        acc = get_accelerator(str(e["accelerator"]))
        gpn = e.get("gpus_per_node") or acc.gpus_per_node
        existing.append(
            Existing(
                accelerator=acc,
                count=int(_pos(f"{where}.count", e["count"], True)),
                gpus_per_node=int(_pos(f"{where}.gpus_per_node", gpn, True)),
            )
        )
    upgrades = []
    for i, u in enumerate(d.get("upgrades") or []):
        where = f"site.upgrades[{i}]"
        u = check_mapping(where, u, _UPGRADE_KEYS, {"cooling", "rack_kw", "usd_per_rack"})
        upgrades.append(
            Upgrade(
                name=str(u.get("name") or f"upgrade-{i + 1}"),
                cooling=_cooling(f"{where}.cooling", u["cooling"]),
                rack_kw=_pos(f"{where}.rack_kw", u["rack_kw"]),
                usd_per_rack=float(u["usd_per_rack"])
                if u["usd_per_rack"] == 0
                else _pos(f"{where}.usd_per_rack", u["usd_per_rack"]),
            )
        )
    return Site(
        power_mw=None if d.get("power_mw") is None else _pos("site.power_mw", d["power_mw"]),
        rack_kw=_pos("site.rack_kw", d["rack_kw"]),
        cooling=_cooling("site.cooling", d["cooling"]),
        racks=None if d.get("racks") is None else int(_pos("site.racks", d["racks"], True)),
        existing=tuple(existing),
        upgrades=tuple(upgrades),
    )


def _hall_limits() -> tuple[dict[str, float], int]:
    data = load_data("sites.yaml")
    return {k: float(v["max_rack_kw"]) for k, v in data["cooling"].items()}, int(
        data["rack"]["units"]
    )


def place(acc: Accelerator, count: int, rack_kw: float, cooling: str) -> dict[str, Any]:
    """Racks for `count` accelerators of one kind: servers, servers per rack, racks, or the problem."""
    caps, units = _hall_limits()
    s = acc.server
    if s is None:
        return {
            "racks": math.inf,
            "problem": f"{acc.id}: no server power in the catalog (TDP unknown)",
        }
    if COOLING.index(s.cooling) > COOLING.index(cooling):
        return {
            "racks": math.inf,
            "problem": f"{acc.id} servers need {s.cooling} cooling; the hall has {cooling}",
        }
    kw = min(rack_kw, caps[cooling])
    # a server as tall as a rack (an NVL72 rack) is one rack
    per_rack = min(math.floor(kw / s.kw + 1e-9), max(1, units // s.rack_units))
    if per_rack < 1:
        return {
            "racks": math.inf,
            "problem": f"one {acc.id} server draws {s.kw:g} kW; racks take {kw:g} kW",
        }
    servers = math.ceil(count / s.accelerators)
    return {
        "racks": math.ceil(servers / per_rack),
        "servers": servers,
        "servers_per_rack": per_rack,
        "rack_kw_used": round(per_rack * s.kw, 3),
        "server_cooling": s.cooling,
        "problem": None,
    }


def _fit(site: Site, fleet: list[dict[str, Any]], rack_kw: float, cooling: str) -> dict[str, Any]:
    """Place every fleet entry; the site block of a design under one hall setting."""
    racks, kw_max, problems = 0.0, 0.0, []
    worst = "air"
    for f in fleet:
        p = place(get_accelerator(f["accelerator"]), f["count"], rack_kw, cooling)
        if p["problem"]:
            problems.append(p["problem"])
            continue
        racks += p["racks"]
        kw_max = max(kw_max, p["rack_kw_used"])
        worst = max(worst, p["server_cooling"], key=COOLING.index)
    if site.racks is not None and racks > site.racks and not problems:
        problems.append(f"needs {racks:,.0f} racks; the site has {site.racks:,}")
    return {
        "racks": None if problems and not racks else int(racks),
        "rack_kw_max": kw_max,
        "cooling": worst,
        "fits_site": not problems,
        "problem": "; ".join(problems) or None,
    }


def _site_block(site: Site, fleet: list[dict[str, Any]]) -> tuple[dict[str, Any], float]:
    """The design's site block and the upgrade capex: the site as is, else its cheapest fitting upgrade."""
    base = _fit(site, fleet, site.rack_kw, site.cooling)
    base.update({"upgrade": None, "upgrade_usd": 0.0})
    if base["fits_site"]:
        return base, 0.0
    best: tuple[dict[str, Any], float] | None = None
    for u in site.upgrades:
        if COOLING.index(u.cooling) < COOLING.index(site.cooling):
            continue
        f = _fit(site, fleet, u.rack_kw, u.cooling)
        if not f["fits_site"]:
            continue
        usd = u.usd_per_rack * f["racks"]
        f.update({"upgrade": u.name, "upgrade_usd": usd})
        if best is None or usd < best[1]:
            best = (f, usd)
    return best if best is not None else (base, 0.0)


def fit_designs(site: Site, designs: Sequence[Design]) -> tuple[list[Design], list[dict[str, Any]]]:
    """The designs the site holds, with per-fleet `existing`, what each leaves `retired`, its `site`
    block and any upgrade priced into capex, re-ranked; and the excluded ones (id, reason). A design
    without a fleet (no layout) is dropped."""
    kept, excluded = [], []
    for d in designs:
        if not d.fleet:
            continue
        fleet = tuple(
            f | {"existing": min(f["count"], site.existing_of(f["accelerator"]))} for f in d.fleet
        )
        retired = tuple(
            {"accelerator": e.accelerator.id, "count": e.count - _used(fleet, e.accelerator.id)}
            for e in site.existing
            if e.count > _used(fleet, e.accelerator.id)
        )
        block, usd = _site_block(site, list(fleet))
        if not block["fits_site"]:
            excluded.append({"id": d.id, "reason": block["problem"]})
            continue
        capex, breakdown = d.capex_usd, d.capex_breakdown
        if usd:
            capex += usd
            breakdown = {**(breakdown or {}), "site_upgrade_usd": usd}
        kept.append(
            replace(
                d,
                fleet=fleet,
                retired=retired,
                site=block,
                capex_usd=capex,
                capex_breakdown=breakdown,
            )  # fmt: skip
        )
    if not kept:
        reasons = sorted({e["reason"] for e in excluded})
        raise ConfigError(
            "no design fits the site: "
            + (reasons[0] if len(reasons) == 1 else "; ".join(reasons[:3]))
        )
    kept.sort(key=rank_key)
    return kept, excluded


def site_summary(site: Site) -> dict[str, Any]:
    """The `site` block of `plan --json`."""
    return {
        "power_mw": site.power_mw,
        "rack_kw": site.rack_kw,
        "cooling": site.cooling,
        "racks": site.racks,
        "existing": [{"accelerator": e.accelerator.id, "count": e.count} for e in site.existing],
        "upgrades": [u.name for u in site.upgrades],
    }


def _used(fleet: Sequence[dict[str, Any]], acc_id: str) -> int:
    return sum(f["count"] for f in fleet if f["accelerator"] == acc_id)
