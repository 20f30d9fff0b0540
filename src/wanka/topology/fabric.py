"""Interconnect designer: closed-form counts, cost and power of scale-out fabrics.

`design_fabric(topology, endpoints, ...)` sizes one fabric in closed form (microseconds, any size)
and prices it from the parts catalog (`catalogs/data/network_parts.yaml`). `graphs.build_graph`
builds the same fabric as a networkx graph for small instances, and the tests check that the graph's
node/edge counts and min-cut bisection equal the closed forms used here.

Glossary: an *endpoint* is one accelerator's scale-out port (one NIC per accelerator); a *tier* is a
level of switches, tier 1 = leaf; *radix* k = switch ports at the link speed; *link* = one cable
(bidirectional); *taper* = oversubscription r = downlinks:uplinks of a switch. Bandwidths are per
direction, SI inside (bytes/s); the JSON edge converts to GB/s (1e9 bytes/s).

Folded Clos rule (fat-tree, rail-optimized, rail-only, multi-plane): a tier-t block groups up to
`down_t` tier-(t-1) blocks; switch j of every sub-block connects to "plane" j of the block. Below the
top, a plane always has u switches (one link from each sub-block switch to each: Al-Fares pods keep
k/2 aggregation switches). The TOP tier of a plane joining n_sub lower switches with u uplinks each
follows one of two rules (`spread`):
    "fewest": c = ceil(n_sub * u / k)                                              (fewest rule)
        the fewest top switches with enough ports: each lower switch deals its u uplinks round-robin
        over the c top switches (one shared counter per plane), so when c does not divide u some top
        switches get one more parallel link from a given lower switch than others, and no top switch
        has more than k links. This is the textbook folded-Clos arithmetic: at full pods it is the
        pro-rata count (2n-1)(k/2)^(n-1) x N / (2(k/2)^n) of Al-Fares et al. (SIGCOMM 2008), e.g.
        10,240 endpoints on k=64 in 3 tiers = 10 pods -> 320 + 320 + 160 = 800 switches, and
        10,000 on k=144 in 2 tiers -> 139 leaf + 70 spine = 209 (research/network.md §1.1).
    "even": c = min{d | u mod d == 0, d >= ceil(n_sub * u / k)}                    (balance rule)
        the smallest divisor of u with enough ports, so every lower switch spreads its uplinks evenly
        (u/c parallel links per top switch). This is NVIDIA DGX SuperPOD practice: H100 RA Table 4:
        760 GPUs -> 24 leaf + 16 spine (fewest: 12); B300 XDR k=144 RA Table 3: 4 SU -> 32 leaf +
        18 spine (fewest: 16), 8 SU -> 64 + 36 (fewest: 32). Same numbers: 10,240 -> 896, 10,000 -> 211.
Defaults (`DEFAULT_SPREAD`): fat-tree "fewest" (textbook Clos); rail-optimized "even" (the SuperPOD
tables it reproduces); rail-only and multi-plane "fewest" (each rail / plane is a plain fat-tree; their
published rows are full rails, where both rules agree). Both rules agree whenever c divides u, e.g. at
full blocks (Al-Fares exactly: 2(k/2)^n hosts on (2n-1)(k/2)^(n-1) switches) and for B200: 8,192 GPUs
-> 256 + 256 + 128. With the balance rule the top tier is non-blocking; with the fewest rule the uneven
multiplicities can block saturated lower switches, and the bisection closed form (`_clos_bisection_links`)
then takes the exact max-flow of one top plane. Both equal the networkx max-flow of the built graph
(`graphs.build_graph`, same round-robin wiring; property tests draw both rules).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import accumulate
from typing import Any

import numpy as np

from wanka.errors import ConfigError
from wanka.hardware import Accelerator
from wanka.topology.parts import SCALEUP_IDS, PartsCatalog, parts_catalog, scaleup_domain
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

MAX_TIERS = 6
"""Deepest folded Clos searched when `tiers` is not given."""
DEFAULT_LINK_GBIT = 400.0
"""Link speed when neither `link_gbit` nor an accelerator's NIC speed is given (NDR/400GbE)."""
RACK_ACCELERATORS = 32
"""Accelerators per rack for the copper rule: 4 x 8-GPU servers at about 10 kW each (DGX H100 ~10.2 kW,
research/network.md §2.2) fill a ~40 kW rack."""
TORUS_CUBE = 4
"""Side of the copper-connected torus block (TPU v4: 4x4x4 cubes, Jouppi et al. ISCA 2023)."""
REFERENCE_BYTES = 1 << 30
"""Message size of the reference all-reduce / all-to-all in `compare` (1 GiB per rank)."""
SPREADS = ("fewest", "even")
"""Top-tier rules of a folded Clos (module docstring): fewest top switches, or uplinks spread evenly."""
DEFAULT_SPREAD = {
    "fat-tree": "fewest",
    "rail-optimized": "even",
    "rail-only": "fewest",
    "multi-plane": "fewest",
}
"""Top-tier rule per Clos-based topology when `spread` is not given (module docstring: why)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClosCounts:
    """Switch and link counts of one folded Clos (closed form)."""

    tiers: int
    switches_per_tier: tuple[int, ...]
    """Leaf tier first."""
    links_per_tier: tuple[int, ...]
    """Host-leaf links first, then leaf-spine, spine-core, ..."""
    max_leaves: int
    """Leaves the chosen tiers can hold."""
    spread: str = "even"
    """Top-tier rule used: "fewest" or "even" (module docstring)."""


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

    def to_json(self) -> dict[str, Any]:
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


# --------------------------------------------------------------------------------------------------
# Folded Clos in closed form


def _split(k: int, r: float) -> tuple[int, int]:
    """(down, up) ports of a radix-k switch with down:up taper r (r = 1: k/2 and k/2)."""
    down = math.floor(k * r / (r + 1.0) + 1e-9)  # 1e-9: floor tolerance for r = 1
    return down, k - down


def _balanced(u: int, need: int) -> int:
    """Smallest divisor of u that is >= need (the balance rule in the module docstring)."""
    for d in range(max(need, 1), u + 1):
        if u % d == 0:
            return d
    return u


def _top_switches(u: int, need: int, spread: str) -> int:
    """Top switches of one plane whose lower switches need `need` top switches' worth of ports."""
    return max(need, 1) if spread == "fewest" else _balanced(u, need)


def _check_spread(spread: str) -> str:
    if spread not in SPREADS:
        raise ConfigError(f"unknown spread {spread!r}; choose from {', '.join(SPREADS)}")
    return spread


def _tapers(oversubscription: float | Sequence[float], n: int) -> tuple[float, ...]:
    """Per-tier taper for tiers 1..n-1: a scalar applies to the leaf only; a list from the leaf up."""
    if isinstance(oversubscription, (int, float)):
        seq = [float(oversubscription)]
    else:
        seq = [float(x) for x in oversubscription]
    if len(seq) > max(n - 1, 1):
        raise ConfigError(
            f"{len(seq)} oversubscription values given for a {n}-tier fabric "
            f"(at most {max(n - 1, 1)}: one per tier below the top)"
        )
    seq += [1.0] * (n - 1 - len(seq))
    return tuple(seq[: max(n - 1, 0)])


def _ports(k: int, tapers: tuple[float, ...]) -> tuple[list[int], list[int]]:
    """down[t], up[t] for t = 1..n-1 (index 0 unused); the top tier has k down ports."""
    down, up = [0], [0]
    for r in tapers:
        d, u = _split(k, r)
        down.append(d)
        up.append(u)
    return down, up


def _cap_leaves(k: int, down: list[int], n: int) -> list[int]:
    """cap[t]: leaves one tier-t block holds (cap[1] = 1; the top tier holds k sub-blocks)."""
    cap = [0, 1]
    for t in range(2, n + 1):
        cap.append(cap[t - 1] * (k if t == n else down[t]))
    return cap


def clos_counts(
    leaves: int,
    hosts: int,
    *,
    radix: int,
    tiers: int,
    oversubscription: float | Sequence[float] = 1.0,
    spread: str = "even",
) -> ClosCounts:
    """Switches and links per tier of an n-tier folded Clos holding `leaves` leaf switches.

    Args:
        leaves: leaf switches (tier 1) that must be joined, >= 1.
        hosts: endpoints on those leaves (the host-leaf link count).
        radix: switch ports k (even).
        tiers: n >= 1; with n = 1 the single switch is the leaf (`leaves` must be 1).
        oversubscription: taper per tier below the top (scalar: leaf only).
        spread: top-tier rule, "even" (balance rule, the default here: NVIDIA SuperPOD tables) or
            "fewest" (ceil(n_sub u / k) per plane: textbook Clos); see the module docstring.

    Full blocks: (2n-1)(k/2)^(n-1) switches for 2(k/2)^n hosts (Al-Fares et al. SIGCOMM 2008,
    generalised, either rule); partial blocks by the chosen top-tier rule.
    """
    n, k = tiers, radix
    _check_spread(spread)
    if n == 1:
        if leaves != 1:
            raise ConfigError(f"a 1-tier fabric is one switch; {leaves} leaves need more tiers")
        return ClosCounts(
            tiers=1, switches_per_tier=(1,), links_per_tier=(hosts,), max_leaves=1, spread=spread
        )
    tapers = _tapers(oversubscription, n)
    down, up = _ports(k, tapers)
    cap = _cap_leaves(k, down, n)
    if leaves > cap[n]:
        raise ConfigError(f"{leaves} leaves exceed the {cap[n]} a {n}-tier radix-{k} Clos can join")
    memo: dict[tuple[int, int], tuple[tuple[int, ...], int]] = {}

    def block(t: int, m: int) -> tuple[tuple[int, ...], int]:
        """(switches per tier 1..t, tier-t switches) of a tier-t block joining m leaves."""
        if t == 1:
            return (1,), 1
        if (t, m) in memo:
            return memo[(t, m)]
        nfull, rem = divmod(m, cap[t - 1])
        full, p_full = block(t - 1, cap[t - 1]) if nfull else ((0,) * (t - 1), 0)
        part, p_part = block(t - 1, rem) if rem else ((0,) * (t - 1), 0)
        u, d_t = up[t - 1], (k if t == n else down[t])
        planes = p_full if nfull else p_part
        hi = p_part if rem else 0  # planes that also reach the partial sub-block
        lo = planes - hi
        if (
            t < n
        ):  # a pod (any non-top block) keeps all u switches per plane: Al-Fares pods, SuperPOD
            c_hi, c_lo = (u if hi else 0), (u if lo else 0)
        else:  # the top tier: fewest or balance rule (`spread`)
            c_hi = _top_switches(u, -(-(nfull + 1) * u // d_t), spread) if hi else 0
            c_lo = _top_switches(u, -(-nfull * u // d_t), spread) if lo else 0
        top = hi * c_hi + lo * c_lo
        counts = tuple(nfull * a + b for a, b in zip(full, part)) + (top,)
        memo[(t, m)] = (counts, top)
        return counts, top

    sw, _ = block(n, leaves)
    links = (hosts,) + tuple(sw[t - 1] * up[t] for t in range(1, n))
    return ClosCounts(
        tiers=n, switches_per_tier=sw, links_per_tier=links, max_leaves=cap[n], spread=spread
    )


def _clos_capacity(
    k: int, n: int, d1: int, oversubscription: float | Sequence[float], rails: int = 1
) -> int:
    """Endpoints an n-tier Clos holds with d1 hosts per leaf (rail-optimized: rails leaves per SU)."""
    if n == 1:
        return k if rails == 1 else 0
    down, _ = _ports(k, _tapers(oversubscription, n))
    cap = _cap_leaves(k, down, n)[n]
    return (cap // rails) * rails * d1


def _clos_bisection_links(
    leaf_a: np.ndarray,
    leaf_b: np.ndarray,
    *,
    k: int,
    n: int,
    oversubscription: float | Sequence[float],
    spread: str = "even",
) -> float:
    """Links across the bisection of a Clos whose leaf l holds leaf_a[l] side-A and leaf_b[l] side-B hosts.

    Max-flow by levels (exact for the wiring of `clos_counts`, checked against networkx max-flow in
    tests): inside every block, A and B excess is matched first (it needs no uplink), what is left goes
    up, capped by the block's uplinks (switches x up ports; a taper r:1 divides it by r, research/network.md
    §1.6). The top tier: with the balance rule (or whenever c divides u) every lower switch has u/c links
    to every top switch of its plane and the top is non-blocking: min(A, B) of what reached it. With the
    fewest rule and c not dividing u the round-robin multiplicities (q or q+1 parallel links) can block
    when the lower switches are saturated (no spare uplinks to bounce through), so the top flow is then
    the exact max-flow of one plane (`_top_plane_flow`): the P planes are identical and plane-symmetric,
    so an optimal flow splits every block's excess evenly over them and the top flow is that of one plane
    with P x multiplicities. Vectorised over leaves (numpy).
    """
    a = leaf_a.astype(np.float64)
    b = leaf_b.astype(np.float64)
    if n == 1:
        return float(np.minimum(a, b).sum())
    down, up = _ports(k, _tapers(oversubscription, n))
    cap = _cap_leaves(k, down, n)
    flow = 0.0
    n_leaves = len(a)
    sizes = np.ones(n_leaves, dtype=np.int64)  # leaves per block at this tier
    for t in range(1, n):
        m = np.minimum(a, b)
        flow += float(m.sum())
        # tier-t switches of each block: 1 leaf, then u_{t-1} x those of the block's largest child
        sw = _block_switches(sizes, t, cap, up)
        u_cap = sw * up[t]
        a = np.minimum(a - m, u_cap)
        b = np.minimum(b - m, u_cap)
        if t == n - 1 and spread == "fewest":
            c = -(-len(a) * up[t] // k)
            if up[t] % c and a.sum() > 0 and b.sum() > 0:  # uneven round-robin top tier
                key = (tuple(a.astype(np.int64).tolist()), tuple(b.astype(np.int64).tolist()))
                return flow + _top_plane_flow(*key, u=up[t], c=c, planes=int(sw.max()))
        grp = np.arange(len(sizes)) * cap[t] // cap[t + 1]  # parent block (tier t+1)
        a = np.asarray(np.bincount(grp, weights=a), dtype=np.float64)
        b = np.asarray(np.bincount(grp, weights=b), dtype=np.float64)
        sizes = np.bincount(grp, weights=sizes).astype(np.int64)
    return flow + float(min(a.sum(), b.sum()))


@functools.lru_cache(maxsize=4096)
def _top_plane_flow(
    a: tuple[int, ...], b: tuple[int, ...], *, u: int, c: int, planes: int
) -> float:
    """Max-flow across the top tier of the fewest rule: block i has a[i] A-excess and b[i] B-excess (one
    of them zero) and, in each of `planes` identical planes, a switch whose u uplinks are dealt round-robin
    over the plane's c top switches (q = u // c links to each, one more to e = u % c of them, starting
    where the previous block's extra links stopped: the wiring of `graphs._clos`). Plane-symmetric, so
    one plane with planes x multiplicities carries the whole flow. Exact (Dinic, small: <= k + u nodes).
    """
    m = len(a)
    q, e = divmod(u, c)
    src, dst = m + c, m + c + 1
    graph: list[list[list[int]]] = [
        [] for _ in range(m + c + 2)
    ]  # edge = [to, cap, index of reverse]

    def arc(x: int, y: int, cap_xy: int, cap_yx: int) -> None:
        graph[x].append([y, cap_xy, len(graph[y])])
        graph[y].append([x, cap_yx, len(graph[x]) - 1])

    nxt = 0
    for i in range(m):
        extra = {(nxt + r) % c for r in range(e)}
        nxt = (nxt + e) % c
        for j in range(c):
            w = planes * (q + (j in extra))
            arc(i, m + j, w, w)
        if a[i] > 0:
            arc(src, i, a[i], 0)
        elif b[i] > 0:
            arc(i, dst, b[i], 0)
    total = 0
    while True:  # Dinic: BFS levels, DFS blocking flow
        level = [-1] * len(graph)
        level[src] = 0
        queue = [src]
        for x in queue:
            for y, cap_, _ in graph[x]:
                if cap_ > 0 and level[y] < 0:
                    level[y] = level[x] + 1
                    queue.append(y)
        if level[dst] < 0:
            return float(total)
        it = [0] * len(graph)
        while f := _push(graph, level, it, dst, src, 1 << 62):
            total += f


def _push(
    graph: list[list[list[int]]], level: list[int], it: list[int], dst: int, x: int, f: int
) -> int:
    """One augmenting path of Dinic's blocking flow from `x` (depth-first along the levels)."""
    if x == dst:
        return f
    while it[x] < len(graph[x]):
        edge = graph[x][it[x]]
        y, cap_, rev = edge
        if cap_ > 0 and level[y] == level[x] + 1:
            got = _push(graph, level, it, dst, y, min(f, cap_))
            if got:
                edge[1] -= got
                graph[y][rev][1] += got
                return got
        it[x] += 1
    return 0


def _block_switches(sizes: np.ndarray, t: int, cap: list[int], up: list[int]) -> np.ndarray:
    """Tier-t switches of tier-t blocks joining `sizes` leaves (non-top tiers keep u per plane)."""
    if t == 1:
        return np.ones(len(sizes), dtype=np.float64)
    largest_child = np.minimum(sizes, cap[t - 1])
    return up[t - 1] * _block_switches(largest_child, t - 1, cap, up)


def _leaf_sides(
    n_hosts: int, d1: int, rails: int = 1, half: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(A hosts, B hosts) per leaf; A = the first floor(N/2) host indices.

    rails == 1: leaves hold d1 consecutive hosts. rails > 1 (rail-optimized): host = node * rails + rail,
    leaf (SU s, rail i) holds rail i of the d1 nodes of SU s, leaves ordered SU-major.
    """
    half = n_hosts // 2 if half is None else half
    if rails == 1:
        lo = np.arange(0, n_hosts, d1)
        hi = np.minimum(lo + d1, n_hosts)
        a = np.clip(half - lo, 0, hi - lo)
        return a, (hi - lo) - a
    nodes = -(-n_hosts // rails)
    su = np.repeat(np.arange(-(-nodes // d1)), rails)
    rail = np.tile(np.arange(rails), len(su) // rails)
    first, last = su * d1, np.minimum(su * d1 + d1, nodes)  # node range of the leaf's SU
    n_rail = -(-(n_hosts - rail) // rails)  # nodes that have this rail
    a_nodes = -(-(half - rail) // rails)  # nodes whose rail-i host is in A
    hosts = np.clip(np.minimum(last, n_rail) - first, 0, None)
    a = np.clip(np.minimum(last, a_nodes) - first, 0, hosts)
    return a, hosts - a


# --------------------------------------------------------------------------------------------------
# Inputs and the common finishing step (cost, power, scale-up)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Inputs:
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
class _Raw:
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


def _clos_raw(inp: _Inputs, n_hosts: int, k: int, link_bw: float, *, host_copper: bool) -> _Raw:
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
    return _Raw(
        tiers=n,
        switches_per_tier=cc.switches_per_tier,
        links_per_tier=cc.links_per_tier,
        optical_links=sum(cc.links_per_tier) - (host_links if copper_host else 0),
        copper_links={"dac": host_links if copper_host else 0},
        nics=n_hosts,
        max_endpoints=cap(n),
        bisection_links=_clos_bisection_links(
            *_leaf_sides(n_hosts, d1), k=k, n=n, oversubscription=over, spread=inp.spread
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


def _full_mesh(inp: _Inputs) -> _Raw:
    """Every endpoint wired to every other: N(N-1)/2 links, no switches (research/network.md §1.1)."""
    n, g = inp.endpoints, inp.gpus_per_node
    links = n * (n - 1) // 2  # N(N-1)/2
    full_nodes, rem = divmod(n, g)
    intra = (
        full_nodes * g * (g - 1) // 2 + rem * (rem - 1) // 2
    )  # pairs inside a node: board/copper
    return _Raw(
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


def _fat_tree(inp: _Inputs) -> _Raw:
    """Folded Clos with ToR leaves (module docstring)."""
    return _clos_raw(inp, inp.endpoints, inp.radix, inp.link_bw, host_copper=True)


def _rail_optimized(inp: _Inputs) -> _Raw:
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
    return _Raw(
        tiers=n,
        switches_per_tier=cc.switches_per_tier,
        links_per_tier=cc.links_per_tier,
        optical_links=sum(cc.links_per_tier),
        copper_links={},
        nics=inp.endpoints,
        max_endpoints=cap(n),
        bisection_links=_clos_bisection_links(
            *_leaf_sides(inp.endpoints, d1, r), k=k, n=n, oversubscription=over, spread=inp.spread
        ),
        diameter_hops=2 * n,
        link_bw=inp.link_bw,
        switch_radix=k,
        oversubscription=_tapers(over, n),
        rails=r,
        notes=[f"rail-optimized: scalable unit = {d1} nodes x {r} rails; all links optical"],
    )


def _rail_only(inp: _Inputs) -> _Raw:
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
            bis += _clos_bisection_links(
                *_leaf_sides(n_i, d1, half=a_i),
                k=k,
                n=big.tiers,
                oversubscription=inp.oversubscription,
                spread=inp.spread,
            )
    return _Raw(
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


def _multi_plane(inp: _Inputs) -> _Raw:
    """Multi-plane (Alibaba HPN, Qian et al. SIGCOMM 2024: dual-plane, dual-ToR): each endpoint's NIC
    bandwidth is split over P ports to P independent Clos planes; the same switch ASIC is split into P x
    more ports at 1/P the speed, so each plane reaches more endpoints per tier."""
    p = inp.planes
    k = inp.radix * p
    plane = _clos_raw(replace(inp, radix=k), inp.endpoints, k, inp.link_bw / p, host_copper=False)
    spt = tuple(x * p for x in plane.switches_per_tier)
    lpt = tuple(x * p for x in plane.links_per_tier)
    return _Raw(
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


def _single_group_bisection(n: int, p: int, routers: int) -> float:
    """Max-flow between host halves (index order) of one all-to-all group of unit-capacity router links.

    Hosts matched on their own router cost nothing; the rest is the min cut over router sets S of
    (supply outside S) + (demand inside S) + |S| (R - |S|); routers are interchangeable in K_R, so for
    each count of supply routers and demand routers in S the largest suppliers and smallest demanders
    are taken (exact, O(R^2), R <= a routers).
    """
    half = n // 2
    supply, demand, local, neutral = [], [], 0, 0
    for r in range(routers):
        lo, hi = r * p, min(n, r * p + p)
        a = max(0, min(hi, half) - lo)
        b = (hi - lo) - a
        m = min(a, b)
        local += m
        if a > m:
            supply.append(a - m)
        elif b > m:
            demand.append(b - m)
        else:
            neutral += 1
    supply.sort(reverse=True)
    demand.sort()
    s_tot = sum(supply)
    best = float(min(s_tot, sum(demand)))
    ps = [0, *accumulate(supply)]
    pd = [0, *accumulate(demand)]
    for i in range(len(supply) + 1):
        for j in range(len(demand) + 1):
            for z in range(neutral + 1):
                size = i + j + z
                cut = (s_tot - ps[i]) + pd[j] + size * (routers - size)
                best = min(best, float(cut))
    return float(local) + best


def _dragonfly(inp: _Inputs) -> _Raw:
    c = _dragonfly_counts(inp.endpoints, inp.radix)
    p, a, g, m = c["p"], c["a"], c["groups"], c["m"]
    partial = c["a_last"] < a
    # bisection: first g//2 groups vs the rest; crossing global links (module docstring of graphs.py)
    g1 = g // 2
    if g <= 1:
        cross = _single_group_bisection(inp.endpoints, p, c["routers"])
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
    return _Raw(
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


def _torus(inp: _Inputs) -> _Raw:
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
    return _Raw(
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


TOPOLOGIES: dict[str, Callable[[_Inputs], _Raw]] = {
    "full-mesh": _full_mesh,
    "fat-tree": _fat_tree,
    "rail-optimized": _rail_optimized,
    "rail-only": _rail_only,
    "multi-plane": _multi_plane,
    "dragonfly": _dragonfly,
    "torus": _torus,
}
"""Registry of topology builders (closed form), keyed by the CLI name."""


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


def _price(
    raw: _Raw, inp: _Inputs
) -> tuple[dict[str, float], dict[str, float], list[str], str | None, float, bool]:
    """Cost and power breakdowns (USD, W) and the priced assumptions."""
    cat = inp.catalog
    cost: dict[str, float] = {}
    power: dict[str, float] = {}
    notes: list[str] = []
    estimates: set[str] = set()
    n_sw = sum(raw.switches_per_tier)
    sw_part, latency, inr = None, 0.0, False
    if n_sw:
        sw, scale, exact = cat.switch(raw.switch_radix, raw.link_bw)
        sw_part, latency, inr = sw.id, sw.latency_s, sw.in_network_reduction
        cost["switches"] = n_sw * sw.price_usd * scale
        power["switches"] = n_sw * sw.power_w * scale
        if not exact:
            notes.append(
                f"no catalog switch is radix {raw.switch_radix} at {raw.link_bw * 8 / 1e9:g} Gb/s: "
                f"{sw.id} price/power scaled by switching capacity x{scale:.3g}"
            )
        if sw.estimated:
            estimates.add(sw.id)
    optic, oscale = cat.optic(raw.link_bw)
    cost["transceivers"] = (
        2 * raw.optical_links * optic.price_usd * oscale
    )  # two optics per optical link
    power["transceivers"] = 2 * raw.optical_links * optic.power_w * oscale
    cost["fiber"] = raw.optical_links * cat.fiber.price_usd
    if raw.optical_links and optic.estimated:
        estimates.add(optic.id)
    cost["copper_cables"] = sum(
        cat.copper[kind].price_usd * c for kind, c in raw.copper_links.items()
    )
    power["copper_cables"] = sum(
        cat.copper[kind].power_w * c for kind, c in raw.copper_links.items()
    )
    for kind, c in raw.copper_links.items():
        if c and cat.copper[kind].estimated:
            estimates.add(cat.copper[kind].id)
    if raw.nics:
        nic_bw = raw.link_bw * raw.nic_ports_per_nic if raw.nic_ports_per_nic <= 8 else raw.link_bw
        nic, nscale = cat.nic(nic_bw)
        units = raw.nics * (
            raw.nic_ports_per_nic if raw.nic_ports_per_nic > 8 else 1
        )  # full mesh: a NIC per port
        cost["nics"] = units * nic.price_usd * nscale
        power["nics"] = units * nic.power_w * nscale
        if nic.estimated:
            estimates.add(nic.id)
    n_ocs = -(-raw.ocs_ports // cat.ocs_usable_ports) if raw.ocs_ports else 0
    if n_ocs:
        cost["ocs"] = n_ocs * cat.ocs.price_usd
        power["ocs"] = n_ocs * cat.ocs.power_w
        estimates.add(cat.ocs.id)
    if inp.scaleup:
        dom = scaleup_domain(inp.scaleup)
        n_dom = -(-inp.endpoints // dom.accelerators)
        cost["scaleup_switches"] = n_dom * dom.switch_chips * dom.switch_chip_price_usd
        power["scaleup_switches"] = n_dom * dom.switch_chips * dom.switch_chip_power_w
        cost["scaleup_cables"] = n_dom * dom.cables * dom.cable_price_usd
        power["scaleup_cables"] = n_dom * dom.cables * dom.cable_power_w
        notes.append(
            f"scale-up {dom.id}: {n_dom:,} domains of {dom.accelerators} ({dom.name}); cost and power "
            "in scaleup_* entries, included in cost_usd/power_w"
        )
        if dom.estimated:
            estimates.add(dom.id)
    if estimates:
        notes.append(
            "estimated prices/power (no public source, catalog confidence low): "
            + ", ".join(sorted(estimates))
        )
    return cost, power, notes, sw_part, latency, inr


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
    if topology not in TOPOLOGIES:
        raise ConfigError(f"unknown topology {topology!r}; choose from {', '.join(TOPOLOGIES)}")
    if isinstance(endpoints, bool) or int(endpoints) != endpoints or endpoints <= 0:
        raise ConfigError(f"endpoints must be a positive integer, got {endpoints!r}")
    endpoints = int(endpoints)
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
    if spread is not None:
        _check_spread(spread)
    clos_spread = (spread or DEFAULT_SPREAD[topology]) if topology in DEFAULT_SPREAD else None
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
    su = (
        _default_scaleup(acc)
        if scaleup == "auto"
        else (None if scaleup in (None, "none") else scaleup)
    )
    if su is not None and su not in SCALEUP_IDS:
        raise ConfigError(
            f"unknown scale-up domain {su!r}; choose from {', '.join(SCALEUP_IDS)} or none"
        )
    gpn = acc.gpus_per_node if acc is not None else 8
    dims_v: tuple[int, ...] | int | None
    if isinstance(dims, Sequence):
        shape = tuple(int(d) for d in dims)
        if any(d <= 0 for d in shape) or not shape:
            raise ConfigError(f"torus dims must be positive, got {dims}")
        dims_v = shape
    else:
        dims_v = dims if dims is None else int(dims)
        if dims_v is not None and dims_v not in (1, 2, 3, 4, 5, 6):
            raise ConfigError(f"torus dimensions must be 1 to 6, got {dims}")
    inp = _Inputs(
        topology=topology,
        endpoints=endpoints,
        radix=radix,
        tiers=tiers,
        rails=rails or gpn,
        rails_given=rails is not None,
        oversubscription=oversubscription
        if isinstance(oversubscription, (int, float))
        else tuple(oversubscription),
        link_bw=link_bw,
        accelerator=acc,
        scaleup=su,
        planes=planes,
        dims=dims_v,
        gpus_per_node=gpn,
        catalog=parts_catalog(),
        spread=clos_spread or "even",
    )
    raw = TOPOLOGIES[topology](inp)
    cost, power, price_notes, sw_part, latency, inr = _price(raw, inp)
    n_dom = -(-endpoints // scaleup_domain(su).accelerators) if su else 0
    assumptions = (
        raw.notes
        + [
            f"link {raw.link_bw * 8 / 1e9:g} Gb/s per direction"
            + (
                f" (the {acc.id} NIC)"
                if acc is not None and link_gbit is None and acc.scaleout_bw_bytes_per_s > 0
                else ""
            ),
            "transceivers: two per optical link; one fibre per optical link; switch-switch links optical",
            _SPREAD_NOTE[clos_spread]
            + (" (default for " + topology + ")" if spread is None else " (--spread)")
            if clos_spread
            else "",
            "capex share = fabric / (fabric + accelerators at catalog price); servers and facility excluded",
        ]
        + price_notes
    )
    return FabricDesign(
        topology=topology,
        endpoints=endpoints,
        tiers=raw.tiers,
        radix=raw.switch_radix,
        rails=raw.rails,
        planes=planes if topology == "multi-plane" else 1,
        dims=raw.dims,
        oversubscription=raw.oversubscription,
        spread=clos_spread,
        link_bw_bytes_per_s=raw.link_bw,
        endpoint_bw_bytes_per_s=raw.link_bw * (planes if topology == "multi-plane" else 1),
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
        hop_latency_s=latency,
        in_network_reduction=inr,
        switch_part=sw_part,
        scaleup=su,
        scaleup_domains=n_dom,
        accelerator=acc.id if acc is not None else None,
        accelerator_price_usd=acc.price_usd if acc is not None else None,
        cost_breakdown=cost,
        power_breakdown=power,
        assumptions=tuple(a for a in assumptions if a),
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
