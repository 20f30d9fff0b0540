"""Sizing each topology in closed form: switches, links, NICs, optics, bisection links and diameter
before pricing (`bom.price`). One builder per topology, registered in `TOPOLOGIES`."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from wanka.errors import ConfigError
from wanka.hardware import Accelerator
from wanka.topology.bisection import clos_bisection_links, leaf_sides, single_group_bisection
from wanka.topology.clos import MAX_TIERS, _clos_capacity, _split, _tapers, clos_counts
from wanka.topology.parts import PartsCatalog

__all__ = ["TOPOLOGIES", "Sized", "SizingInputs", "dragonfly_shape", "torus_dims"]

RACK_ACCELERATORS = 32
"""Accelerators per rack for the copper rule: 4 x 8-GPU servers at about 10 kW each (DGX H100 ~10.2 kW,
research/network.md §2.2) fill a ~40 kW rack."""
TORUS_CUBE = 4
"""Side of the copper-connected torus block (TPU v4: 4x4x4 cubes, Jouppi et al. ISCA 2023)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SizingInputs:
    topology: str
    endpoints: int
    radix: int
    tiers: int | None
    rails: int
    rails_given: bool
    oversubscription: float | tuple[float, ...]
    link_bw: float
    accelerator: Accelerator | None
    scaleup: str | None
    planes: int
    dims: tuple[int, ...] | int | None
    gpus_per_node: int
    catalog: PartsCatalog
    spread: str = "even"


@dataclass(kw_only=True)
class Sized:
    """Topology-specific counts before pricing."""

    tiers: int
    switches_per_tier: tuple[int, ...]
    links_per_tier: tuple[int, ...]
    optical_links: int
    copper_links: dict[str, int]
    nics: int
    nic_ports_per_nic: int = 1
    ocs_ports: int = 0
    max_endpoints: int
    bisection_links: float
    diameter_hops: int
    link_bw: float
    switch_radix: int
    oversubscription: tuple[float, ...] = ()
    rails: int | None = None
    dims: tuple[int, ...] | None = None
    notes: list[str] = field(default_factory=list)


def _fewest_tiers(
    fits: Callable[[int], bool], what: str, tiers: int | None, cap: Callable[[int], int]
) -> int:
    if tiers is not None:
        if not fits(tiers):
            raise ConfigError(
                f"{what} needs more than {tiers} tier(s): the maximum is {cap(tiers):,} endpoints"
            )
        return tiers
    for n in range(1, MAX_TIERS + 1):
        if fits(n):
            return n
    raise ConfigError(
        f"{what} does not fit in {MAX_TIERS} tiers (maximum {cap(MAX_TIERS):,} endpoints)"
    )


def _clos_raw(
    inp: SizingInputs, n_hosts: int, k: int, link_bw: float, *, host_copper: bool
) -> Sized:
    """A plain folded Clos over n_hosts endpoints (fat-tree; one plane of multi-plane; one rail)."""
    over = inp.oversubscription
    if inp.tiers is not None:
        _tapers(over, inp.tiers)  # a taper list longer than the tiers below the top: say so

    def d1_of(n: int) -> int:
        if n == 1:
            return k
        first = over if isinstance(over, (int, float)) else over[0]
        return _split(k, float(first))[0]

    def cap(n: int) -> int:
        if not isinstance(over, (int, float)) and len(over) > max(n - 1, 0):
            return 0  # a taper listed for more tiers than n has: n cannot be the answer
        return _clos_capacity(k, n, d1_of(n), over)

    n = _fewest_tiers(
        lambda t: n_hosts <= cap(t), f"{n_hosts:,} endpoints on radix-{k} switches", inp.tiers, cap
    )
    d1 = d1_of(n)
    leaves = -(-n_hosts // d1)
    cc = clos_counts(leaves, n_hosts, radix=k, tiers=n, oversubscription=over, spread=inp.spread)
    copper_host = host_copper and d1 <= RACK_ACCELERATORS
    host_links = cc.links_per_tier[0]
    return Sized(
        tiers=n,
        switches_per_tier=cc.switches_per_tier,
        links_per_tier=cc.links_per_tier,
        optical_links=sum(cc.links_per_tier) - (host_links if copper_host else 0),
        copper_links={"dac": host_links if copper_host else 0},
        nics=n_hosts,
        max_endpoints=cap(n),
        bisection_links=clos_bisection_links(
            *leaf_sides(n_hosts, d1), k=k, n=n, oversubscription=over, spread=inp.spread
        ),
        diameter_hops=2 * n,
        link_bw=link_bw,
        switch_radix=k,
        oversubscription=_tapers(over, n),
        notes=[
            f"host links {'copper (DAC): the leaf is top-of-rack' if copper_host else 'optical'}"
            + (
                f" ({d1} hosts per leaf <= {RACK_ACCELERATORS} per rack)"
                if copper_host
                else f" ({d1} hosts per leaf span racks)"
            )
        ],
    )


def _full_mesh(inp: SizingInputs) -> Sized:
    """Every endpoint wired to every other: N(N-1)/2 links, no switches (research/network.md §1.1)."""
    n, g = inp.endpoints, inp.gpus_per_node
    links = n * (n - 1) // 2  # N(N-1)/2
    full_nodes, rem = divmod(n, g)
    intra = (
        full_nodes * g * (g - 1) // 2 + rem * (rem - 1) // 2
    )  # pairs inside a node: board/copper
    return Sized(
        tiers=0,
        switches_per_tier=(),
        links_per_tier=(links,),
        optical_links=links - intra,
        copper_links={"dac": intra},
        nics=n,
        nic_ports_per_nic=max(n - 1, 0),
        max_endpoints=n,
        bisection_links=float((n // 2) * (n - n // 2)),  # N^2/4 links cross any balanced cut
        diameter_hops=1 if n > 1 else 0,
        link_bw=inp.link_bw,
        switch_radix=0,
        notes=[
            "full mesh: N-1 NIC ports per endpoint, each at the link speed; in-node pairs copper"
        ],
    )


def _fat_tree(inp: SizingInputs) -> Sized:
    """Folded Clos with ToR leaves (module docstring)."""
    return _clos_raw(inp, inp.endpoints, inp.radix, inp.link_bw, host_copper=True)


def _rail_optimized(inp: SizingInputs) -> Sized:
    """DGX SuperPOD rail-optimized Clos: per scalable unit one leaf per rail (NIC i of every node of the
    SU on leaf i), spines join all rails (NVIDIA DGX SuperPOD RA, Network Fabrics)."""
    r, k, over = min(inp.rails, inp.endpoints), inp.radix, inp.oversubscription  # no empty rails
    nodes = -(-inp.endpoints // r)
    if inp.tiers is not None:
        _tapers(over, inp.tiers)

    def d1_of(n: int) -> int:
        first = over if isinstance(over, (int, float)) else over[0]
        return _split(k, float(first))[0] if n > 1 else k

    def cap(n: int) -> int:
        if n == 1 or (not isinstance(over, (int, float)) and len(over) > n - 1):
            return 0
        return _clos_capacity(k, n, d1_of(n), over, rails=r)

    n = _fewest_tiers(
        lambda t: t > 1 and inp.endpoints <= cap(t),
        f"rail-optimized {inp.endpoints:,} endpoints ({r} rails, radix {k})",
        inp.tiers,
        cap,
    )
    d1 = d1_of(n)
    leaves = r * -(-nodes // d1)  # one leaf per rail per SU
    cc = clos_counts(
        leaves, inp.endpoints, radix=k, tiers=n, oversubscription=over, spread=inp.spread
    )
    return Sized(
        tiers=n,
        switches_per_tier=cc.switches_per_tier,
        links_per_tier=cc.links_per_tier,
        optical_links=sum(cc.links_per_tier),
        copper_links={},
        nics=inp.endpoints,
        max_endpoints=cap(n),
        bisection_links=clos_bisection_links(
            *leaf_sides(inp.endpoints, d1, r), k=k, n=n, oversubscription=over, spread=inp.spread
        ),
        diameter_hops=2 * n,
        link_bw=inp.link_bw,
        switch_radix=k,
        oversubscription=_tapers(over, n),
        rails=r,
        notes=[f"rail-optimized: scalable unit = {d1} nodes x {r} rails; all links optical"],
    )


def _rail_only(inp: SizingInputs) -> Sized:
    """Rail-only (Wang, Ghobadi et al., arXiv 2307.12169): one independent Clos per rail, no spine across
    rails; cross-rail traffic is forwarded over the scale-up domain."""
    r, k = min(inp.rails, inp.endpoints), inp.radix  # no empty rails
    nodes = -(-inp.endpoints // r)
    big_rails = inp.endpoints - (nodes - 1) * r  # rails with a port on the last node
    big = _clos_raw(inp, nodes, k, inp.link_bw, host_copper=False)
    inp_fixed = replace(inp, tiers=big.tiers)
    small = (
        _clos_raw(inp_fixed, nodes - 1, k, inp.link_bw, host_copper=False)
        if nodes > 1 and big_rails < r
        else None
    )
    parts = [(big, big_rails)] + ([(small, r - big_rails)] if small else [])
    spt = tuple(sum(p.switches_per_tier[i] * m for p, m in parts) for i in range(big.tiers))
    lpt = tuple(sum(p.links_per_tier[i] * m for p, m in parts) for i in range(big.tiers))
    d1 = _split(k, big.oversubscription[0])[0] if big.tiers > 1 else k
    bis = 0.0
    for i in range(r):  # rail i: nodes with a port i; side A = host index < N/2
        n_i = -(-(inp.endpoints - i) // r)
        if n_i > 0:
            a_i = max(0, min(n_i, -(-(inp.endpoints // 2 - i) // r)))
            bis += clos_bisection_links(
                *leaf_sides(n_i, d1, half=a_i),
                k=k,
                n=big.tiers,
                oversubscription=inp.oversubscription,
                spread=inp.spread,
            )
    return Sized(
        tiers=big.tiers,
        switches_per_tier=spt,
        links_per_tier=lpt,
        optical_links=sum(lpt),
        copper_links={},
        nics=inp.endpoints,
        max_endpoints=big.max_endpoints * r,
        bisection_links=bis,
        diameter_hops=2 * big.tiers + 1,
        link_bw=inp.link_bw,
        switch_radix=k,
        oversubscription=big.oversubscription,
        rails=r,
        notes=[
            (
                f"rail-only: {r} independent {big.tiers}-tier rails of {nodes:,} nodes; no spine "
                "across rails, cross-rail traffic takes one scale-up hop (counted in diameter_hops)"
            ),
            (
                "bisection: host-index halves within every rail; cross-rail bytes also need "
                "scale-up bandwidth"
            ),
        ],
    )


def _multi_plane(inp: SizingInputs) -> Sized:
    """Multi-plane (Alibaba HPN, Qian et al. SIGCOMM 2024: dual-plane, dual-ToR): each endpoint's NIC
    bandwidth is split over P ports to P independent Clos planes; the same switch ASIC is split into P x
    more ports at 1/P the speed, so each plane reaches more endpoints per tier."""
    p = inp.planes
    k = inp.radix * p
    plane = _clos_raw(replace(inp, radix=k), inp.endpoints, k, inp.link_bw / p, host_copper=False)
    spt = tuple(x * p for x in plane.switches_per_tier)
    lpt = tuple(x * p for x in plane.links_per_tier)
    return Sized(
        tiers=plane.tiers,
        switches_per_tier=spt,
        links_per_tier=lpt,
        optical_links=sum(lpt),
        copper_links={},
        nics=inp.endpoints,
        nic_ports_per_nic=p,
        max_endpoints=plane.max_endpoints,
        bisection_links=plane.bisection_links * p,
        diameter_hops=plane.diameter_hops,
        link_bw=inp.link_bw / p,
        switch_radix=k,
        oversubscription=plane.oversubscription,
        notes=[
            (
                f"multi-plane: {p} planes, each a radix-{k} Clos at {inp.link_bw / p * 8 / 1e9:g} "
                f"Gb/s (radix-{inp.radix} ASIC split {p} ways); one {p}-port NIC per endpoint; "
                "all links optical"
            )
        ],
    )


def dragonfly_shape(radix: int) -> tuple[int, int, int]:
    """(p, a, h) of a balanced dragonfly router of radix k: k >= p + (a-1) + h with a = 2p = 2h
    (Kim, Dally, Scott, Abts, ISCA 2008), i.e. p = h = floor((k+1)/4), a = 2p."""
    p = (radix + 1) // 4
    if p < 1:
        raise ConfigError(f"a dragonfly router needs radix >= 3, got {radix}")
    return p, 2 * p, p


def _dragonfly_counts(n: int, radix: int) -> dict[str, Any]:
    """Routers, groups, local and global links of a balanced dragonfly holding n endpoints.

    Groups are all-to-all inside (a(a-1)/2 local links, Kim et al. 2008); every pair of full groups gets
    m = max(1, floor(a h / (g-1))) global links (all global ports used); a partial last group of a'
    routers spreads min(a' h, (g-1) m) global links round-robin over the other groups.
    """
    p, a, h = dragonfly_shape(radix)
    g_max = a * h + 1  # Kim et al.: g <= a h + 1
    routers = -(-n // p)
    g = -(-routers // a)
    if g > g_max:
        raise ConfigError(
            f"{n:,} endpoints exceed the {a * p * g_max:,} a radix-{radix} dragonfly holds "
            f"(p={p}, a={a}, h={h}, at most {g_max} groups)"
        )
    a_last = routers - (g - 1) * a
    local = (g - 1) * a * (a - 1) // 2 + a_last * (a_last - 1) // 2
    m = max(1, (a * h) // (g - 1)) if g > 1 else 0
    full_pairs = (g - 1) * (g - 2) // 2 if a_last < a else g * (g - 1) // 2
    if a_last < a and g > 1:
        last_links = min(a_last * h, (g - 1) * m)
        global_links = full_pairs * m + last_links
    else:
        last_links = 0
        global_links = full_pairs * m
    return {
        "p": p,
        "a": a,
        "h": h,
        "routers": routers,
        "groups": g,
        "a_last": a_last,
        "local": local,
        "global": global_links,
        "m": m,
        "last_links": last_links,
        "g_max": g_max,
    }


def _dragonfly(inp: SizingInputs) -> Sized:
    c = _dragonfly_counts(inp.endpoints, inp.radix)
    p, a, g, m = c["p"], c["a"], c["groups"], c["m"]
    partial = c["a_last"] < a
    # bisection: first g//2 groups vs the rest; crossing global links (module docstring of graphs.py)
    g1 = g // 2
    if g <= 1:
        cross = single_group_bisection(inp.endpoints, p, c["routers"])
        hosts_a = inp.endpoints // 2
    else:
        n_full = g - 1 if partial else g
        cross = g1 * (n_full - g1) * m
        if partial:
            q, rmd = divmod(c["last_links"], g - 1)  # partial group: round-robin over groups 0..g-2
            to_a = sum(q + (1 if j < rmd else 0) for j in range(g1))
            hosts_last = inp.endpoints - (g - 1) * a * p
            # what crosses into the partial group ends at its hosts or transits on to B groups
            cross += min(to_a, hosts_last + (c["last_links"] - to_a))
        hosts_a = g1 * a * p
        cross = min(cross, hosts_a, inp.endpoints - hosts_a)
    direct = g <= 1 or (not partial or c["a_last"] * c["h"] >= g - 1)
    diameter = (2 if c["routers"] == 1 else 3) if g <= 1 else (5 if direct else 7)
    return Sized(
        tiers=1,
        switches_per_tier=(c["routers"],),
        links_per_tier=(inp.endpoints, c["local"], c["global"]),
        optical_links=c["global"],
        copper_links={"dac": inp.endpoints, "aec": c["local"]},
        nics=inp.endpoints,
        max_endpoints=a * p * c["g_max"],
        bisection_links=float(cross),
        diameter_hops=diameter,
        link_bw=inp.link_bw,
        switch_radix=inp.radix,
        notes=[
            (
                f"dragonfly: p={p} endpoints, a={a} routers, h={c['h']} global ports per router "
                f"(balanced a = 2p = 2h, Kim et al. ISCA 2008); {g} groups, {m} global links per "
                "group pair"
            ),
            (
                "dragonfly links_per_tier = [host-router, local (copper AEC, in-cabinet), global "
                "(optical)]; bisection = global links between the first g//2 groups and the rest"
            ),
        ],
    )


def torus_dims(n: int, ndims: int = 3) -> tuple[int, ...]:
    """The most balanced factorisation of n into `ndims` factors (largest last ratio smallest)."""
    best: tuple[int, ...] | None = None

    def rec(rem: int, left: int, lo: int, acc: tuple[int, ...]) -> None:
        nonlocal best
        if left == 1:
            if rem >= lo:
                cand = acc + (rem,)
                if best is None or (cand[-1] / cand[0], cand[-1]) < (best[-1] / best[0], best[-1]):
                    best = cand
            return
        f = lo
        while f**left <= rem:
            if rem % f == 0:
                rec(rem // f, left - 1, f, acc + (f,))
            f += 1

    rec(n, ndims, 1, ())
    assert best is not None
    return best


def _torus(inp: SizingInputs) -> Sized:
    """k-ary n-cube with wrap-around (research/network.md §1.1): each ring of size k_d > 2 adds N links
    (k_d = 2: N/2, k_d = 1: none); diameter sum floor(k_d/2); bisection cutting the longest ring
    dimension 2N/k_max links (N/2 when k_max = 2). 3D: TPU v4 style 4x4x4 copper cubes whose
    face links run through optical circuit switches (2 OCS ports per link; Jouppi et al. ISCA 2023)."""
    n = inp.endpoints
    if isinstance(inp.dims, tuple):
        dims = tuple(sorted(inp.dims))
        if math.prod(dims) != n:
            raise ConfigError(
                f"torus dims {'x'.join(map(str, inp.dims))} hold {math.prod(dims):,} endpoints, not {n:,}"
            )
    else:
        dims = torus_dims(n, inp.dims or 3)
    per_dim = [0 if kd == 1 else (n // 2 if kd == 2 else n) for kd in dims]
    links = sum(per_dim)
    c = TORUS_CUBE
    cross = [0 if kd <= c else (n // kd) * -(-kd // c) for kd in dims]  # rings x cube boundaries
    optical = sum(cross)
    use_ocs = len(dims) >= 3 and optical > 0
    kmax = dims[-1]
    bis = 0.0 if kmax == 1 else float(n // 2 if kmax == 2 else 2 * n // kmax)
    return Sized(
        tiers=0,
        switches_per_tier=(),
        links_per_tier=tuple(per_dim),
        optical_links=optical,
        copper_links={"dac": links - optical},
        nics=0,
        ocs_ports=2 * optical if use_ocs else 0,
        max_endpoints=n,
        bisection_links=bis,
        diameter_hops=sum(kd // 2 for kd in dims),
        link_bw=inp.link_bw,
        switch_radix=0,
        dims=dims,
        notes=[
            (
                f"torus {'x'.join(map(str, dims))}: router in the accelerator (no NIC, no switch), "
                f"{2 * len(dims)} ports per endpoint at the link speed"
            ),
            f"links inside {c}-wide blocks copper; block-crossing links optical"
            + (" through optical circuit switches (TPU v4 style)" if use_ocs else ""),
        ],
    )


TOPOLOGIES: dict[str, Callable[[SizingInputs], Sized]] = {
    "full-mesh": _full_mesh,
    "fat-tree": _fat_tree,
    "rail-optimized": _rail_optimized,
    "rail-only": _rail_only,
    "multi-plane": _multi_plane,
    "dragonfly": _dragonfly,
    "torus": _torus,
}
"""Registry of topology builders (closed form), keyed by the CLI name."""
