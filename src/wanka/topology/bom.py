"""Bill of materials of a sized fabric: cost (USD) and power (W) per item from the parts catalog
(`catalogs/data/network_parts.yaml`), scale-up domains included."""

from __future__ import annotations

from dataclasses import dataclass, field

from wanka.topology.parts import PartsCatalog, scaleup_domain
from wanka.topology.sizing import Sized, SizingInputs

__all__ = ["Priced", "price"]


@dataclass(kw_only=True)
class Priced:
    """Cost and power breakdowns (USD, W), the pricing notes and the switch part used."""

    cost: dict[str, float] = field(default_factory=dict)
    power: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    estimates: set[str] = field(default_factory=set)
    """Catalog parts whose price/power is an estimate (no public source)."""
    switch_part: str | None = None
    hop_latency_s: float = 0.0
    in_network_reduction: bool = False


def _switches(raw: Sized, cat: PartsCatalog, out: Priced) -> None:
    n_sw = sum(raw.switches_per_tier)
    if not n_sw:
        return
    sw, scale, exact = cat.switch(raw.switch_radix, raw.link_bw)
    out.switch_part, out.hop_latency_s = sw.id, sw.latency_s
    out.in_network_reduction = sw.in_network_reduction
    out.cost["switches"] = n_sw * sw.price_usd * scale
    out.power["switches"] = n_sw * sw.power_w * scale
    if not exact:
        out.notes.append(
            f"no catalog switch is radix {raw.switch_radix} at {raw.link_bw * 8 / 1e9:g} Gb/s: "
            f"{sw.id} price/power scaled by switching capacity x{scale:.3g}"
        )
    if sw.estimated:
        out.estimates.add(sw.id)


def _cables(raw: Sized, cat: PartsCatalog, out: Priced) -> None:
    """Optics (two per optical link), fibre (one per optical link) and copper cables."""
    optic, oscale = cat.optic(raw.link_bw)
    out.cost["transceivers"] = 2 * raw.optical_links * optic.price_usd * oscale
    out.power["transceivers"] = 2 * raw.optical_links * optic.power_w * oscale
    out.cost["fiber"] = raw.optical_links * cat.fiber.price_usd
    if raw.optical_links and optic.estimated:
        out.estimates.add(optic.id)
    copper = raw.copper_links.items()
    out.cost["copper_cables"] = sum(cat.copper[kind].price_usd * c for kind, c in copper)
    out.power["copper_cables"] = sum(cat.copper[kind].power_w * c for kind, c in copper)
    for kind, c in copper:
        if c and cat.copper[kind].estimated:
            out.estimates.add(cat.copper[kind].id)


def _nics(raw: Sized, cat: PartsCatalog, out: Priced) -> None:
    if not raw.nics:
        return
    ports = raw.nic_ports_per_nic
    nic, nscale = cat.nic(raw.link_bw * ports if ports <= 8 else raw.link_bw)
    units = raw.nics * (ports if ports > 8 else 1)  # full mesh: a NIC per port
    out.cost["nics"] = units * nic.price_usd * nscale
    out.power["nics"] = units * nic.power_w * nscale
    if nic.estimated:
        out.estimates.add(nic.id)


def _ocs(raw: Sized, cat: PartsCatalog, out: Priced) -> None:
    n_ocs = -(-raw.ocs_ports // cat.ocs_usable_ports) if raw.ocs_ports else 0
    if n_ocs:
        out.cost["ocs"] = n_ocs * cat.ocs.price_usd
        out.power["ocs"] = n_ocs * cat.ocs.power_w
        out.estimates.add(cat.ocs.id)


def _scaleup(inp: SizingInputs, out: Priced) -> None:
    if not inp.scaleup:
        return
    dom = scaleup_domain(inp.scaleup)
    n_dom = -(-inp.endpoints // dom.accelerators)
    out.cost["scaleup_switches"] = n_dom * dom.switch_chips * dom.switch_chip_price_usd
    out.power["scaleup_switches"] = n_dom * dom.switch_chips * dom.switch_chip_power_w
    out.cost["scaleup_cables"] = n_dom * dom.cables * dom.cable_price_usd
    out.power["scaleup_cables"] = n_dom * dom.cables * dom.cable_power_w
    out.notes.append(
        f"scale-up {dom.id}: {n_dom:,} domains of {dom.accelerators} ({dom.name}); cost and power "
        "in scaleup_* entries, included in cost_usd/power_w"
    )
    if dom.estimated:
        out.estimates.add(dom.id)


def price(raw: Sized, inp: SizingInputs) -> Priced:
    """Cost and power of every item of `raw` (and of the scale-up domains) and the priced assumptions."""
    out = Priced()
    _switches(raw, inp.catalog, out)
    _cables(raw, inp.catalog, out)
    _nics(raw, inp.catalog, out)
    _ocs(raw, inp.catalog, out)
    _scaleup(inp, out)
    if out.estimates:
        out.notes.append(
            "estimated prices/power (no public source, catalog confidence low): "
            + ", ".join(sorted(out.estimates))
        )
    return out
