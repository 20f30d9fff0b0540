"""The communication model: how long one collective takes on a group of accelerators.

Every collective in wanka (the training-step model, the fabric comparison, the scheduler simulator) is
priced here. The model is a hierarchical alpha-beta model in the style of NCCL's own tuner
(NVIDIA/nccl `src/graph/tuning.cc`), vectorised over message size, group size and placement:

    time = latency(algorithm, protocol, steps) + max(bytes_scaleup / B_up, bytes_scaleout / B_out) / bw_fraction

* `bytes_scaleup` / `bytes_scaleout`: bytes one accelerator moves per direction over its scale-up link
  (NVLink, xGMI, HCCS...) and over its NIC, for the algorithm at hand (derivations per algorithm below).
  The two phases are pipelined chunk by chunk (NCCL runs them concurrently), so the slower one bounds.
* `B_up` = scale-up bandwidth x `software_efficiency.collective` (the catalog's large-message fraction;
  0.8 for CUDA agrees with NCCL's per-link constants 20.6 GB/s x 18 = 370.8 of 450 GB/s on H100,
  20 x 12 = 240 of 300 on A100, 40.1 x 18 = 722 of 900 on B200).
* `B_out` = NIC bandwidth x NIC efficiency 0.96 (nccl-tests #290, #267: 46-49 GB/s per 400G NIC), divided
  by the slowdown of oversubscribed fabric tiers for the traffic that crosses them.
* latency and `bw_fraction` per protocol (LL, LL128, Simple) are NCCL's tuner constants
  (`catalogs/data/collectives.yaml`); the small-message efficiency curve is what they produce:
  busbw(S) = busbw_max * S / (S + latency * algbw_max). With NCCL's Simple ring latencies this
  reproduces SimAI's measured size-efficiency tables for 2-128 nodes to within ~0.05 of the measured
  fraction (docs/collective.md).

Glossary: `ranks` (n) is the group size; `ranks_per_node` (g) is how many members share one scale-up
domain; N = n / g domains. `nbytes` (S) is the nccl-tests "size" (the total buffer per rank: for
all-gather the output, for reduce-scatter the input, for all-to-all the send buffer). busbw = algbw x
`bus_factor(op, n)` exactly as nccl-tests doc/PERFORMANCE.md defines it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from wanka.catalogs import check_keys, load_data
from wanka.errors import CatalogError, ConfigError
from wanka.hardware import Accelerator
from wanka.units import gb_per_s

__all__ = [
    "bandwidth_bound",
    "ALGORITHMS",
    "OPS",
    "PROTOCOLS",
    "TOPOLOGIES",
    "CollectiveEstimate",
    "FabricTier",
    "bus_factor",
    "collective_time",
    "estimate",
    "nvls_supported",
]

OPS = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "broadcast", "send-recv")
ALGORITHMS = ("auto", "ring", "tree", "nvls")
TOPOLOGIES = (
    "full-mesh",
    "fat-tree",
    "rail-optimized",
    "rail-only",
    "multi-plane",
    "dragonfly",
    "torus",
)
PROTOCOLS = ("LL", "LL128", "Simple")

#: Names of the algorithms `estimate` can report (index = internal code).
_ALGO_NAMES = ("ring", "tree", "nvls", "nvls-tree", "nvls+sharp", "sharp", "p2p")
_RING, _TREE, _NVLS, _NVLS_TREE, _NVLS_SHARP, _SHARP, _P2P = range(7)
_US = 1e-6  # microseconds to seconds

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]


# ----------------------------------------------------------------------------------------- fabric record
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


# ------------------------------------------------------------------------------------------- constants
@dataclass(frozen=True, slots=True, kw_only=True)
class _Params:
    """collectives.yaml in SI units (seconds, bytes/s)."""

    bw_fraction: dict[str, float]
    base_s: dict[str, dict[str, float]]  # protocol -> ring|tree -> seconds
    step_s: dict[str, dict[str, dict[str, float]]]  # protocol -> ring|tree -> nvlink|pci|net -> s
    nvls_intra_s: float
    nvls_net_s: float
    nvls_tree_net_s: float
    collnet_intra_s: float
    collnet_net_s: float
    nic_efficiency: float
    sharp_algbw_fraction: float
    fallback_nic_bytes_per_s: float
    hop_latency_s: float
    baseline_hops: float
    fallback_pcie_bytes_per_s: float
    nvls_efficiency: dict[str, float]  # accelerator id -> NVLS efficiency
    nvls_allreduce_cap: dict[str, float]  # accelerator id -> NVLS all-reduce busbw cap, bytes/s
    ll_max_busbw: tuple[float, float, float]  # bytes/s: 1 domain, 2 domains, more
    tree_bw_fraction: float
    tree_size_correction: dict[str, tuple[float, ...]]  # protocol -> factor per log2(size / 64 B)


@cache
def _params() -> _Params:
    d: dict[str, Any] = load_data("collectives.yaml")
    keys = {
        "protocols",
        "in_switch_latency_us",
        "scaleout",
        "scaleup",
        "nvls_families",
        "ll_max_busbw_gb_s",
        "tree",
    }
    check_keys("collectives.yaml", d, keys, keys)
    protos = d["protocols"]
    if set(protos) != set(PROTOCOLS):
        raise CatalogError(
            f"collectives.yaml: protocols must be exactly {PROTOCOLS}, got {sorted(protos)}"
        )
    for p, v in protos.items():
        check_keys(
            f"collectives.yaml protocol {p}",
            v,
            {"bw_fraction", "base_us", "step_us"},
            {"bw_fraction", "base_us", "step_us"},
        )
    sw, so, su = d["in_switch_latency_us"], d["scaleout"], d["scaleup"]
    nvls: dict[str, float] = {}
    nvls_cap: dict[str, float] = {}
    for fam, v in d["nvls_families"].items():
        check_keys(
            f"collectives.yaml nvls family {fam}",
            v,
            {"efficiency", "accelerators", "source", "allreduce_busbw_cap_gb_s"},
            {"efficiency", "accelerators", "source"},
        )
        if not 0 < v["efficiency"] <= 1:
            raise CatalogError(f"collectives.yaml nvls family {fam}: efficiency must be in (0, 1]")
        nvls.update({a: float(v["efficiency"]) for a in v["accelerators"]})
        if v.get("allreduce_busbw_cap_gb_s") is not None:
            cap = gb_per_s(v["allreduce_busbw_cap_gb_s"])
            nvls_cap.update({a: cap for a in v["accelerators"]})
    return _Params(
        bw_fraction={p: float(v["bw_fraction"]) for p, v in protos.items()},
        base_s={p: {a: x * _US for a, x in v["base_us"].items()} for p, v in protos.items()},
        step_s={
            p: {a: {h: x * _US for h, x in hw.items()} for a, hw in v["step_us"].items()}
            for p, v in protos.items()
        },
        nvls_intra_s=sw["nvls_intra"] * _US,
        nvls_net_s=sw["nvls_net"] * _US,
        nvls_tree_net_s=sw["nvls_tree_net"] * _US,
        collnet_intra_s=sw["collnet_intra"] * _US,
        collnet_net_s=sw["collnet_net"] * _US,
        nic_efficiency=float(so["nic_efficiency"]),
        sharp_algbw_fraction=float(so["sharp_algbw_fraction"]),
        fallback_nic_bytes_per_s=gb_per_s(so["fallback_nic_gb_s"]),
        hop_latency_s=so["hop_latency_us"] * _US,
        baseline_hops=float(so["baseline_hops"]),
        fallback_pcie_bytes_per_s=gb_per_s(su["fallback_pcie_gb_s"]),
        nvls_efficiency=nvls,
        nvls_allreduce_cap=nvls_cap,
        ll_max_busbw=tuple(
            gb_per_s(d["ll_max_busbw_gb_s"][k]) for k in ("one_node", "two_nodes", "more_nodes")
        ),  # type: ignore[arg-type]
        tree_bw_fraction=float(d["tree"]["bw_fraction"]),
        tree_size_correction={
            p: tuple(float(x) for x in d["tree"]["size_correction"][p]) for p in PROTOCOLS
        },
    )


def nvls_supported(accelerator: Accelerator) -> bool:
    """Whether the accelerator's scale-up switch does NVLink SHARP (multicast + in-switch reduction)."""
    return accelerator.id in _params().nvls_efficiency


# ---------------------------------------------------------------------------------------------- factors
def bus_factor(op: str, ranks: ArrayLike) -> FloatArray:
    """The nccl-tests busbw/algbw factor (doc/PERFORMANCE.md), vectorised over `ranks`.

    all-reduce 2(n-1)/n; all-gather, reduce-scatter, all-to-all (n-1)/n; broadcast, send-recv 1.

    >>> float(bus_factor("all-reduce", 8))
    1.75
    """
    _check_op(op)
    n = np.asarray(ranks, dtype=np.float64)
    if op == "all-reduce":
        return 2.0 * (n - 1.0) / n
    if op in ("all-gather", "reduce-scatter", "all-to-all"):
        return (n - 1.0) / n
    return np.ones_like(n)


def _check_op(op: str) -> None:
    if op not in OPS:
        raise ConfigError(f"unknown collective {op!r}; choose from {', '.join(OPS)}")


# ----------------------------------------------------------------------------------------------- model
def collective_time(
    op: str,
    nbytes: ArrayLike,
    ranks: ArrayLike,
    ranks_per_node: ArrayLike,
    accelerator: Accelerator,
    *,
    algorithm: str = "auto",
    in_network_reduction: bool = False,
    fabric: FabricTier | None = None,
) -> FloatArray:
    """Seconds one collective takes, numpy-broadcast over `nbytes`, `ranks` and `ranks_per_node`.

    Args:
        op: one of OPS.
        nbytes: the nccl-tests "size" in bytes (total buffer per rank; see the module docstring).
        ranks: group size n (>= 1; n == 1 costs 0 s).
        ranks_per_node: members of the group sharing one scale-up domain (>= 1; values above n are
            clipped to n: a group smaller than a node lives in one node).
        accelerator: the chip (scale-up and NIC bandwidths, collective software efficiency).
        algorithm: ring | tree | nvls | auto (auto = the fastest applicable per element, as NCCL's tuner).
        in_network_reduction: let all-reduce reduce in the scale-out switches (SHARP).
        fabric: the scale-out tier; None = non-blocking fat-tree at the accelerator's NIC speed.

    Returns:
        float64 array of seconds with the broadcast shape of the inputs.

    Raises:
        ConfigError: unknown op/algorithm, negative size, ranks < 1, nvls on a chip without NVLink
            SHARP, tree for a collective other than all-reduce, in-network reduction on a fabric
            without it.
    """
    return _evaluate(
        op,
        nbytes,
        ranks,
        ranks_per_node,
        accelerator,
        algorithm=algorithm,
        in_network_reduction=in_network_reduction,
        fabric=fabric,
        codes=False,
    )[0]


def bandwidth_bound(
    nbytes: float,
    n: int,
    *,
    endpoint_bw: float,
    bisection_bw: float,
    diameter_hops: float,
    hop_latency_s: float,
) -> tuple[float, float]:
    """(all-reduce, all-to-all) seconds of `nbytes` per rank over `n` endpoints of a fabric when no
    accelerator is known (no scale-up data): the bandwidth bound.

    All-reduce 2(N-1)/N S / B_eff (Thakur, Rabenseifner, Gropp 2005, ring), all-to-all
    max(S(N-1)/N / B, N S / 4 / bisection) (half of every rank's bytes cross the bisection),
    B_eff = min(endpoint bandwidth, 2 bisection / N), plus log2 N steps x diameter x hop latency
    (100 ns floor per link hop).
    """
    b, bis = endpoint_bw, bisection_bw
    b_eff = min(b, 2 * bis / n) if n > 1 else b
    steps = max(1, math.ceil(math.log2(max(n, 2))))
    lat = steps * diameter_hops * max(hop_latency_s, 1e-7)  # 100 ns floor per link hop
    ar = 2 * (n - 1) / n * nbytes / b_eff + 2 * lat if n > 1 else 0.0
    a2a = (
        max(nbytes * (n - 1) / n / b, n * nbytes / 4 / bis if bis > 0 else math.inf) + lat
        if n > 1
        else 0.0
    )
    return ar, a2a


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectiveEstimate:
    """One collective, priced: seconds, nccl-tests algbw/busbw (bytes/s) and the algorithm chosen."""

    op: str
    nbytes: float
    ranks: int
    ranks_per_node: int
    time_s: float
    algbw_bytes_per_s: float
    """nbytes / time_s (inf when time_s == 0)."""
    busbw_bytes_per_s: float
    """algbw x bus_factor(op, ranks)."""
    algorithm: str
    """ring, tree, nvls, nvls-tree, nvls+sharp, sharp or p2p (all-to-all, send-recv); none for 1 rank."""
    protocol: str
    """LL, LL128 or Simple (NCCL's protocols); none for 1 rank."""
    tier: str
    """'scale-up' when the group sits in one domain, else 'scale-out'."""


def estimate(
    op: str,
    nbytes: float,
    ranks: int,
    ranks_per_node: int,
    accelerator: Accelerator,
    *,
    algorithm: str = "auto",
    in_network_reduction: bool = False,
    fabric: FabricTier | None = None,
) -> CollectiveEstimate:
    """Scalar wrapper of `collective_time` (same code path) with algbw, busbw and the algorithm chosen."""
    t, a, p = _evaluate(
        op,
        nbytes,
        ranks,
        ranks_per_node,
        accelerator,
        algorithm=algorithm,
        in_network_reduction=in_network_reduction,
        fabric=fabric,
        codes=True,
    )
    time_s = float(t)
    n, g = int(ranks), min(int(ranks_per_node), int(ranks))
    size = float(nbytes)
    if time_s > 0:
        algbw = size / time_s
        busbw = algbw * float(bus_factor(op, n))
    else:
        algbw = math.inf if size > 0 and n > 1 else 0.0
        busbw = 0.0 if n <= 1 or size == 0 else math.inf
    one = n <= 1 or size == 0
    return CollectiveEstimate(
        op=op,
        nbytes=size,
        ranks=n,
        ranks_per_node=g,
        time_s=time_s,
        algbw_bytes_per_s=algbw,
        busbw_bytes_per_s=busbw,
        algorithm="none" if one else _ALGO_NAMES[int(a)],
        protocol="none" if one else PROTOCOLS[int(p)],
        tier="scale-up" if g >= n else "scale-out",
    )


def _evaluate(
    op: str,
    nbytes: ArrayLike,
    ranks: ArrayLike,
    ranks_per_node: ArrayLike,
    acc: Accelerator,
    *,
    algorithm: str,
    in_network_reduction: bool,
    fabric: FabricTier | None,
    codes: bool,
) -> tuple[FloatArray, Any, Any]:
    """The model. Returns (seconds, algorithm codes, protocol codes); codes are None unless asked."""
    out: Any  # bytes per rank over the scale-out NIC: a scalar or an array, per algorithm
    net_lat: Any
    _check_op(op)
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"unknown algorithm {algorithm!r}; choose from {', '.join(ALGORITHMS)}")
    P = _params()
    fab = fabric if fabric is not None else FabricTier()
    if in_network_reduction and not fab.in_network_reduction:
        raise ConfigError(f"the {fab.topology} fabric has no in-network reduction (SHARP)")
    nvls_eff = P.nvls_efficiency.get(acc.id, 0.0)
    if algorithm == "nvls":
        if not nvls_eff:
            raise ConfigError(
                f"{acc.id} has no NVLink SHARP (NVLS); NVLS runs on "
                f"{', '.join(sorted(P.nvls_efficiency))}"
            )
        if op not in ("all-reduce", "all-gather", "reduce-scatter"):
            raise ConfigError(
                f"nvls applies to all-reduce, all-gather and reduce-scatter, not {op}"
            )
    if algorithm == "tree" and op != "all-reduce":
        raise ConfigError(f"tree applies to all-reduce only (as in NCCL), not {op}")
    if op in ("all-to-all", "send-recv") and algorithm not in ("auto", "ring"):
        raise ConfigError(
            f"{op} is point-to-point; algorithm {algorithm!r} does not apply (use auto)"
        )

    S = np.asarray(nbytes, dtype=np.float64)
    n = np.asarray(ranks, dtype=np.float64)
    g_in = np.asarray(ranks_per_node, dtype=np.float64)
    if not (np.all(np.isfinite(S)) and np.all(S >= 0)):
        raise ConfigError("collective size must be a finite number of bytes >= 0")
    if not (np.all(np.isfinite(n)) and np.all(n >= 1)):
        raise ConfigError("ranks must be >= 1")
    if not (np.all(np.isfinite(g_in)) and np.all(g_in >= 1)):
        raise ConfigError("ranks_per_node must be >= 1")
    S, n, g_in = np.broadcast_arrays(S, n, g_in)
    g = np.minimum(g_in, n)  # members per scale-up domain
    N = n / g  # domains the group spans
    multi = n > g  # the group crosses the scale-out network

    # --- link bandwidths (bytes/s per accelerator per direction) ---------------------------------
    if acc.scaleup_bw_bytes_per_s > 0:
        b_up, intra = acc.scaleup_bw_bytes_per_s * acc.software_efficiency.collective, "nvlink"
    else:  # no scale-up fabric: intra-node traffic crosses PCIe (assumed Gen4 x16, collectives.yaml)
        b_up, intra = P.fallback_pcie_bytes_per_s * acc.software_efficiency.collective, "pci"
    nic = fab.bw_bytes_per_s or acc.scaleout_bw_bytes_per_s or P.fallback_nic_bytes_per_s
    b_out = nic * P.nic_efficiency
    hop_lat = P.hop_latency_s if fab.hop_latency_s is None else fab.hop_latency_s
    extra_hop_s = max(0.0, fab.hops - P.baseline_hops) * hop_lat  # added to every network step

    # --- oversubscription: slowdown of the NIC phase for traffic crossing tapered tiers ----------
    # Neighbour patterns (ring, tree, send-recv): a ring ordered by position enters and leaves a block
    # of `size` accelerators once per rail, g flows at NIC speed against size/R of uplink capacity:
    # slowdown max(1, g R / size). All-to-all: the share (n - size)/(n - g) of the NIC bytes leaves the
    # block and runs at NIC/R (R = product of the tapers up to that tier). Rings are hence taper-
    # tolerant and all-to-all is not (Meta's 1:7 pods, network.md section 1.6). SHARP is not slowed:
    # each switch forwards one reduced stream upwards, so the taper carries less than it delivers.
    slow_nb = np.ones_like(n)
    slow_a2a = np.ones_like(n)
    R = 1.0
    for size, r in zip(fab.tier_accelerators, fab.oversubscription):
        R *= r
        crosses = n > size
        slow_nb = np.where(crosses, np.maximum(slow_nb, g * R / size), slow_nb)
        share = np.minimum(np.maximum(n - size, 0.0) / np.maximum(n - g, 1.0), 1.0)
        slow_a2a = np.maximum(slow_a2a, share * R)
    if fab.topology == "torus":
        # k-ary d-cube of N domains: uniform traffic crosses d*k/4 links on average over 2d links per
        # node, so all-to-all runs at 4/(d k) of injection bandwidth (standard torus bisection bound);
        # rings map onto the dimensions (bucket algorithm) at full injection bandwidth.
        k = N ** (1.0 / fab.torus_dims)
        slow_a2a = slow_a2a * np.maximum(1.0, fab.torus_dims * k / 4.0)

    best: FloatArray | None = None
    best_a: Any = None
    best_p: Any = None

    def offer(t: FloatArray, a: int, p: int) -> None:
        nonlocal best, best_a, best_p
        if best is None:
            best = t
            if codes:
                best_a, best_p = np.full(t.shape, a), np.full(t.shape, p)
            return
        better = t < best
        best = np.where(better, t, best)
        if codes:
            best_a = np.where(better, a, best_a)
            best_p = np.where(better, p, best_p)

    zeros = np.zeros_like(n)
    log2N = np.log2(np.maximum(N, 1.0))
    # LL's absolute busbw cap (NCCL llMaxBws) by domain count, as a minimum time per bus byte.
    ll_cap = np.where(
        N <= 1.0, P.ll_max_busbw[0], np.where(N <= 2.0, P.ll_max_busbw[1], P.ll_max_busbw[2])
    )
    bus_bytes = S * bus_factor(op, n)
    log_size = np.log2(
        np.maximum(S, 64.0) / 64.0
    )  # NCCL's tree-correction index, log2(size / 64 B)
    tree_idx = np.arange(len(P.tree_size_correction["Simple"]), dtype=np.float64)

    def offer_protocols(t_bw: FloatArray, lat_fn: Any, a: int) -> None:
        for i, p in enumerate(PROTOCOLS):
            t_p = t_bw / P.bw_fraction[p]
            if a == _TREE:  # NCCL's treeCorrectionFactor(size), 1.0 above 128 MB (collectives.yaml)
                corr = np.interp(log_size, tree_idx, P.tree_size_correction[p], right=1.0)
                t_p = t_p / (P.tree_bw_fraction * corr)
            if p == "LL":
                t_p = np.maximum(t_p, bus_bytes / ll_cap)
            offer(lat_fn(p) + t_p, a, i)

    def ring_lat(nsteps: FloatArray, ninter: FloatArray, kind: str = "ring") -> Any:
        # NCCL: base + (nsteps - nInterSteps) * intraLat + nInterSteps * interLat. NCCL's extra x1.4
        # "plateau" for multi-node Simple rings is left out: without it the constants reproduce SimAI's
        # measured size-efficiency tables (docs/collective.md), with it they underpredict them.
        return lambda p: (
            P.base_s[p][kind]
            + (nsteps - ninter) * P.step_s[p][kind][intra]
            + ninter * (P.step_s[p][kind]["net"] + extra_hop_s)
        )

    if op in ("all-to-all", "send-recv"):
        if op == "all-to-all":
            # Each rank sends S/n to every peer: (n - g)/n of S leaves the domain through its own NIC
            # (NCCL cannot aggregate NICs for all-to-all, nccl-tests #267), (g - 1)/n stays on scale-up.
            out = np.where(multi, S * (n - g) / n, zeros)
            up = np.where(multi, S * (g - 1.0) / n, S * (n - 1.0) / n)
            if fab.topology == "rail-only":
                # no spine: the (g-1)/g of cross-node bytes bound for another rail first hop over
                # scale-up to the GPU on the destination's rail (Wang et al., arXiv 2307.12169).
                up = up + out * (g - 1.0) / g
            t_bw = np.maximum(up / b_up, out * slow_a2a / b_out)
        else:
            # one point-to-point transfer of S per rank; across domains it runs on one NIC.
            out = np.where(multi, S, zeros)
            up = np.where(multi, S if fab.topology == "rail-only" else zeros, S)
            t_bw = np.maximum(up / b_up, out * slow_nb / b_out)
        one = np.ones_like(n)
        offer_protocols(t_bw, ring_lat(one, np.where(multi, one, zeros)), _P2P)
        t = best
    else:
        c = bus_factor(op, n)  # ring data factor per rank: 2(n-1)/n, (n-1)/n or 1
        if op == "all-reduce":
            nsteps, ninter = 2.0 * (n - 1.0), 2.0 * (N - 1.0)
        else:
            nsteps, ninter = n - 1.0, N - 1.0
        ninter = np.where(multi, np.maximum(ninter, 1.0), zeros)

        tree_nic = np.where(N <= 2.0, 1.0, np.where(N <= 3.0, 1.5, 2.0))  # tree NIC bytes / (S/g)
        use_ring = algorithm in ("auto", "ring")
        use_tree = op == "all-reduce" and algorithm in ("auto", "tree")
        use_nvls = (
            bool(nvls_eff)
            and op in ("all-reduce", "all-gather", "reduce-scatter")
            and algorithm in ("auto", "nvls")
        )
        use_sharp = op == "all-reduce" and in_network_reduction and algorithm in ("auto", "tree")

        # Ring (flat, as NCCL): every rank forwards c*S; on a multi-domain ring 1/g of the hops leave
        # the domain through the NIC (one ring per NIC/rail), so a rank moves c*S*(g-1)/g over scale-up
        # and c*S/g through its NIC: busbw <= min(B_up g/(g-1), g B_out) (network.md section 3.2).
        if use_ring or use_nvls:  # ring is also the fallback where NVLS cannot run (g < 2)
            up = np.where(multi, c * S * (g - 1.0) / g, c * S)
            out = np.where(multi, c * S / g, zeros)
            t_ring = np.maximum(up / b_up, out * slow_nb / b_out)
            if not use_ring:
                t_ring = np.where(g >= 2, np.inf, t_ring)
            offer_protocols(t_ring, ring_lat(nsteps, ninter), _RING)
        if use_tree:
            # NCCL tree all-reduce: chain inside the domain (reduce up, broadcast down: 2S(g-1)/g per
            # rank), double binary tree across domains: an interior node receives S from its children
            # and sends S/2 + S per direction in the two trees, ~2S per node over its g NICs; with 2
            # (3) nodes every node is a root or a leaf and moves S (1.5 S): NCCL/SimAI's x2 (x4/3)
            # busbw on 2 (3) nodes (network.md section 4). Latency base + 2((g-1) intraLat + log2(N) netLat).
            up = 2.0 * S * (g - 1.0) / g
            out = np.where(multi, tree_nic * S / g, zeros)
            t_tree = np.maximum(up / b_up, out * slow_nb / b_out)
            if algorithm == "auto":
                t_tree = np.where(multi, t_tree, np.inf)  # NCCL runs trees only across nodes
            elif use_sharp:
                t_tree = np.where(
                    multi, np.inf, t_tree
                )  # tree + SHARP = the switches' reduction tree
            offer_protocols(
                t_tree,
                lambda p: (
                    P.base_s[p]["tree"]
                    + 2.0
                    * (
                        (g - 1.0) * P.step_s[p]["tree"][intra]
                        + log2N * (P.step_s[p]["tree"]["net"] + extra_hop_s)
                    )
                ),
                _TREE,
            )
        if use_sharp:
            # SHARP (NCCL CollNet): ring reduce-scatter / all-gather inside the domain (2S(g-1)/g per rank
            # over scale-up), one reduction round trip through the switches for the S/g shard; the NIC
            # phase runs at sharp_algbw_fraction of the node's NIC bandwidth (collectives.yaml).
            up = 2.0 * S * (g - 1.0) / g
            out = S / (g * P.sharp_algbw_fraction)
            t_sh = np.where(multi, np.maximum(up / b_up, out / b_out), np.inf)
            lat = 2.0 * (g - 1.0) * P.collnet_intra_s + P.collnet_net_s + extra_hop_s
            offer(lat + t_sh, _SHARP, PROTOCOLS.index("Simple"))
        if use_nvls:
            # NVLink SHARP inside the domain. All-reduce = multimem reduce-scatter + multicast all-gather:
            # a rank's link carries S (its data to the switch) + S/g (its reduced shard) per direction,
            # S(1 + 1/g) in all, at the NVLS efficiency (NCCL nvlsEfficiency). All-gather/reduce-scatter:
            # S(g-1)/g per rank, as a ring, at the NVLS efficiency (NVLS saves SMs, not bandwidth).
            b_nvls = b_up * nvls_eff
            if op == "all-reduce":
                # The switches' reduction throughput caps the busbw (measured flat in g on NVL72: the
                # 2(g-1)/(g+1) growth of the link-bound term stops at the cap, collectives.yaml).
                cap = P.nvls_allreduce_cap.get(acc.id, np.inf)
                up = np.maximum(S * (1.0 + 1.0 / g), 2.0 * S * (g - 1.0) / g * b_nvls / cap)
                if in_network_reduction:  # NVLS + SHARP across domains (NCCL "NVLS" multi-node)
                    out = S / (g * P.sharp_algbw_fraction)
                    net_lat = P.nvls_net_s + extra_hop_s
                    code_multi = _NVLS_SHARP
                else:  # NVLSTree: NVLS inside, tree across (as the tree above)
                    out = tree_nic * S / g * slow_nb
                    net_lat = 2.0 * log2N * (P.nvls_tree_net_s + extra_hop_s)
                    code_multi = _NVLS_TREE
            else:
                up = S * (g - 1.0) / g
                out = S * (N - 1.0) / N / g * slow_nb  # rail-wise ring across domains on S/g
                net_lat = (N - 1.0) * (P.step_s["Simple"]["ring"]["net"] + extra_hop_s)
                code_multi = _NVLS
            out = np.where(multi, out, zeros)
            t_nv = (
                P.nvls_intra_s
                + np.where(multi, net_lat, zeros)
                + np.maximum(up / b_nvls, out / b_out)
            )
            t_nv = np.where(g >= 2, t_nv, np.inf)  # needs at least two ranks on one switch
            simple = PROTOCOLS.index("Simple")
            if codes:  # report the multi-domain variant's name where the group crosses domains
                offer(np.where(multi, np.inf, t_nv), _NVLS, simple)
                offer(np.where(multi, t_nv, np.inf), code_multi, simple)
            else:
                offer(t_nv, code_multi, simple)
        t = best

    assert t is not None
    done = (n <= 1) | (S == 0)
    t = np.where(done, 0.0, t)
    return t, best_a, best_p
