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
from typing import Any

import numpy as np
import numpy.typing as npt

from wanka.errors import ConfigError
from wanka.hardware import Accelerator
from wanka.topology import algorithms as terms
from wanka.topology.nccl import OPS, PROTOCOLS, Params, bus_factor, check_op, params
from wanka.topology.tier import TOPOLOGIES, FabricTier

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

ALGORITHMS = ("auto", "ring", "tree", "nvls")

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]


def nvls_supported(accelerator: Accelerator) -> bool:
    """Whether the accelerator's scale-up switch does NVLink SHARP (multicast + in-switch reduction)."""
    return accelerator.id in params().nvls_efficiency


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
        algorithm="none" if one else terms.ALGO_NAMES[int(a)],
        protocol="none" if one else PROTOCOLS[int(p)],
        tier="scale-up" if g >= n else "scale-out",
    )


def _check_algorithm(
    op: str,
    algorithm: str,
    in_network_reduction: bool,
    fab: FabricTier,
    acc: Accelerator,
    P: Params,
) -> float:
    """One-line ConfigErrors for an algorithm that cannot run here; the chip's NVLS efficiency."""
    check_op(op)
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"unknown algorithm {algorithm!r}; choose from {', '.join(ALGORITHMS)}")
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
    return nvls_eff


def _arrays(
    nbytes: ArrayLike, ranks: ArrayLike, ranks_per_node: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(S, n, g) checked and broadcast to one shape."""
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
    return S, n, g_in


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
    """The model: the fastest applicable algorithm and protocol per element (`topology.algorithms`).
    Returns (seconds, algorithm codes, protocol codes); codes are None unless asked."""
    P = params()
    fab = fabric if fabric is not None else FabricTier()
    nvls_eff = _check_algorithm(op, algorithm, in_network_reduction, fab, acc, P)
    S, n, g_in = _arrays(nbytes, ranks, ranks_per_node)
    G = terms.group(op, S, n, g_in, acc, fab, P)
    best = terms.Best(G, codes)
    if op in ("all-to-all", "send-recv"):
        terms.point_to_point(G, best)
    else:
        reduce_ops = ("all-reduce", "all-gather", "reduce-scatter")
        use_ring = algorithm in ("auto", "ring")
        use_tree = op == "all-reduce" and algorithm in ("auto", "tree")
        use_nvls = bool(nvls_eff) and op in reduce_ops and algorithm in ("auto", "nvls")
        use_sharp = op == "all-reduce" and in_network_reduction and algorithm in ("auto", "tree")
        if use_ring or use_nvls:  # ring is also the fallback where NVLS cannot run (g < 2)
            terms.ring(G, best, fallback_only=not use_ring)
        if use_tree:
            terms.tree(G, best, auto=algorithm == "auto", with_sharp=use_sharp)
        if use_sharp:
            terms.sharp(G, best)
        if use_nvls:
            terms.nvls(G, best, acc, nvls_eff, with_sharp=in_network_reduction)
    t = best.t
    assert t is not None
    done = (n <= 1) | (S == 0)
    return np.where(done, 0.0, t), best.a, best.p
