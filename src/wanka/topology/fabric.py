"""Interconnect designer: closed-form counts, cost and power of scale-out fabrics.

`design_fabric(topology, endpoints, ...)` sizes one fabric in closed form (microseconds, any size)
and prices it from the parts catalog (`catalogs/data/network_parts.yaml`). `graphs.build_graph`
builds the same fabric as a networkx graph for small instances, and the tests check that the graph's
node/edge counts and min-cut bisection equal the closed forms used here.

Glossary: an *endpoint* is one accelerator's scale-out port (one NIC per accelerator); a *tier* is a
level of switches, tier 1 = leaf; *radix* k = switch ports at the link speed; *link* = one cable
(bidirectional); *taper* = oversubscription r = downlinks:uplinks of a switch. Bandwidths are per
direction, SI inside (bytes/s); the JSON edge converts to GB/s (1e9 bytes/s).

The topologies are sized in `topology.sizing` (folded Clos arithmetic in `topology.clos`, bisection
max-flow in `topology.bisection`) and priced in `topology.bom`; this module validates the inputs, puts
the pieces together into a `FabricDesign` and hands it to the collective model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from wanka.errors import ConfigError
from wanka.hardware import Accelerator
from wanka.topology.bom import Priced, price
from wanka.topology.clos import (
    DEFAULT_SPREAD,
    MAX_TIERS,
    SPREADS,
    ClosCounts,
    _cap_leaves,
    _check_spread,
    _ports,
    _split,
    clos_counts,
)
from wanka.topology.parts import SCALEUP_IDS, parts_catalog, scaleup_domain
from wanka.topology.sizing import TOPOLOGIES, Sized, SizingInputs, dragonfly_shape, torus_dims
from wanka.units import GB, gbit_per_s

__all__ = [
    "DEFAULT_SPREAD",
    "MAX_TIERS",
    "REFERENCE_BYTES",
    "SPREADS",
    "TOPOLOGIES",
    "ClosCounts",
    "FabricDesign",
    "clos_counts",
    "compare_fabrics",
    "design_fabric",
    "dragonfly_shape",
    "fabric_tier",
    "reference_collectives",
    "torus_dims",
]

DEFAULT_LINK_GBIT = 400.0
"""Link speed when neither `link_gbit` nor an accelerator's NIC speed is given (NDR/400GbE)."""
REFERENCE_BYTES = 1 << 30
"""Message size of the reference all-reduce / all-to-all in `compare` (1 GiB per rank)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FabricDesign:
    """One sized and priced fabric; SI units (bytes/s, watts, USD, seconds)."""

    topology: str
    endpoints: int
    tiers: int
    radix: int
    rails: int | None
    planes: int
    dims: tuple[int, ...] | None
    oversubscription: tuple[float, ...]
    """Down:up ratio per switch tier below the top (leaf first)."""
    spread: str | None
    """Top-tier rule of a folded Clos ("fewest" | "even"); None for topologies without a Clos."""
    link_bw_bytes_per_s: float
    """Per-direction bandwidth of one fabric link (a plane link for multi-plane)."""
    endpoint_bw_bytes_per_s: float
    """Per-direction scale-out bandwidth of one endpoint (all planes)."""
    switches: int
    switches_per_tier: tuple[int, ...]
    links: int
    links_per_tier: tuple[int, ...]
    optical_links: int
    copper_links: int
    transceivers: int
    nics: int
    ocs: int
    max_endpoints: int
    """Most endpoints this topology holds at the chosen tiers/radix/shape."""
    bisection_bytes_per_s: float
    diameter_hops: int
    """Worst-case links on a shortest endpoint-to-endpoint path (rail-only: + 1 scale-up hop)."""
    hop_latency_s: float
    in_network_reduction: bool
    switch_part: str | None
    scaleup: str | None
    scaleup_domains: int
    accelerator: str | None
    accelerator_price_usd: float | None
    cost_breakdown: dict[str, float]
    power_breakdown: dict[str, float]
    assumptions: tuple[str, ...] = field(default_factory=tuple)

    @property
    def cost_usd(self) -> float:
        """Scale-out fabric plus scale-up domains (both itemised in `cost_breakdown`)."""
        return float(sum(self.cost_breakdown.values()))

    @property
    def power_w(self) -> float:
        return float(sum(self.power_breakdown.values()))

    @property
    def fabric_cost_per_accelerator_usd(self) -> float:
        return self.cost_usd / self.endpoints

    @property
    def network_share_of_capex(self) -> float | None:
        """Fabric cost / (fabric + accelerators at catalog price); None without a price.

        Capex here is accelerators plus network only: servers, storage and facility are excluded.
        """
        if not self.accelerator_price_usd:
            return None
        return self.cost_usd / (self.cost_usd + self.endpoints * self.accelerator_price_usd)

    def fabric_tier(self) -> Any:
        """This fabric as the collective model's `FabricTier` (see `fabric_tier`)."""
        return fabric_tier(self)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON contract of `wanka fabric design --json` (GB/s = 1e9 bytes/s)."""
        share = self.network_share_of_capex
        return {
            "topology": self.topology,
            "endpoints": self.endpoints,
            "tiers": self.tiers,
            "radix": self.radix,
            "rails": self.rails,
            "planes": self.planes,
            "dims": list(self.dims) if self.dims else None,
            "oversubscription": list(self.oversubscription),
            "spread": self.spread,
            "switches": self.switches,
            "switches_per_tier": list(self.switches_per_tier),
            "links": self.links,
            "links_per_tier": list(self.links_per_tier),
            "optical_links": self.optical_links,
            "copper_links": self.copper_links,
            "transceivers": self.transceivers,
            "nics": self.nics,
            "ocs": self.ocs,
            "max_endpoints": self.max_endpoints,
            "link_gb_s": self.link_bw_bytes_per_s / GB,
            "bisection_gb_s": self.bisection_bytes_per_s / GB,
            "diameter_hops": self.diameter_hops,
            "hop_latency_s": self.hop_latency_s,
            "in_network_reduction": self.in_network_reduction,
            "switch_part": self.switch_part,
            "scaleup": self.scaleup,
            "scaleup_domains": self.scaleup_domains,
            "accelerator": self.accelerator,
            "cost_usd": round(self.cost_usd, 2),
            "cost_breakdown": {k: round(v, 2) for k, v in self.cost_breakdown.items()},
            "power_w": round(self.power_w, 2),
            "power_breakdown": {k: round(v, 2) for k, v in self.power_breakdown.items()},
            "fabric_cost_per_accelerator": round(self.fabric_cost_per_accelerator_usd, 2),
            "network_share_of_capex": None if share is None else round(share, 6),
            "assumptions": list(self.assumptions),
        }


def _default_scaleup(acc: Accelerator | None) -> str | None:
    if acc is None:
        return None
    name = acc.scaleup_name.lower()
    if acc.scaleup_domain == 384:
        return "cloudmatrix384"
    if acc.scaleup_domain == 72 and "nvlink" in name:
        return "nvl72"
    if acc.scaleup_domain == 8 and "nvlink" in name and "nvswitch" in name:
        return "nvlink8"
    if acc.scaleup_domain == 8 and "hccs" in name:
        return "hccs8"
    return None


_SPREAD_NOTE = {
    "fewest": (
        "switch counts: folded Clos, top tier by the fewest rule: ceil(n_sub x uplinks / radix) top "
        "switches per plane, uplinks dealt round-robin (some top switches get one more parallel link "
        "from a lower switch); textbook Clos arithmetic; partial pods counted switch by switch"
    ),
    "even": (
        "switch counts: folded Clos, top tier by the balance rule: the smallest divisor of the uplinks "
        "with enough ports, so every lower switch spreads its uplinks evenly (NVIDIA DGX SuperPOD "
        "tables); partial pods counted switch by switch"
    ),
}


def design_fabric(
    topology: str,
    endpoints: int,
    *,
    radix: int = 64,
    tiers: int | None = None,
    rails: int | None = None,
    oversubscription: float | Sequence[float] = 1.0,
    accelerator: Accelerator | str | None = None,
    link_gbit: float | None = None,
    scaleup: str | None = "auto",
    planes: int = 2,
    dims: Sequence[int] | int | None = None,
    spread: str | None = None,
) -> FabricDesign:
    """Size and price one fabric in closed form (no graph; cheap at any size).

    Args:
        topology: a key of `TOPOLOGIES` (full-mesh, fat-tree, rail-optimized, rail-only, multi-plane,
            dragonfly, torus).
        endpoints: accelerators (one scale-out port each), >= 1.
        radix: switch ports k at the link speed (even), default 64 (25.6 Tb/s at 400G).
        tiers: switch tiers; None = the fewest that hold `endpoints`.
        rails: rails for rail-optimized / rail-only; default the accelerator's GPUs per node, else 8.
        oversubscription: down:up taper; a scalar applies to the leaf, a list to tiers from the leaf up.
        accelerator: catalog id or record: sets the link speed (its NIC), rails, price and scale-up.
        link_gbit: link speed in Gb/s (overrides the accelerator's NIC speed; default 400).
        scaleup: nvlink8 | nvl72 | cloudmatrix384 | hccs8 | None; "auto" = from the accelerator.
        planes: planes of multi-plane (default 2, dual-plane like Alibaba HPN).
        dims: torus shape (e.g. (16, 16, 16)) or its number of dimensions (2 or 3; default 3).
        spread: top-tier rule of the Clos-based topologies, "fewest" (ceil(n_sub u / k) top switches
            per plane, uplinks dealt round-robin: textbook folded Clos) or "even" (smallest divisor of
            the uplinks u: every lower switch spreads its uplinks evenly, NVIDIA SuperPOD); None = the
            topology's default (`DEFAULT_SPREAD`: fat-tree, rail-only, multi-plane "fewest",
            rail-optimized "even"). Ignored by full-mesh, dragonfly and torus.

    Raises:
        ConfigError: unknown topology or spread, odd or too-small radix, sizes <= 0, more endpoints than the chosen
            tiers hold (the message names the maximum).
    """
    _check_args(topology, endpoints, radix, tiers, rails, planes)
    if spread is not None:
        _check_spread(spread)
    _check_link(radix, oversubscription, link_gbit)
    clos_spread = (spread or DEFAULT_SPREAD[topology]) if topology in DEFAULT_SPREAD else None
    acc = accelerator
    if isinstance(acc, str):
        from wanka.catalogs import get_accelerator

        acc = get_accelerator(acc)
    if link_gbit is not None:
        link_bw = gbit_per_s(link_gbit)
    elif acc is not None and acc.scaleout_bw_bytes_per_s > 0:
        link_bw = acc.scaleout_bw_bytes_per_s
    else:
        link_bw = gbit_per_s(DEFAULT_LINK_GBIT)
    gpn = acc.gpus_per_node if acc is not None else 8
    inp = SizingInputs(
        topology=topology,
        endpoints=int(endpoints),
        radix=radix,
        tiers=tiers,
        rails=rails or gpn,
        rails_given=rails is not None,
        oversubscription=oversubscription
        if isinstance(oversubscription, (int, float))
        else tuple(oversubscription),
        link_bw=link_bw,
        accelerator=acc,
        scaleup=_scaleup_of(scaleup, acc),
        planes=planes,
        dims=_dims_of(dims),
        gpus_per_node=gpn,
        catalog=parts_catalog(),
        spread=clos_spread or "even",
    )
    raw = TOPOLOGIES[topology](inp)
    nic_note = acc is not None and link_gbit is None and acc.scaleout_bw_bytes_per_s > 0
    nic_of = acc.id if nic_note and acc is not None else None
    notes = _assumptions(raw, topology, nic_of, clos_spread, spread is None)
    return _assemble(inp, raw, price(raw, inp), notes, clos_spread)


def _check_args(
    topology: str,
    endpoints: int,
    radix: int,
    tiers: int | None,
    rails: int | None,
    planes: int,
) -> None:
    """One-line ConfigErrors for arguments no topology accepts."""
    if topology not in TOPOLOGIES:
        raise ConfigError(f"unknown topology {topology!r}; choose from {', '.join(TOPOLOGIES)}")
    if isinstance(endpoints, bool) or int(endpoints) != endpoints or endpoints <= 0:
        raise ConfigError(f"endpoints must be a positive integer, got {endpoints!r}")
    if radix <= 0 or radix % 2:
        raise ConfigError(f"radix must be a positive even number of switch ports, got {radix}")
    if radix < 4 and topology not in ("full-mesh", "torus"):
        raise ConfigError(f"radix must be at least 4, got {radix}")
    if tiers is not None and (tiers <= 0 or tiers > MAX_TIERS):
        raise ConfigError(f"tiers must be between 1 and {MAX_TIERS}, got {tiers}")
    if rails is not None and rails <= 0:
        raise ConfigError(f"rails must be positive, got {rails}")
    if planes <= 0:
        raise ConfigError(f"planes must be positive, got {planes}")


def _check_link(
    radix: int, oversubscription: float | Sequence[float], link_gbit: float | None
) -> None:
    overs = (
        [oversubscription] if isinstance(oversubscription, (int, float)) else list(oversubscription)
    )
    for r in overs:
        if not (r > 0) or _split(radix, r)[0] < 1 or _split(radix, r)[1] < 1:
            raise ConfigError(
                f"oversubscription must be > 0 and leave at least one down and one up port on a "
                f"radix-{radix} switch, got {r}"
            )
    if link_gbit is not None and link_gbit <= 0:
        raise ConfigError(f"link speed must be positive, got {link_gbit} Gb/s")


def _scaleup_of(scaleup: str | None, acc: Accelerator | None) -> str | None:
    su = (
        _default_scaleup(acc)
        if scaleup == "auto"
        else (None if scaleup in (None, "none") else scaleup)
    )
    if su is not None and su not in SCALEUP_IDS:
        raise ConfigError(
            f"unknown scale-up domain {su!r}; choose from {', '.join(SCALEUP_IDS)} or none"
        )
    return su


def _dims_of(dims: Sequence[int] | int | None) -> tuple[int, ...] | int | None:
    """A torus shape, or its number of dimensions (1 to 6), or None."""
    if isinstance(dims, Sequence):
        shape = tuple(int(d) for d in dims)
        if any(d <= 0 for d in shape) or not shape:
            raise ConfigError(f"torus dims must be positive, got {dims}")
        return shape
    dims_v = dims if dims is None else int(dims)
    if dims_v is not None and dims_v not in (1, 2, 3, 4, 5, 6):
        raise ConfigError(f"torus dimensions must be 1 to 6, got {dims}")
    return dims_v


def _assumptions(
    raw: Sized, topology: str, nic_of: str | None, clos_spread: str | None, default_spread: bool
) -> list[str]:
    spread_note = ""
    if clos_spread:
        spread_note = _SPREAD_NOTE[clos_spread] + (
            " (default for " + topology + ")" if default_spread else " (--spread)"
        )
    return raw.notes + [
        f"link {raw.link_bw * 8 / 1e9:g} Gb/s per direction"
        + (f" (the {nic_of} NIC)" if nic_of else ""),
        "transceivers: two per optical link; one fibre per optical link; switch-switch links optical",
        spread_note,
        "capex share = fabric / (fabric + accelerators at catalog price); servers and facility excluded",
    ]


def _assemble(
    inp: SizingInputs, raw: Sized, priced: Priced, notes: list[str], clos_spread: str | None
) -> FabricDesign:
    planes = inp.planes if inp.topology == "multi-plane" else 1
    su, acc = inp.scaleup, inp.accelerator
    return FabricDesign(
        topology=inp.topology,
        endpoints=inp.endpoints,
        tiers=raw.tiers,
        radix=raw.switch_radix,
        rails=raw.rails,
        planes=planes,
        dims=raw.dims,
        oversubscription=raw.oversubscription,
        spread=clos_spread,
        link_bw_bytes_per_s=raw.link_bw,
        endpoint_bw_bytes_per_s=raw.link_bw * planes,
        switches=sum(raw.switches_per_tier),
        switches_per_tier=raw.switches_per_tier,
        links=sum(raw.links_per_tier),
        links_per_tier=raw.links_per_tier,
        optical_links=raw.optical_links,
        copper_links=sum(raw.copper_links.values()),
        transceivers=2 * raw.optical_links,
        nics=raw.nics,
        ocs=-(-raw.ocs_ports // inp.catalog.ocs_usable_ports) if raw.ocs_ports else 0,
        max_endpoints=raw.max_endpoints,
        bisection_bytes_per_s=raw.bisection_links * raw.link_bw,
        diameter_hops=raw.diameter_hops,
        hop_latency_s=priced.hop_latency_s,
        in_network_reduction=priced.in_network_reduction,
        switch_part=priced.switch_part,
        scaleup=su,
        scaleup_domains=-(-inp.endpoints // scaleup_domain(su).accelerators) if su else 0,
        accelerator=acc.id if acc is not None else None,
        accelerator_price_usd=acc.price_usd if acc is not None else None,
        cost_breakdown=priced.cost,
        power_breakdown=priced.power,
        assumptions=tuple(a for a in notes + priced.notes if a),
    )


# --------------------------------------------------------------------------------------------------
# Collective model hand-off and the side-by-side comparison


def fabric_tier(design: FabricDesign) -> Any:
    """The collective model's `FabricTier` (wanka.topology.collective) for this design.

    Tapers become (accelerators under full bisection, down:up) pairs: a Clos tier-t taper applies above
    a tier-t block of hosts_per_leaf x leaves-per-block endpoints; a dragonfly's global links act as a
    taper 2 x endpoint bandwidth / (2 x bisection / N) above one group. Switch hops on the worst path:
    2n - 1 for an n-tier Clos, 3 routers for a dragonfly, 1 per step for direct (mesh, torus) links.
    """
    from wanka.topology import collective  # same layer; imported lazily

    tiers_acc: list[int] = []
    overs: list[float] = []
    if (
        design.topology in ("fat-tree", "rail-optimized", "rail-only", "multi-plane")
        and design.tiers > 1
    ):
        k = design.radix
        down, up = _ports(k, design.oversubscription)
        cap = _cap_leaves(k, down, design.tiers)
        d1 = down[1]
        for t in range(1, design.tiers):
            r = d1 / up[1] if t == 1 else down[t] / up[t]
            block = d1 * cap[t] * (design.rails or 1 if design.topology == "rail-only" else 1)
            if r > 1.0 + 1e-9 and block < design.endpoints:
                tiers_acc.append(int(block))
                overs.append(float(r))
    elif design.topology == "dragonfly" and design.endpoints > 1:
        p, a, _ = dragonfly_shape(design.radix)
        share = 2 * design.bisection_bytes_per_s / design.endpoints
        r = design.endpoint_bw_bytes_per_s / share if share > 0 else 1.0
        if r > 1.0 + 1e-9 and a * p < design.endpoints:
            tiers_acc.append(a * p)
            overs.append(float(r))
    hops = {"full-mesh": 1.0, "torus": 1.0, "dragonfly": 3.0}.get(
        design.topology, float(max(2 * design.tiers - 1, 1))
    )
    return collective.FabricTier(
        topology=design.topology,
        bw_bytes_per_s=design.endpoint_bw_bytes_per_s,
        tier_accelerators=tuple(tiers_acc),
        oversubscription=tuple(overs),
        hops=hops,
        in_network_reduction=design.in_network_reduction,
        torus_dims=len(design.dims) if design.dims else 3,
    )


def reference_collectives(
    design: FabricDesign, accelerator: Accelerator | None, nbytes: int = REFERENCE_BYTES
) -> dict[str, Any]:
    """Times (s) of a reference all-reduce and all-to-all of `nbytes` per rank over all endpoints.

    Both come from `wanka.topology.collective`, the one collective model: with an accelerator,
    `collective_time` on this design's `FabricTier` (hierarchical alpha-beta model, NCCL tuner
    constants); without one (no scale-up data), its `bandwidth_bound`.
    """
    n = design.endpoints
    if accelerator is not None:
        from wanka.topology import collective

        tier = fabric_tier(design)
        gpn = accelerator.gpus_per_node
        ar = float(
            collective.collective_time("all-reduce", nbytes, n, gpn, accelerator, fabric=tier)
        )
        a2a = float(
            collective.collective_time("all-to-all", nbytes, n, gpn, accelerator, fabric=tier)
        )
        return {"allreduce_s": ar, "alltoall_s": a2a, "model": "wanka.topology.collective"}
    from wanka.topology.collective import bandwidth_bound

    ar, a2a = bandwidth_bound(
        nbytes,
        n,
        endpoint_bw=design.endpoint_bw_bytes_per_s,
        bisection_bw=design.bisection_bytes_per_s,
        diameter_hops=design.diameter_hops,
        hop_latency_s=design.hop_latency_s,
    )
    return {"allreduce_s": ar, "alltoall_s": a2a, "model": "bandwidth bound"}


def compare_fabrics(
    endpoints: int,
    *,
    accelerator: Accelerator | str | None = None,
    radix: int = 64,
    link_gbit: float | None = None,
    scaleup: str | None = "auto",
    topologies: Sequence[str] | None = None,
    spread: str | None = None,
) -> list[FabricDesign]:
    """Every topology (or the given ones) at the same size, in registry order.

    `spread` (None = each topology's default) applies to the Clos-based topologies only."""
    out = []
    for name in topologies or TOPOLOGIES:
        out.append(
            design_fabric(
                name,
                endpoints,
                radix=radix,
                accelerator=accelerator,
                link_gbit=link_gbit,
                scaleup=scaleup,
                spread=spread,
            )
        )
    return out
