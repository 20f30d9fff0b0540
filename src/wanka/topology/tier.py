"""The scale-out network a collective's group crosses (`FabricTier`), as the collective model
(`topology.collective`) needs it; `topology.fabric` builds one from a fabric design."""

from __future__ import annotations

import math
from dataclasses import dataclass

from wanka.errors import ConfigError

__all__ = ["TOPOLOGIES", "FabricTier"]

TOPOLOGIES = (
    "full-mesh",
    "fat-tree",
    "rail-optimized",
    "rail-only",
    "multi-plane",
    "dragonfly",
    "torus",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FabricTier:
    """The scale-out network a collective's group crosses, as the communication model needs it.

    The fabric designer (`wanka.topology.fabric`) builds one from a design; `None` in `collective_time`
    means a non-blocking fat-tree at the accelerator's own NIC speed with SHARP-capable switches.

    What `topology` changes (everything else is in the numeric fields):

    * fat-tree, rail-optimized, multi-plane, dragonfly: switched; rings stay on their rail (NCCL PXN),
      only the tapers in `oversubscription` and the hop count matter.
    * rail-only (Wang et al., arXiv 2307.12169): no spine, so all-to-all bytes bound for another rail
      first cross the scale-up domain ((g-1)/g of the cross-node bytes), and so does a cross-node
      send-recv between GPUs of different local index.
    * full-mesh: direct links, one hop per step; collectives spread over all links (direct algorithms),
      no switches, hence no in-network reduction.
    * torus (`torus_dims`-dimensional, wrap-around): rings map onto the dimensions at full injection
      bandwidth; all-to-all is bisection bound at 4/(d k) of injection bandwidth (k = N^(1/d) domains
      per dimension); no in-network reduction.
    """

    topology: str = "fat-tree"
    """One of TOPOLOGIES; changes the traffic pattern as documented in `collective_time`."""
    bw_bytes_per_s: float | None = None
    """Scale-out bandwidth per accelerator, per direction (bytes/s); None = the accelerator's NIC."""
    tier_accelerators: tuple[int, ...] = ()
    """Accelerators under full bisection below each tapered tier, innermost first (e.g. (256, 4096):
    a 256-accelerator leaf group, then a 4096-accelerator pod)."""
    oversubscription: tuple[float, ...] = ()
    """Down:up taper above each entry of `tier_accelerators` (1.0 = non-blocking)."""
    hops: float = 3.0
    """Switch (or router) hops on a typical cross-node path (3 = leaf-spine-leaf)."""
    hop_latency_s: float | None = None
    """Latency per hop beyond the 3 NCCL's constants already include; None = collectives.yaml value."""
    in_network_reduction: bool = True
    """Whether the switches can reduce in the network (InfiniBand SHARP or equivalent)."""
    torus_dims: int = 3
    """Dimensions of a torus (only read when topology == 'torus')."""

    def __post_init__(self) -> None:
        if self.topology not in TOPOLOGIES:
            raise ConfigError(
                f"unknown topology {self.topology!r}; choose from {', '.join(TOPOLOGIES)}"
            )
        if self.bw_bytes_per_s is not None and not self.bw_bytes_per_s > 0:
            raise ConfigError(f"fabric bandwidth must be positive, got {self.bw_bytes_per_s}")
        if len(self.tier_accelerators) != len(self.oversubscription):
            raise ConfigError(
                f"tier_accelerators {self.tier_accelerators} and oversubscription "
                f"{self.oversubscription} must have the same length"
            )
        if any(s < 1 for s in self.tier_accelerators):
            raise ConfigError(f"tier_accelerators must be >= 1, got {self.tier_accelerators}")
        if any(not (r >= 1.0 and math.isfinite(r)) for r in self.oversubscription):
            raise ConfigError(
                f"oversubscription must be >= 1 (down:up), got {self.oversubscription}"
            )
        if not self.hops >= 0:
            raise ConfigError(f"hops must be >= 0, got {self.hops}")
        if self.hop_latency_s is not None and not self.hop_latency_s >= 0:
            raise ConfigError(f"hop_latency_s must be >= 0, got {self.hop_latency_s}")
        if self.torus_dims < 1:
            raise ConfigError(f"torus_dims must be >= 1, got {self.torus_dims}")

    @classmethod
    def for_topology(
        cls,
        topology: str,
        *,
        oversubscription: float = 1.0,
        pod_accelerators: int | None = None,
        bw_bytes_per_s: float | None = None,
        in_network_reduction: bool | None = None,
    ) -> FabricTier:
        """A simple tier for a named topology (what `wanka collective --topology` uses).

        Args:
            topology: one of TOPOLOGIES.
            oversubscription: down:up taper for traffic leaving a pod of `pod_accelerators`.
            pod_accelerators: accelerators under full bisection (required when oversubscription > 1).
            bw_bytes_per_s: per-accelerator scale-out bandwidth; None = the accelerator's NIC.
            in_network_reduction: switch reduction support; None = the topology's default (switched
                Clos-like fabrics yes; full-mesh and torus, which have no switches, no).
        """
        if topology not in TOPOLOGIES:
            raise ConfigError(f"unknown topology {topology!r}; choose from {', '.join(TOPOLOGIES)}")
        hops = {"full-mesh": 1.0, "torus": 1.0}.get(topology, 3.0)  # direct links: one hop per step
        inr = (
            topology not in ("full-mesh", "torus")
            if in_network_reduction is None
            else in_network_reduction
        )
        if oversubscription != 1.0 and pod_accelerators is None:
            raise ConfigError(
                "oversubscription needs the pod size it applies above (pod_accelerators)"
            )
        tiers = (
            (int(pod_accelerators),)
            if oversubscription != 1.0 and pod_accelerators is not None
            else ()
        )
        return cls(
            topology=topology,
            bw_bytes_per_s=bw_bytes_per_s,
            tier_accelerators=tiers,
            oversubscription=(float(oversubscription),) if tiers else (),
            hops=hops,
            in_network_reduction=inr,
        )
