"""The collective model's terms, one per algorithm (NCCL's ring, tree, CollNet/SHARP, NVLS and the
point-to-point patterns), each a small function over the same broadcast arrays (`Group`).

Every term offers its time per protocol to a `Best` accumulator, which keeps the fastest per element
(NCCL's tuner). Derivations: the comments at each term and the module docstring of `topology.collective`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from wanka.hardware import Accelerator
from wanka.topology.nccl import PROTOCOLS, Params, bus_factor
from wanka.topology.tier import FabricTier

__all__ = [
    "ALGO_NAMES",
    "Best",
    "Group",
    "group",
    "nvls",
    "point_to_point",
    "ring",
    "sharp",
    "tree",
]

FloatArray = npt.NDArray[np.float64]

#: Names of the algorithms `estimate` can report (index = internal code).
ALGO_NAMES = ("ring", "tree", "nvls", "nvls-tree", "nvls+sharp", "sharp", "p2p")
_RING, _TREE, _NVLS, _NVLS_TREE, _NVLS_SHARP, _SHARP, _P2P = range(7)
_SIMPLE = PROTOCOLS.index("Simple")


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """One collective's inputs as broadcast arrays, and what every term shares."""

    op: str
    S: FloatArray
    """Bytes (nccl-tests size)."""
    n: FloatArray
    """Ranks."""
    g: FloatArray
    """Ranks per scale-up domain (<= n)."""
    N: FloatArray
    """Domains the group spans."""
    multi: Any
    """Whether the group crosses the scale-out network."""
    b_up: float
    b_out: float
    intra: str
    """The scale-up step-latency key: nvlink, or pci without a scale-up fabric."""
    extra_hop_s: float
    """Latency added to every network step for hops beyond NCCL's baseline."""
    slow_nb: FloatArray
    """NIC-phase slowdown of neighbour patterns (ring, tree, send-recv) from tapered tiers."""
    slow_a2a: FloatArray
    """NIC-phase slowdown of all-to-all."""
    topology: str
    P: Params

    @property
    def zeros(self) -> FloatArray:
        return np.zeros_like(self.n)

    def ring_lat(self, nsteps: Any, ninter: Any, kind: str = "ring") -> Callable[[str], Any]:
        """NCCL: base + (nsteps - nInterSteps) * intraLat + nInterSteps * interLat. NCCL's extra x1.4
        "plateau" for multi-node Simple rings is left out: without it the constants reproduce SimAI's
        measured size-efficiency tables (docs/collective.md), with it they underpredict them."""
        P, intra, extra = self.P, self.intra, self.extra_hop_s
        return lambda p: (
            P.base_s[p][kind]
            + (nsteps - ninter) * P.step_s[p][kind][intra]
            + ninter * (P.step_s[p][kind]["net"] + extra)
        )


def _links(acc: Accelerator, fab: FabricTier, P: Params) -> tuple[float, str, float, float]:
    """(B_up, intra latency key, B_out, extra latency per network step)."""
    if acc.scaleup_bw_bytes_per_s > 0:
        b_up, intra = acc.scaleup_bw_bytes_per_s * acc.software_efficiency.collective, "nvlink"
    else:  # no scale-up fabric: intra-node traffic crosses PCIe (assumed Gen4 x16, collectives.yaml)
        b_up, intra = P.fallback_pcie_bytes_per_s * acc.software_efficiency.collective, "pci"
    nic = fab.bw_bytes_per_s or acc.scaleout_bw_bytes_per_s or P.fallback_nic_bytes_per_s
    b_out = nic * P.nic_efficiency
    hop_lat = P.hop_latency_s if fab.hop_latency_s is None else fab.hop_latency_s
    extra_hop_s = max(0.0, fab.hops - P.baseline_hops) * hop_lat  # added to every network step
    return b_up, intra, b_out, extra_hop_s


def _slowdowns(
    fab: FabricTier, n: FloatArray, g: FloatArray, N: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Slowdown of the NIC phase for traffic crossing tapered tiers: (neighbour patterns, all-to-all).

    Neighbour patterns (ring, tree, send-recv): a ring ordered by position enters and leaves a block
    of `size` accelerators once per rail, g flows at NIC speed against size/R of uplink capacity:
    slowdown max(1, g R / size). All-to-all: the share (n - size)/(n - g) of the NIC bytes leaves the
    block and runs at NIC/R (R = product of the tapers up to that tier). Rings are hence taper-
    tolerant and all-to-all is not (Meta's 1:7 pods, network.md section 1.6). SHARP is not slowed:
    each switch forwards one reduced stream upwards, so the taper carries less than it delivers.
    """
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
    return slow_nb, slow_a2a


def group(
    op: str, S: FloatArray, n: FloatArray, g_in: FloatArray, acc: Accelerator, fab: FabricTier,
    P: Params,
) -> Group:  # fmt: skip
    """The shared arrays of one collective (inputs already checked and broadcast)."""
    g = np.minimum(g_in, n)  # members per scale-up domain
    N = n / g  # domains the group spans
    b_up, intra, b_out, extra_hop_s = _links(acc, fab, P)
    slow_nb, slow_a2a = _slowdowns(fab, n, g, N)
    return Group(
        op=op, S=S, n=n, g=g, N=N, multi=n > g, b_up=b_up, b_out=b_out, intra=intra,
        extra_hop_s=extra_hop_s, slow_nb=slow_nb, slow_a2a=slow_a2a, topology=fab.topology, P=P,
    )  # fmt: skip


class Best:
    """The fastest time offered so far per element, with its algorithm and protocol codes."""

    def __init__(self, G: Group, codes: bool) -> None:
        self.codes = codes
        self.t: FloatArray | None = None
        self.a: Any = None
        self.p: Any = None
        P, N, S = G.P, G.N, G.S
        # LL's absolute busbw cap (NCCL llMaxBws) by domain count, as a minimum time per bus byte.
        self._ll_cap = np.where(
            N <= 1.0, P.ll_max_busbw[0], np.where(N <= 2.0, P.ll_max_busbw[1], P.ll_max_busbw[2])
        )
        self._bus_bytes = S * bus_factor(G.op, G.n)
        # NCCL's tree-correction index, log2(size / 64 B)
        self._log_size = np.log2(np.maximum(S, 64.0) / 64.0)
        self._tree_idx = np.arange(len(P.tree_size_correction["Simple"]), dtype=np.float64)
        self._P = P

    def offer(self, t: FloatArray, a: int, p: int) -> None:
        if self.t is None:
            self.t = t
            if self.codes:
                self.a, self.p = np.full(t.shape, a), np.full(t.shape, p)
            return
        better = t < self.t
        self.t = np.where(better, t, self.t)
        if self.codes:
            self.a = np.where(better, a, self.a)
            self.p = np.where(better, p, self.p)

    def offer_protocols(self, t_bw: FloatArray, lat_fn: Callable[[str], Any], a: int) -> None:
        """Algorithm `a`'s bandwidth time under each protocol (its bw fraction, LL's cap, the tree's
        size correction), plus the protocol's latency."""
        P = self._P
        for i, p in enumerate(PROTOCOLS):
            t_p = t_bw / P.bw_fraction[p]
            if a == _TREE:  # NCCL's treeCorrectionFactor(size), 1.0 above 128 MB (collectives.yaml)
                corr = np.interp(
                    self._log_size, self._tree_idx, P.tree_size_correction[p], right=1.0
                )
                t_p = t_p / (P.tree_bw_fraction * corr)
            if p == "LL":
                t_p = np.maximum(t_p, self._bus_bytes / self._ll_cap)
            self.offer(lat_fn(p) + t_p, a, i)


def point_to_point(G: Group, best: Best) -> None:
    """All-to-all and send-recv."""
    S, n, g, multi, zeros = G.S, G.n, G.g, G.multi, G.zeros
    if G.op == "all-to-all":
        # Each rank sends S/n to every peer: (n - g)/n of S leaves the domain through its own NIC
        # (NCCL cannot aggregate NICs for all-to-all, nccl-tests #267), (g - 1)/n stays on scale-up.
        out = np.where(multi, S * (n - g) / n, zeros)
        up = np.where(multi, S * (g - 1.0) / n, S * (n - 1.0) / n)
        if G.topology == "rail-only":
            # no spine: the (g-1)/g of cross-node bytes bound for another rail first hop over
            # scale-up to the GPU on the destination's rail (Wang et al., arXiv 2307.12169).
            up = up + out * (g - 1.0) / g
        t_bw = np.maximum(up / G.b_up, out * G.slow_a2a / G.b_out)
    else:
        # one point-to-point transfer of S per rank; across domains it runs on one NIC.
        out = np.where(multi, S, zeros)
        up = np.where(multi, S if G.topology == "rail-only" else zeros, S)
        t_bw = np.maximum(up / G.b_up, out * G.slow_nb / G.b_out)
    one = np.ones_like(n)
    best.offer_protocols(t_bw, G.ring_lat(one, np.where(multi, one, zeros)), _P2P)


def ring(G: Group, best: Best, *, fallback_only: bool) -> None:
    """Ring (flat, as NCCL): every rank forwards c*S; on a multi-domain ring 1/g of the hops leave
    the domain through the NIC (one ring per NIC/rail), so a rank moves c*S*(g-1)/g over scale-up
    and c*S/g through its NIC: busbw <= min(B_up g/(g-1), g B_out) (network.md section 3.2).
    `fallback_only`: the ring only where NVLS cannot run (g < 2)."""
    S, n, g, N, multi = G.S, G.n, G.g, G.N, G.multi
    c = bus_factor(G.op, n)  # ring data factor per rank: 2(n-1)/n, (n-1)/n or 1
    if G.op == "all-reduce":
        nsteps, ninter = 2.0 * (n - 1.0), 2.0 * (N - 1.0)
    else:
        nsteps, ninter = n - 1.0, N - 1.0
    ninter = np.where(multi, np.maximum(ninter, 1.0), G.zeros)
    up = np.where(multi, c * S * (g - 1.0) / g, c * S)
    out = np.where(multi, c * S / g, G.zeros)
    t_ring = np.maximum(up / G.b_up, out * G.slow_nb / G.b_out)
    if fallback_only:
        t_ring = np.where(g >= 2, np.inf, t_ring)
    best.offer_protocols(t_ring, G.ring_lat(nsteps, ninter), _RING)


def _tree_nic(N: FloatArray) -> FloatArray:
    """Tree NIC bytes / (S/g): 1 on 2 domains, 1.5 on 3, 2 beyond."""
    return np.where(N <= 2.0, 1.0, np.where(N <= 3.0, 1.5, 2.0))


def tree(G: Group, best: Best, *, auto: bool, with_sharp: bool) -> None:
    """NCCL tree all-reduce: chain inside the domain (reduce up, broadcast down: 2S(g-1)/g per
    rank), double binary tree across domains: an interior node receives S from its children
    and sends S/2 + S per direction in the two trees, ~2S per node over its g NICs; with 2
    (3) nodes every node is a root or a leaf and moves S (1.5 S): NCCL/SimAI's x2 (x4/3)
    busbw on 2 (3) nodes (network.md section 4). Latency base + 2((g-1) intraLat + log2(N) netLat)."""
    S, g, multi, P = G.S, G.g, G.multi, G.P
    up = 2.0 * S * (g - 1.0) / g
    out = np.where(multi, _tree_nic(G.N) * S / g, G.zeros)
    t_tree = np.maximum(up / G.b_up, out * G.slow_nb / G.b_out)
    if auto:
        t_tree = np.where(multi, t_tree, np.inf)  # NCCL runs trees only across nodes
    elif with_sharp:
        t_tree = np.where(multi, np.inf, t_tree)  # tree + SHARP = the switches' reduction tree
    log2N = np.log2(np.maximum(G.N, 1.0))
    intra, extra = G.intra, G.extra_hop_s
    best.offer_protocols(
        t_tree,
        lambda p: (
            P.base_s[p]["tree"]
            + 2.0
            * (
                (g - 1.0) * P.step_s[p]["tree"][intra]
                + log2N * (P.step_s[p]["tree"]["net"] + extra)
            )
        ),
        _TREE,
    )


def sharp(G: Group, best: Best) -> None:
    """SHARP (NCCL CollNet): ring reduce-scatter / all-gather inside the domain (2S(g-1)/g per rank
    over scale-up), one reduction round trip through the switches for the S/g shard; the NIC
    phase runs at sharp_algbw_fraction of the node's NIC bandwidth (collectives.yaml)."""
    S, g, P = G.S, G.g, G.P
    up = 2.0 * S * (g - 1.0) / g
    out = S / (g * P.sharp_algbw_fraction)
    t_sh = np.where(G.multi, np.maximum(up / G.b_up, out / G.b_out), np.inf)
    lat = 2.0 * (g - 1.0) * P.collnet_intra_s + P.collnet_net_s + G.extra_hop_s
    best.offer(lat + t_sh, _SHARP, _SIMPLE)


def nvls(G: Group, best: Best, acc: Accelerator, nvls_eff: float, *, with_sharp: bool) -> None:
    """NVLink SHARP inside the domain. All-reduce = multimem reduce-scatter + multicast all-gather:
    a rank's link carries S (its data to the switch) + S/g (its reduced shard) per direction,
    S(1 + 1/g) in all, at the NVLS efficiency (NCCL nvlsEfficiency). All-gather/reduce-scatter:
    S(g-1)/g per rank, as a ring, at the NVLS efficiency (NVLS saves SMs, not bandwidth)."""
    S, g, N, multi, P = G.S, G.g, G.N, G.multi, G.P
    out: Any
    net_lat: Any
    b_nvls = G.b_up * nvls_eff
    if G.op == "all-reduce":
        # The switches' reduction throughput caps the busbw (measured flat in g on NVL72: the
        # 2(g-1)/(g+1) growth of the link-bound term stops at the cap, collectives.yaml).
        cap = P.nvls_allreduce_cap.get(acc.id, np.inf)
        up = np.maximum(S * (1.0 + 1.0 / g), 2.0 * S * (g - 1.0) / g * b_nvls / cap)
        if with_sharp:  # NVLS + SHARP across domains (NCCL "NVLS" multi-node)
            out = S / (g * P.sharp_algbw_fraction)
            net_lat = P.nvls_net_s + G.extra_hop_s
            code_multi = _NVLS_SHARP
        else:  # NVLSTree: NVLS inside, tree across (as the tree above)
            out = _tree_nic(N) * S / g * G.slow_nb
            net_lat = 2.0 * np.log2(np.maximum(N, 1.0)) * (P.nvls_tree_net_s + G.extra_hop_s)
            code_multi = _NVLS_TREE
    else:
        up = S * (g - 1.0) / g
        out = S * (N - 1.0) / N / g * G.slow_nb  # rail-wise ring across domains on S/g
        net_lat = (N - 1.0) * (P.step_s["Simple"]["ring"]["net"] + G.extra_hop_s)
        code_multi = _NVLS
    out = np.where(multi, out, G.zeros)
    t_nv = (
        P.nvls_intra_s + np.where(multi, net_lat, G.zeros) + np.maximum(up / b_nvls, out / G.b_out)
    )
    t_nv = np.where(g >= 2, t_nv, np.inf)  # needs at least two ranks on one switch
    if best.codes:  # report the multi-domain variant's name where the group crosses domains
        best.offer(np.where(multi, np.inf, t_nv), _NVLS, _SIMPLE)
        best.offer(np.where(multi, t_nv, np.inf), code_multi, _SIMPLE)
    else:
        best.offer(t_nv, code_multi, _SIMPLE)
