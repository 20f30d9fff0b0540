"""Bisection of the closed-form fabrics: max-flow across the host halves, exact for the wiring that
`graphs.build_graph` builds (the tests check both against networkx max-flow)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from itertools import accumulate

import numpy as np

from wanka.topology.clos import _cap_leaves, _ports, _tapers

__all__ = ["clos_bisection_links", "leaf_sides", "single_group_bisection"]


def clos_bisection_links(
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


def leaf_sides(
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


def single_group_bisection(n: int, p: int, routers: int) -> float:
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
