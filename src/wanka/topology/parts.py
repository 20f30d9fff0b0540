"""The priced network parts catalog (`catalogs/data/network_parts.yaml`) as frozen records.

Every price and wattage in the catalog carries its source, date and a confidence (high / medium /
low = estimate with no public source). `estimates_used` lets a design name the low-confidence
numbers it relied on in its `assumptions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from wanka.catalogs import check_keys, load_data
from wanka.errors import CatalogError, ConfigError
from wanka.units import gbit_per_s

__all__ = [
    "SCALEUP_IDS",
    "Part",
    "PartsCatalog",
    "ScaleupDomain",
    "SwitchPart",
    "parts_catalog",
    "scaleup_domain",
]

SCALEUP_IDS = ("nvlink8", "nvl72", "cloudmatrix384", "hccs8")

_PRICE_KEYS = {"price_usd", "price_source", "price_date", "price_confidence"}
_POWER_KEYS = {"power_w", "power_source", "power_date", "power_confidence"}
_CONF = {"high", "medium", "low"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """A priced part: one optic, copper cable, NIC, fibre or OCS."""

    id: str
    price_usd: float
    power_w: float
    bw_bytes_per_s: float
    """Line rate per direction (0 when not a data-rate part, e.g. fibre)."""
    ports: int
    """Ports (OCS); 1 otherwise."""
    source: str
    """Price and power sources with dates, one line."""
    estimated: bool
    """True when the price or the power has no public source (confidence: low)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchPart:
    """A packet switch model: radix at a port speed, price, power, latency."""

    id: str
    name: str
    radix: int
    port_bw_bytes_per_s: float
    price_usd: float
    power_w: float
    latency_s: float
    in_network_reduction: bool
    source: str
    estimated: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaleupDomain:
    """A scale-up domain kind (NVLink 8, NVL72, CloudMatrix 384, HCCS 8): counts per domain."""

    id: str
    name: str
    accelerators: int
    switch_chips: int
    switch_chip_price_usd: float
    switch_chip_power_w: float
    cables: int
    cable_price_usd: float
    cable_power_w: float
    source: str
    estimated: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PartsCatalog:
    """Every part `fabric` prices, by kind."""

    switches: tuple[SwitchPart, ...]
    optics: tuple[Part, ...]
    copper: dict[str, Part]
    fiber: Part
    nics: tuple[Part, ...]
    ocs: Part
    ocs_usable_ports: int
    scaleup: dict[str, ScaleupDomain]

    def switch(self, radix: int, port_bw_bytes_per_s: float) -> tuple[SwitchPart, float, bool]:
        """The switch model for (radix, port speed): (part, cost/power scale factor, exact match).

        An exact (radix, speed) or a breakout of the same ASIC (radix x speed equal to the part's
        capacity, e.g. 128 x 400G on a 64 x 800G chip) has scale 1; otherwise the nearest part's
        price and power are scaled by switching capacity (radix x speed), which the caller states.
        """
        cap = radix * port_bw_bytes_per_s
        for s in self.switches:
            if s.radix == radix and abs(s.port_bw_bytes_per_s - port_bw_bytes_per_s) < 1:
                return s, 1.0, True
        for s in self.switches:  # the same ASIC with its ports split (breakout cables)
            split = s.port_bw_bytes_per_s / port_bw_bytes_per_s
            if abs(s.radix * s.port_bw_bytes_per_s - cap) < 1 and abs(split - round(split)) < 1e-9:
                return s, 1.0, True
        best = min(self.switches, key=lambda s: abs(s.radix * s.port_bw_bytes_per_s - cap))
        return best, cap / (best.radix * best.port_bw_bytes_per_s), False

    def _by_speed(self, table: tuple[Part, ...], bw: float) -> tuple[Part, float]:
        """The part of the nearest speed >= bw (or the fastest), and a price scale for a mismatch."""
        for p in sorted(table, key=lambda p: p.bw_bytes_per_s):
            if p.bw_bytes_per_s >= bw - 1:
                return p, 1.0
        top = max(table, key=lambda p: p.bw_bytes_per_s)
        return top, bw / top.bw_bytes_per_s

    def optic(self, bw: float) -> tuple[Part, float]:
        """The optic for a link of `bw` bytes/s per direction, and a scale factor if none matches."""
        return self._by_speed(self.optics, bw)

    def nic(self, bw: float) -> tuple[Part, float]:
        """The NIC for `bw` bytes/s per endpoint per direction, and a scale factor if none matches."""
        return self._by_speed(self.nics, bw)


def _src(d: dict[str, Any]) -> tuple[str, bool]:
    for k in ("price_confidence", "power_confidence"):
        if k in d and d[k] not in _CONF:
            raise CatalogError(f"network part {d.get('id')!r}: {k} must be one of {sorted(_CONF)}")
    text = f"price: {d['price_source']} ({d['price_date']})"
    if "power_source" in d:
        text += f"; power: {d['power_source']} ({d['power_date']})"
    est = d.get("price_confidence") == "low" or d.get("power_confidence") == "low"
    return text, est


def _part(d: dict[str, Any], extra: set[str], *, ports: int = 1) -> Part:
    check_keys(
        f"network part {d.get('id')!r}",
        d,
        {"id", "name", "gbit"} | _PRICE_KEYS | _POWER_KEYS | extra,
        {"id"} | _PRICE_KEYS,
    )
    text, est = _src(d)
    return Part(
        id=d["id"],
        price_usd=float(d["price_usd"]),
        power_w=float(d.get("power_w", 0.0)),
        bw_bytes_per_s=gbit_per_s(d.get("gbit", 0)),
        ports=ports,
        source=text,
        estimated=est,
    )


def _switches(rows: list[dict[str, Any]]) -> list[SwitchPart]:
    """The `switches` rows of network_parts.yaml, checked."""
    sw_keys = (
        {"id", "name", "radix", "port_gbit", "in_network_reduction", "latency_s"}
        | _PRICE_KEYS
        | _POWER_KEYS
    )
    switches = []
    for d in rows:
        check_keys(f"switch {d.get('id')!r}", d, sw_keys, sw_keys)
        if d["radix"] <= 0 or d["radix"] % 2:
            raise CatalogError(
                f"switch {d['id']!r}: radix must be a positive even number, got {d['radix']}"
            )
        text, est = _src(d)
        switches.append(
            SwitchPart(
                id=d["id"],
                name=d["name"],
                radix=int(d["radix"]),
                port_bw_bytes_per_s=gbit_per_s(d["port_gbit"]),
                price_usd=float(d["price_usd"]),
                power_w=float(d["power_w"]),
                latency_s=float(d["latency_s"]),
                in_network_reduction=bool(d["in_network_reduction"]),
                source=text,
                estimated=est,
            )
        )
    return switches


def _scaleup_domains(rows: list[dict[str, Any]]) -> dict[str, ScaleupDomain]:
    """The `scaleup` rows of network_parts.yaml, checked, by id."""
    su_keys = {
        "id",
        "name",
        "accelerators",
        "switch_chips",
        "switch_chip_price_usd",
        "switch_chip_power_w",
        "cables",
        "cable_price_usd",
        "cable_power_w",
        "source",
        "date",
        "confidence",
    }
    scaleup = {}
    for d in rows:
        check_keys(f"scale-up domain {d.get('id')!r}", d, su_keys, su_keys)
        scaleup[d["id"]] = ScaleupDomain(
            id=d["id"],
            name=d["name"],
            accelerators=int(d["accelerators"]),
            switch_chips=int(d["switch_chips"]),
            switch_chip_price_usd=float(d["switch_chip_price_usd"]),
            switch_chip_power_w=float(d["switch_chip_power_w"]),
            cables=int(d["cables"]),
            cable_price_usd=float(d["cable_price_usd"]),
            cable_power_w=float(d["cable_power_w"]),
            source=f"{d['source']} ({d['date']})",
            estimated=d["confidence"] == "low",
        )
    return scaleup


@cache
def parts_catalog() -> PartsCatalog:
    """Load and check `network_parts.yaml` once."""
    raw = load_data("network_parts.yaml")
    check_keys(
        "network_parts.yaml",
        raw,
        {"switches", "optics", "copper", "fiber", "nics", "ocs", "scaleup"},
        {"switches", "optics", "copper", "fiber", "nics", "ocs", "scaleup"},
    )
    switches = _switches(raw["switches"])
    ocs_raw = dict(raw["ocs"])
    usable = int(ocs_raw.pop("usable_ports"))
    n_ports = int(ocs_raw.pop("ports"))
    scaleup = _scaleup_domains(raw["scaleup"])
    if set(scaleup) != set(SCALEUP_IDS):
        raise CatalogError(
            f"network_parts.yaml scaleup ids {sorted(scaleup)} != {sorted(SCALEUP_IDS)}"
        )
    return PartsCatalog(
        switches=tuple(switches),
        optics=tuple(_part(d, set()) for d in raw["optics"]),
        copper={d["id"]: _part(d, set()) for d in raw["copper"]},
        fiber=_part(raw["fiber"], set()),
        nics=tuple(_part(d, set()) for d in raw["nics"]),
        ocs=_part(ocs_raw, set(), ports=n_ports),
        ocs_usable_ports=usable,
        scaleup=scaleup,
    )


def scaleup_domain(name: str) -> ScaleupDomain:
    """A scale-up domain kind by id; ConfigError naming the valid ids."""
    cat = parts_catalog().scaleup
    if name not in cat:
        raise ConfigError(
            f"unknown scale-up domain {name!r}; choose from {', '.join(SCALEUP_IDS)} or none"
        )
    return cat[name]
