"""The simulated cluster: nodes of accelerators, grouped into scale-up domains, leaves and pods.

Hierarchy (every level a contiguous run of node numbers):

    cluster ─ pod ─ leaf switch (rack) ─ scale-up domain ─ node ─ accelerator

A *scale-up domain* is the set of accelerators joined by the scale-up fabric (NVLink, xGMI,
UB...): one 8-GPU node for classic servers, 72 GPUs (18 nodes) for an NVL72 rack. Nodes of one
domain share one accelerator type. Leaf switches join `nodes_per_leaf` nodes; pods join
`leaves_per_pod` leaves; cross-leaf and cross-pod traffic sees the stated oversubscription.

Built from a shape (`ClusterSpec.from_shape(gpus=2048, gpus_per_node=8)`) or a YAML file
(`ClusterSpec.from_yaml(path)`, see `examples/cluster-*.yaml`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wanka.errors import ConfigError
from wanka.spec import check_mapping
from wanka.userfile import read_data

__all__ = ["ClusterSpec", "NodeGroup"]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeGroup:
    """A block of identical nodes."""

    accelerator: str
    """Accelerator id (catalog id where one exists, e.g. `h100-sxm`; free text otherwise)."""
    nodes: int
    gpus_per_node: int
    nodes_per_domain: int = 1
    """Nodes per scale-up domain (1 for classic 8-GPU servers, 18 for a GB200 NVL72 rack)."""
    relative_speed: float | None = None
    """Job speed on this type relative to the reference type; None: from the catalog peaks."""

    def __post_init__(self) -> None:
        if self.nodes < 1 or self.gpus_per_node < 1 or self.nodes_per_domain < 1:
            raise ConfigError(
                f"node group {self.accelerator!r}: nodes ({self.nodes}), "
                f"gpus_per_node "
                f"({self.gpus_per_node}) and nodes_per_domain "
                f"({self.nodes_per_domain}) must be >= 1"
            )
        if self.nodes % self.nodes_per_domain:
            raise ConfigError(
                f"node group {self.accelerator!r}: nodes ({self.nodes}) must be a "
                f"multiple of nodes_per_domain ({self.nodes_per_domain})"
            )


_GROUP_KEYS = {"accelerator", "nodes", "gpus_per_node", "nodes_per_domain", "relative_speed"}
_NET_KEYS = {
    "nodes_per_leaf",
    "leaves_per_pod",
    "scaleout_bw_gbit_per_s",
    "scaleup_bw_gb_per_s",
    "cross_leaf_oversubscription",
    "cross_pod_oversubscription",
    "latency_us",
}
_TOP_KEYS = {"name", "node_groups", "network", "tenants"}
_TENANT_KEYS = {"quota", "weight"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterSpec:
    """Static description of the cluster (node arrays indexed by node number)."""

    name: str
    node_accels: NDArray[np.int64]
    """Accelerators per node."""
    node_type: NDArray[np.int64]
    """Accelerator type index per node (into `accel_types`)."""
    node_domain: NDArray[np.int64]
    """Scale-up domain per node (contiguous, 0..n_domains-1)."""
    node_leaf: NDArray[np.int64]
    node_pod: NDArray[np.int64]
    accel_types: tuple[str, ...]
    type_speed: NDArray[np.float64]
    """Relative speed per accelerator type (reference type = 1.0)."""
    domain_accels: NDArray[np.int64]
    """Accelerators per scale-up domain."""
    scaleout_bw_bytes_per_s: float = 400e9 / 8
    """Per-accelerator scale-out (NIC) bandwidth, bytes/s (default 400 Gb/s)."""
    scaleup_bw_bytes_per_s: float = 450e9
    """Per-accelerator scale-up bandwidth, bytes/s (default 450 GB/s, NVLink 4 one way)."""
    cross_leaf_oversubscription: float = 2.0
    """Bandwidth division for traffic crossing leaf switches (spine tier)."""
    cross_pod_oversubscription: float = 4.0
    """Bandwidth division for traffic crossing pods (super-spine tier)."""
    latency_s: float = 5e-6
    """Per-hop latency of one collective step, seconds."""
    tenant_quota: dict[str, int] = field(default_factory=dict)
    """Nominal quota (accelerators) per tenant, for the quota policy; empty: equal shares."""
    tenant_weight: dict[str, float] = field(default_factory=dict)

    # ---- derived sizes -------------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return int(self.node_accels.shape[0])

    @property
    def total_accels(self) -> int:
        return int(self.node_accels.sum())

    def type_capacity(self) -> NDArray[np.int64]:
        """Accelerators of each type."""
        return np.bincount(
            self.node_type, weights=self.node_accels, minlength=len(self.accel_types)
        ).astype(np.int64)

    def max_domain_accels(self) -> int:
        return int(self.domain_accels.max())

    # ---- constructors --------------------------------------------------------------------------
    @classmethod
    def from_groups(
        cls,
        groups: list[NodeGroup],
        *,
        name: str = "cluster",
        nodes_per_leaf: int = 32,
        leaves_per_pod: int = 8,
        **network: Any,
    ) -> ClusterSpec:
        """Lay out node groups in order; leaves and pods never mix groups' domains mid-domain."""
        if not groups:
            raise ConfigError("a cluster needs at least one node group")
        if nodes_per_leaf < 1 or leaves_per_pod < 1:
            raise ConfigError(
                f"nodes_per_leaf ({nodes_per_leaf}) and leaves_per_pod "
                f"({leaves_per_pod}) must be >= 1"
            )
        from wanka.sim.speed import relative_type_speed  # local: speed imports cluster types

        types: list[str] = []
        accels, ntype, ndom = [], [], []
        dom = 0
        for g in groups:
            if g.accelerator not in types:
                types.append(g.accelerator)
            t = types.index(g.accelerator)
            accels.append(np.full(g.nodes, g.gpus_per_node, np.int64))
            ntype.append(np.full(g.nodes, t, np.int64))
            ndom.append(dom + np.arange(g.nodes, dtype=np.int64) // g.nodes_per_domain)
            dom += g.nodes // g.nodes_per_domain
        node_accels = np.concatenate(accels)
        node_domain = np.concatenate(ndom)
        n = node_accels.shape[0]
        # A leaf holds whole domains: round nodes_per_leaf up to a multiple of the domain size.
        node_leaf = np.empty(n, np.int64)
        leaf, count, i = 0, 0, 0
        while i < n:
            d = node_domain[i]
            j = i
            while j < n and node_domain[j] == d:
                j += 1
            if count and count + (j - i) > nodes_per_leaf:
                leaf, count = leaf + 1, 0
            node_leaf[i:j] = leaf
            count += j - i
            i = j
        node_pod = node_leaf // leaves_per_pod
        speeds = []
        for kind in types:
            given = [g.relative_speed for g in groups if g.accelerator == kind and g.relative_speed]
            speeds.append(given[0] if given else relative_type_speed(kind, types[0]))
        return cls(
            name=name,
            node_accels=node_accels,
            node_type=np.concatenate(ntype),
            node_domain=node_domain,
            node_leaf=node_leaf,
            node_pod=node_pod,
            accel_types=tuple(types),
            type_speed=np.asarray(speeds, np.float64),
            domain_accels=np.bincount(node_domain, weights=node_accels).astype(np.int64),
            **network,
        )

    @classmethod
    def from_shape(
        cls,
        *,
        gpus: int,
        gpus_per_node: int,
        accelerator: str = "generic",
        nodes_per_domain: int = 1,
        nodes_per_leaf: int = 32,
        leaves_per_pod: int = 8,
    ) -> ClusterSpec:
        """A homogeneous cluster of `gpus` accelerators, `gpus_per_node` per node.

        >>> ClusterSpec.from_shape(gpus=2048, gpus_per_node=8).n_nodes
        256
        """
        if gpus < 1 or gpus_per_node < 1 or gpus % gpus_per_node:
            raise ConfigError(
                f"--gpus ({gpus}) must be a positive multiple of --gpus-per-node ({gpus_per_node})"
            )
        nodes = gpus // gpus_per_node
        npd = nodes_per_domain if nodes % nodes_per_domain == 0 else 1
        return cls.from_groups(
            [
                NodeGroup(
                    accelerator=accelerator,
                    nodes=nodes,
                    gpus_per_node=gpus_per_node,
                    nodes_per_domain=npd,
                )
            ],
            name=f"{nodes}x{gpus_per_node}",
            nodes_per_leaf=nodes_per_leaf,
            leaves_per_pod=leaves_per_pod,
        )

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "<dict>") -> ClusterSpec:
        """Build from the YAML structure (unknown keys are an error)."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: a cluster file must be a mapping")
        from wanka.schemas import check_input

        data = check_input("cluster", data, where=source)  # keys, types; numbers as_number reads
        _check_keys(data, _TOP_KEYS, source)
        raw_groups = data.get("node_groups")
        if not isinstance(raw_groups, list) or not raw_groups:
            raise ConfigError(f"{source}: node_groups must be a non-empty list")
        groups = []
        for g in raw_groups:
            if not isinstance(g, dict):
                raise ConfigError(f"{source}: each node group must be a mapping")
            _check_keys(g, _GROUP_KEYS, f"{source}: node group")
            try:
                groups.append(
                    NodeGroup(
                        accelerator=str(g["accelerator"]),
                        nodes=int(g["nodes"]),
                        gpus_per_node=int(g["gpus_per_node"]),
                        nodes_per_domain=int(g.get("nodes_per_domain", 1)),
                        relative_speed=(
                            None if g.get("relative_speed") is None else float(g["relative_speed"])
                        ),
                    )
                )
            except KeyError as e:
                raise ConfigError(f"{source}: node group misses {e.args[0]!r}") from None
            except (TypeError, ValueError) as e:
                raise ConfigError(f"{source}: bad node group value: {e}") from None
        net = data.get("network") or {}
        _check_keys(net, _NET_KEYS, f"{source}: network")
        kw: dict[str, Any] = {}
        if "scaleout_bw_gbit_per_s" in net:
            kw["scaleout_bw_bytes_per_s"] = float(net["scaleout_bw_gbit_per_s"]) * 1e9 / 8
        if "scaleup_bw_gb_per_s" in net:
            kw["scaleup_bw_bytes_per_s"] = float(net["scaleup_bw_gb_per_s"]) * 1e9
        for k in ("cross_leaf_oversubscription", "cross_pod_oversubscription"):
            if k in net:
                kw[k] = float(net[k])
        if "latency_us" in net:
            kw["latency_s"] = float(net["latency_us"]) * 1e-6
        tenants = data.get("tenants") or {}
        if not isinstance(tenants, dict):
            raise ConfigError(f"{source}: tenants must be a mapping name -> {{quota, weight}}")
        quota, weight = {}, {}
        for t, spec in tenants.items():
            spec = spec or {}
            _check_keys(spec, _TENANT_KEYS, f"{source}: tenant {t}")
            if "quota" in spec:
                quota[str(t)] = int(spec["quota"])
            weight[str(t)] = float(spec.get("weight", 1.0))
        return cls.from_groups(
            groups,
            name=str(data.get("name", Path(source).stem)),
            nodes_per_leaf=int(net.get("nodes_per_leaf", 32)),
            leaves_per_pod=int(net.get("leaves_per_pod", 8)),
            tenant_quota=quota,
            tenant_weight=weight,
            **kw,
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> ClusterSpec:
        """Read a cluster YAML file (see `examples/cluster-*.yaml`)."""
        p = Path(path)
        data = read_data(p, what="a cluster YAML")
        return cls.from_dict(data, source=str(p))


def _check_keys(d: dict[str, Any], allowed: set[str], where: str) -> None:
    check_mapping(where, d, allowed)
