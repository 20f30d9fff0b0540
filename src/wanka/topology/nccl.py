"""NCCL's tuner constants (`catalogs/data/collectives.yaml`, in SI units) and nccl-tests' bus factor:
the numbers the collective model (`topology.collective`) is built from."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from wanka.catalogs import check_keys, load_data
from wanka.errors import CatalogError, ConfigError
from wanka.units import gb_per_s

__all__ = ["OPS", "PROTOCOLS", "Params", "bus_factor", "check_op", "params"]

OPS = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "broadcast", "send-recv")
PROTOCOLS = ("LL", "LL128", "Simple")
_US = 1e-6  # microseconds to seconds

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class Params:
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
def params() -> Params:
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
    return Params(
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


def bus_factor(op: str, ranks: npt.ArrayLike) -> FloatArray:
    """The nccl-tests busbw/algbw factor (doc/PERFORMANCE.md), vectorised over `ranks`.

    all-reduce 2(n-1)/n; all-gather, reduce-scatter, all-to-all (n-1)/n; broadcast, send-recv 1.

    >>> float(bus_factor("all-reduce", 8))
    1.75
    """
    check_op(op)
    n = np.asarray(ranks, dtype=np.float64)
    if op == "all-reduce":
        return 2.0 * (n - 1.0) / n
    if op in ("all-gather", "reduce-scatter", "all-to-all"):
        return (n - 1.0) / n
    return np.ones_like(n)


def check_op(op: str) -> None:
    if op not in OPS:
        raise ConfigError(f"unknown collective {op!r}; choose from {', '.join(OPS)}")
