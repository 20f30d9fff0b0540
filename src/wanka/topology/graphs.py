"""The fabrics of `fabric.py` (sized in `sizing.py`) built as explicit networkx graphs (small and medium instances).

The graph is wired switch by switch (every port assignment explicit), so its counts and its min-cut
are an independent check of the closed forms: tests assert that nodes = endpoints + switches,
the sum of edge multiplicities = links, no switch uses more than its radix, and the max-flow between
the two halves of the endpoints equals the closed-form bisection.

Graph conventions: nodes carry `kind` ("endpoint" | "switch" | "router"), `tier` (0 for endpoints,
1 = leaf, ...), `side` ("A" | "B": the bisection halves used by `min_cut_bisection`; index order,
group-aligned for a dragonfly) and, for switches, `radix`. Parallel cables are one edge with
`links` = their count and `capacity` = links (one unit = one link's bandwidth).

Clos top tier (`spread`, clos.py module docstring): each lower switch of a plane deals its u uplinks
round-robin over the plane's c top switches, one counter shared by the plane's lower switches. With the
"even" rule c divides u, so every lower switch gets u/c parallel links to every top switch; with the
"fewest" rule (c = ceil(n_sub u / k)) a lower switch may have one more parallel link to some top
switches than to others, and the shared counter keeps every top switch at <= ceil(n_sub u / c) <= k links.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import networkx as nx

from wanka.errors import ConfigError
from wanka.topology.clos import _cap_leaves, _check_spread, _ports, _split, _tapers, _top_switches
from wanka.topology.fabric import FabricDesign, design_fabric
from wanka.topology.sizing import _dragonfly_counts

__all__ = [
    "MAX_GRAPH_ENDPOINTS",
    "build_graph",
    "graph_counts",
    "min_cut_bisection",
    "write_graph",
]

MAX_GRAPH_ENDPOINTS = 4096
"""Largest instance `build_graph` builds (full mesh: 1,024)."""


def _add_link(g: nx.Graph, u: str, v: str, n: int = 1) -> None:
    if n <= 0:
        return
    if g.has_edge(u, v):
        g[u][v]["links"] += n
        g[u][v]["capacity"] += n
    else:
        g.add_edge(u, v, links=n, capacity=n)


def _clos(
    g: nx.Graph,
    hosts_per_leaf: list[list[str]],
    *,
    k: int,
    n: int,
    oversubscription: float | Sequence[float],
    prefix: str,
    spread: str = "even",
) -> None:
    """Wire an n-tier folded Clos over the given leaves (each a list of host node ids).

    Below the top every plane has u switches, one link from each lower switch to each; the top tier
    follows `spread`, uplinks dealt round-robin (module docstring)."""
    _check_spread(spread)
    leaves = len(hosts_per_leaf)
    if n == 1:
        sw = f"{prefix}t1_0"
        g.add_node(sw, kind="switch", tier=1, radix=k)
        for h in hosts_per_leaf[0]:
            _add_link(g, h, sw)
        return
    down, up = _ports(k, _tapers(oversubscription, n))
    cap = _cap_leaves(k, down, n)
    counter = [0] * (n + 1)
    leaf_iter = iter(hosts_per_leaf)

    def new(t: int) -> str:
        name = f"{prefix}t{t}_{counter[t]}"
        counter[t] += 1
        g.add_node(name, kind="switch", tier=t, radix=k)
        return name

    def block(t: int, m: int) -> list[str]:
        if t == 1:
            leaf = new(1)
            for h in next(leaf_iter):
                _add_link(g, h, leaf)
            return [leaf]
        nfull, rem = divmod(m, cap[t - 1])
        subs = [block(t - 1, cap[t - 1]) for _ in range(nfull)] + (
            [block(t - 1, rem)] if rem else []
        )
        u, d_t = up[t - 1], (k if t == n else down[t])
        out: list[str] = []
        for j in range(max(len(s) for s in subs)):
            members = [s[j] for s in subs if len(s) > j]
            c = u if t < n else _top_switches(u, -(-len(members) * u // d_t), spread)
            uppers = [new(t) for _ in range(c)]
            nxt = 0  # the plane's shared round-robin counter
            for low in members:
                q, extra = divmod(u, c)  # u/c each, and one more to `extra` of them
                for i in range(c):
                    _add_link(g, low, uppers[(nxt + i) % c], q + (1 if i < extra else 0))
                nxt = (nxt + extra) % c
            out += uppers
        return out

    block(n, leaves)


def _hosts(g: nx.Graph, n: int, prefix: str = "h") -> list[str]:
    names = [f"{prefix}{i}" for i in range(n)]
    for i, h in enumerate(names):
        g.add_node(h, kind="endpoint", tier=0, side="A" if i < n // 2 else "B")
    return names


def build_graph(
    topology: str,
    endpoints: int,
    *,
    radix: int = 64,
    tiers: int | None = None,
    rails: int | None = None,
    oversubscription: float | Sequence[float] = 1.0,
    planes: int = 2,
    dims: Sequence[int] | int | None = None,
    spread: str | None = None,
    design: FabricDesign | None = None,
) -> nx.Graph:
    """The fabric `design_fabric` sizes, as an explicit graph (up to MAX_GRAPH_ENDPOINTS endpoints).

    Args are those of `design_fabric` (no cost inputs; `spread` None = the topology's default);
    `design` may pass an already computed one (its `spread` is then used).

    Raises:
        ConfigError: bad inputs (as design_fabric) or an instance too large to build.
    """
    d = design or design_fabric(
        topology,
        endpoints,
        radix=radix,
        tiers=tiers,
        rails=rails,
        oversubscription=oversubscription,
        scaleup=None,
        planes=planes,
        dims=dims,
        spread=spread,
    )
    limit = 1024 if topology == "full-mesh" else MAX_GRAPH_ENDPOINTS
    if d.endpoints > limit:
        raise ConfigError(
            f"graphs are built up to {limit:,} endpoints for {topology}, got {d.endpoints:,}; "
            "the closed forms (wanka fabric design) cover any size"
        )
    g = nx.Graph(topology=topology, endpoints=d.endpoints)
    builder = _BUILDERS.get(topology)
    if builder is None:  # design_fabric already rejected unknown names
        raise ConfigError(f"no graph builder for {topology!r}")
    builder(g, d, d.spread or "even")
    return g


def _leaf_d1(d: FabricDesign) -> int:
    """Hosts per leaf of a plain Clos design."""
    return d.radix if d.tiers == 1 else _split(d.radix, d.oversubscription[0])[0]


def _full_mesh(g: nx.Graph, d: FabricDesign, sp: str) -> None:
    n = d.endpoints
    hs = _hosts(g, n)
    for i in range(n):
        for j in range(i + 1, n):
            g.add_edge(hs[i], hs[j], links=1, capacity=1)


def _fat_tree(g: nx.Graph, d: FabricDesign, sp: str) -> None:
    n, d1 = d.endpoints, _leaf_d1(d)
    hs = _hosts(g, n)
    leaves = [hs[i : i + d1] for i in range(0, n, d1)]
    over = d.oversubscription or 1.0
    _clos(g, leaves, k=d.radix, n=d.tiers, oversubscription=over, prefix="s", spread=sp)


def _rail_optimized(g: nx.Graph, d: FabricDesign, sp: str) -> None:
    """One leaf per rail per scalable unit of d1 nodes (host = node * rails + rail)."""
    n, r = d.endpoints, d.rails or 1
    hs = _hosts(g, n)
    d1 = _split(d.radix, d.oversubscription[0])[0]
    nodes = -(-n // r)
    leaves = [
        [
            hs[node * r + rail]
            for node in range(su * d1, min(nodes, su * d1 + d1))
            if node * r + rail < n
        ]
        for su in range(-(-nodes // d1))
        for rail in range(r)
    ]
    _clos(
        g, leaves, k=d.radix, n=d.tiers, oversubscription=d.oversubscription, prefix="s", spread=sp
    )


def _rail_only(g: nx.Graph, d: FabricDesign, sp: str) -> None:
    """An independent fat-tree per rail."""
    r = d.rails or 1
    hs = _hosts(g, d.endpoints)
    for rail in range(r):
        members = hs[rail::r]
        if not members:
            continue
        dd = design_fabric(
            "fat-tree",
            len(members),
            radix=d.radix,
            tiers=d.tiers,
            oversubscription=d.oversubscription or 1.0,
            scaleup=None,
            spread=sp,
        )
        d1 = _leaf_d1(dd)
        _clos(
            g,
            [members[i : i + d1] for i in range(0, len(members), d1)],
            k=d.radix,
            n=dd.tiers,
            oversubscription=dd.oversubscription or 1.0,
            prefix=f"r{rail}s",
            spread=sp,
        )


def _multi_plane(g: nx.Graph, d: FabricDesign, sp: str) -> None:
    """The same Clos once per plane over the same hosts."""
    n, d1 = d.endpoints, _leaf_d1(d)
    hs = _hosts(g, n)
    for p in range(d.planes):
        _clos(
            g,
            [hs[i : i + d1] for i in range(0, n, d1)],
            k=d.radix,
            n=d.tiers,
            oversubscription=d.oversubscription or 1.0,
            prefix=f"p{p}s",
            spread=sp,
        )


def _dragonfly(g: nx.Graph, n: int, radix: int) -> None:
    c = _dragonfly_counts(n, radix)
    p, a, h, groups, m = c["p"], c["a"], c["h"], c["groups"], c["m"]
    routers = [
        [f"g{gi}r{ri}" for ri in range(a if gi < groups - 1 else c["a_last"])]
        for gi in range(groups)
    ]
    g1 = groups // 2
    idx = 0
    for gi, rs in enumerate(routers):
        for r in rs:
            g.add_node(r, kind="router", tier=1, radix=radix)
            for _ in range(p):
                if idx >= n:
                    break
                side = ("A" if idx < n // 2 else "B") if groups == 1 else ("A" if gi < g1 else "B")
                host = f"h{idx}"
                g.add_node(host, kind="endpoint", tier=0, side=side)
                _add_link(g, host, r)
                idx += 1
        for i in range(len(rs)):
            for j in range(i + 1, len(rs)):
                _add_link(g, rs[i], rs[j])  # local: all-to-all in a group
    if groups == 1:
        return
    ptr = [0] * groups  # next free global port per group

    def port(gi: int) -> str:
        r = routers[gi][ptr[gi] // h]
        ptr[gi] += 1
        return r

    partial = c["a_last"] < a
    n_full = groups - 1 if partial else groups
    for i in range(n_full):
        for j in range(i + 1, n_full):
            for _ in range(m):
                _add_link(g, port(i), port(j))
    if partial:
        q, rmd = divmod(c["last_links"], groups - 1)
        for j in range(groups - 1):
            for _ in range(q + (1 if j < rmd else 0)):
                _add_link(g, port(groups - 1), port(j))


def _torus(g: nx.Graph, dims: Sequence[int]) -> None:
    dims = tuple(dims)
    n = math.prod(dims)
    # mixed radix with the LAST (largest) dimension varying slowest: index halves = slabs of it
    strides = [1] * len(dims)
    for i in range(1, len(dims)):
        strides[i] = strides[i - 1] * dims[i - 1]
    for i in range(n):
        g.add_node(f"h{i}", kind="endpoint", tier=0, side="A" if i < n // 2 else "B")
    for i in range(n):
        for _dim, (kd, st) in enumerate(zip(dims, strides)):
            coord = (i // st) % kd
            if kd == 1 or (kd == 2 and coord == 1):
                continue
            j = i - coord * st + ((coord + 1) % kd) * st
            _add_link(g, f"h{i}", f"h{j}")


def graph_counts(g: nx.Graph) -> dict[str, int]:
    """{"endpoints", "switches", "links"} of a built graph (links = sum of edge multiplicities)."""
    ends = sum(1 for _, k in g.nodes(data="kind") if k == "endpoint")
    return {
        "endpoints": ends,
        "switches": g.number_of_nodes() - ends,
        "links": int(sum(m for _, _, m in g.edges(data="links"))),
    }


def min_cut_bisection(g: nx.Graph) -> float:
    """Max-flow (= min cut, in links) between the endpoints of side A and those of side B."""
    h = nx.DiGraph()
    for u, v, cap in g.edges(data="capacity"):
        h.add_edge(u, v, capacity=cap)
        h.add_edge(v, u, capacity=cap)
    for node, side in g.nodes(data="side"):
        if side == "A":
            h.add_edge("__src", node)  # no capacity attribute = unbounded
        elif side == "B":
            h.add_edge(node, "__dst")
    if "__src" not in h or "__dst" not in h:
        return 0.0
    return float(nx.maximum_flow_value(h, "__src", "__dst"))


def write_graph(g: nx.Graph, path: str | Path) -> None:
    """Write GraphML (attributes are plain str/int, readable by Gephi, yEd, networkx)."""
    nx.write_graphml(g, str(path))


_BUILDERS: dict[str, Callable[[nx.Graph, FabricDesign, str], None]] = {
    "full-mesh": _full_mesh,
    "fat-tree": _fat_tree,
    "rail-optimized": _rail_optimized,
    "rail-only": _rail_only,
    "multi-plane": _multi_plane,
    "dragonfly": lambda g, d, sp: _dragonfly(g, d.endpoints, d.radix),
    "torus": lambda g, d, sp: _torus(g, d.dims or (d.endpoints,)),
}
"""Graph builder per topology (the wiring the closed forms in `topology.sizing` count)."""
