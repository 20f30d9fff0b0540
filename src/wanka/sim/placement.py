"""Placement: which accelerators a gang gets. Pure functions of (topology, free counts, request).

* `packed` (topology-aware): a job of up to one scale-up domain goes to the single domain with
  the fewest free accelerators that still fits it (best fit) and is never split across domains;
  a larger job goes to the smallest leaf switch, else pod, else the whole cluster that has room,
  taking whole free domains first.
* `first-fit` (naive): walk the nodes in index order and take free accelerators until the gang is
  complete, wherever they are.

A job always runs on one accelerator type. Both return a `Placement` or None (does not fit now).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from wanka.errors import ConfigError
from wanka.sim.cluster import ClusterSpec
from wanka.sim.speed import Tier

__all__ = [
    "Placement",
    "PlacementKind",
    "Topology",
    "fgd",
    "first_fit",
    "get_placement",
    "packed",
]


class PlacementKind(StrEnum):
    PACKED = "packed"
    FIRST_FIT = "first-fit"
    FGD = "fgd"


@dataclass(frozen=True, slots=True)
class Placement:
    """Accelerators given to one job: `counts[i]` on node `nodes[i]`, all of type `accel_type`."""

    nodes: NDArray[np.int64]
    counts: NDArray[np.int64]
    accel_type: int
    tier: int
    """`Tier` spanned: 0 one scale-up domain, 1 one leaf, 2 one pod, 3 several pods."""


class Topology:
    """Per-type node index arrays precomputed once from a `ClusterSpec` (read-only)."""

    def __init__(self, cluster: ClusterSpec) -> None:
        self.cluster = cluster
        self.n_types = len(cluster.accel_types)
        self.type_nodes = [np.flatnonzero(cluster.node_type == t) for t in range(self.n_types)]
        self.type_domain = [cluster.node_domain[n] for n in self.type_nodes]
        self.type_leaf = [cluster.node_leaf[n] for n in self.type_nodes]
        self.type_pod = [cluster.node_pod[n] for n in self.type_nodes]
        self.type_single_node_domains = [
            bool(np.all(np.bincount(d)[np.unique(d)] == 1)) for d in self.type_domain
        ]

        def level_max(ids: NDArray[np.int64], nodes: NDArray[np.int64]) -> int:
            return int(np.bincount(ids, weights=cluster.node_accels[nodes]).max())

        self.type_domain_max = [level_max(d, n) for d, n in zip(self.type_domain, self.type_nodes)]
        self.type_leaf_max = [level_max(d, n) for d, n in zip(self.type_leaf, self.type_nodes)]
        self.type_pod_max = [level_max(d, n) for d, n in zip(self.type_pod, self.type_nodes)]
        self.type_capacity = [int(cluster.node_accels[n].sum()) for n in self.type_nodes]
        self.size_tail: NDArray[np.float64] | None = None
        """P(job size > k) for k = 0.. of the workload (set by the simulator; used by `fgd`)."""

    def ideal_tier(self, size: int, accel_type: int) -> int:
        """The tier of the most compact possible placement of `size` accelerators of a type."""
        if size <= self.type_domain_max[accel_type]:
            return Tier.DOMAIN
        if size <= self.type_leaf_max[accel_type]:
            return Tier.LEAF
        if size <= self.type_pod_max[accel_type]:
            return Tier.POD
        return Tier.CLUSTER

    def tier_of(self, nodes: NDArray[np.int64]) -> int:
        c = self.cluster
        if nodes.shape[0] == 1 or (c.node_domain[nodes] == c.node_domain[nodes[0]]).all():
            return Tier.DOMAIN
        if (c.node_leaf[nodes] == c.node_leaf[nodes[0]]).all():
            return Tier.LEAF
        if (c.node_pod[nodes] == c.node_pod[nodes[0]]).all():
            return Tier.POD
        return Tier.CLUSTER


def _take(
    nodes: NDArray[np.int64], f: NDArray[np.int64], size: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Take accelerators from `nodes` (in the given order) until `size` are collected."""
    cs = np.cumsum(f)
    k = int(np.searchsorted(cs, size))
    take = f[: k + 1].copy()
    take[k] -= cs[k] - size
    keep = take > 0
    return nodes[: k + 1][keep], take[keep]


def _packed_one_type(
    topo: Topology, free: NDArray[np.int64], size: int, t: int
) -> Placement | None:
    nodes = topo.type_nodes[t]
    f = free[nodes]
    if size <= topo.type_domain_max[t]:
        if topo.type_single_node_domains[t]:
            cand = np.flatnonzero(f >= size)
            if cand.shape[0] == 0:
                return None
            k = cand[np.argmin(f[cand])]
            return Placement(
                nodes=nodes[k : k + 1],
                counts=np.array([size], np.int64),
                accel_type=t,
                tier=Tier.DOMAIN,
            )
        dom = topo.type_domain[t]
        dfree = np.bincount(dom, weights=f)
        cand = np.flatnonzero(dfree >= size)
        if cand.shape[0] == 0:
            return None
        d = cand[np.argmin(dfree[cand])]
        idx = np.flatnonzero(dom == d)
        order = idx[np.argsort(-f[idx], kind="stable")]
        n, c = _take(nodes[order], f[order], size)
        return Placement(nodes=n, counts=c, accel_type=t, tier=Tier.DOMAIN)
    total = int(f.sum())
    if total < size:
        return None
    for tier, ids in ((Tier.LEAF, topo.type_leaf[t]), (Tier.POD, topo.type_pod[t])):  # noqa: B007 - read after the loop
        gfree = np.bincount(ids, weights=f)
        cand = np.flatnonzero(gfree >= size)
        if cand.shape[0]:
            g = cand[np.argmin(gfree[cand])]
            idx = np.flatnonzero(ids == g)
            break
    else:
        tier, idx = Tier.CLUSTER, np.arange(nodes.shape[0])
    # Whole free domains first, then the fullest remaining ones; nodes of a domain together.
    dom = topo.type_domain[t][idx]
    dfree = np.bincount(dom, weights=f[idx])[dom]
    order = idx[np.lexsort((-f[idx], dom, -dfree))]
    n, c = _take(nodes[order], f[order], size)
    return Placement(
        nodes=n, counts=c, accel_type=t, tier=int(tier) if tier != Tier.CLUSTER else topo.tier_of(n)
    )


def packed(
    topo: Topology, free: NDArray[np.int64], size: int, types: tuple[int, ...]
) -> Placement | None:
    """Topology-aware best-fit placement (see module docstring); None if it does not fit now."""
    for t in types:
        p = _packed_one_type(topo, free, size, t)
        if p is not None:
            return p
    return None


def first_fit(
    topo: Topology, free: NDArray[np.int64], size: int, types: tuple[int, ...]
) -> Placement | None:
    """Naive placement: the first free accelerators in node order, split wherever they fall."""
    for t in types:
        nodes = topo.type_nodes[t]
        f = free[nodes]
        if int(f.sum()) < size:
            continue
        n, c = _take(nodes, f, size)
        return Placement(nodes=n, counts=c, accel_type=t, tier=topo.tier_of(n))
    return None


def fgd(
    topo: Topology, free: NDArray[np.int64], size: int, types: tuple[int, ...]
) -> Placement | None:
    """Fragmentation gradient descent (Weng et al., ATC '23) for whole accelerators.

    A job that fits one scale-up domain goes to the domain where the workload's expected
    fragmentation grows least: a domain with f free accelerators holds f * P(size > f) of them
    that a job drawn from the workload cannot use (the measure `wanka simulate` reports), so
    the change is g(f - size) - g(f) with g(f) = f * P(size > f). Larger jobs are placed as
    `packed`. (`wanka.sim.fgd` has the paper's GPU-sharing form, for fractional GPUs.)
    """
    tail = topo.size_tail
    if tail is None:
        return packed(topo, free, size, types)
    for t in types:
        if size > topo.type_domain_max[t]:
            p = _packed_one_type(topo, free, size, t)
        else:
            p = _fgd_one_type(topo, free, size, t, tail)
        if p is not None:
            return p
    return None


def _fgd_one_type(
    topo: Topology, free: NDArray[np.int64], size: int, t: int, tail: NDArray[np.float64]
) -> Placement | None:
    nodes = topo.type_nodes[t]
    f = free[nodes]
    dom = topo.type_domain[t]
    dfree = np.bincount(dom, weights=f).astype(np.int64)
    cand = np.flatnonzero(dfree >= size)
    if cand.shape[0] == 0:
        return None
    top = tail.shape[0] - 1

    def g(x: NDArray[np.int64]) -> NDArray[np.float64]:
        return x * tail[np.minimum(x, top)]

    delta = g(dfree[cand] - size) - g(dfree[cand])
    d = cand[np.lexsort((dfree[cand], delta))[0]]  # least growth; ties: the fullest domain
    idx = np.flatnonzero(dom == d)
    order = idx[np.argsort(-f[idx], kind="stable")]
    n, c = _take(nodes[order], f[order], size)
    return Placement(nodes=n, counts=c, accel_type=t, tier=Tier.DOMAIN)


PlaceFn = Callable[[Topology, NDArray[np.int64], int, tuple[int, ...]], Placement | None]
_REGISTRY: dict[PlacementKind, PlaceFn] = {
    PlacementKind.PACKED: packed,
    PlacementKind.FIRST_FIT: first_fit,
    PlacementKind.FGD: fgd,
}


def get_placement(name: str) -> PlaceFn:
    """The placement function for `packed`, `first-fit` or `fgd`."""
    try:
        return _REGISTRY[PlacementKind(name)]
    except ValueError:
        raise ConfigError(
            f"unknown placement {name!r}; choose from {sorted(k.value for k in PlacementKind)}"
        ) from None
