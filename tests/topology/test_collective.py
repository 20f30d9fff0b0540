"""Tests of the communication model (wanka.topology.collective)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from wanka.catalogs import get_accelerator
from wanka.errors import ConfigError
from wanka.topology.collective import (
    ALGORITHMS,
    OPS,
    FabricTier,
    bus_factor,
    collective_time,
    estimate,
    nvls_supported,
)

DATA = Path(__file__).parent / "data" / "collective_checks.yaml"
CHECKS = yaml.safe_load(DATA.read_text())
H100 = get_accelerator("h100-sxm")
A100 = get_accelerator("a100-80gb")
MI300X = get_accelerator("mi300x")
BIG = 64 * 2**30  # bytes: large enough that latency is < 1% of the time

# ------------------------------------------------------------------------------------- bus factors


@pytest.mark.parametrize(
    "op, n, factor",
    [
        ("all-reduce", 8, 2 * 7 / 8),  # 2(n-1)/n
        ("all-reduce", 2, 1.0),
        ("all-gather", 8, 7 / 8),  # (n-1)/n
        ("reduce-scatter", 16, 15 / 16),
        ("all-to-all", 4, 3 / 4),
        ("broadcast", 8, 1.0),  # 1
        ("send-recv", 8, 1.0),
    ],
)
def test_bus_factor_matches_nccl_tests(op: str, n: int, factor: float) -> None:
    """bus_factor is the nccl-tests doc/PERFORMANCE.md busbw/algbw factor."""
    assert float(bus_factor(op, n)) == pytest.approx(factor)


def test_bus_factor_vectorised() -> None:
    """bus_factor broadcasts over an array of group sizes."""
    np.testing.assert_allclose(bus_factor("all-reduce", np.array([2, 4, 8])), [1.0, 1.5, 1.75])


@pytest.mark.parametrize("op", OPS)
def test_busbw_is_the_link_speed_for_every_collective(op: str) -> None:
    """Inside one domain, large-message busbw of each collective is the effective link bandwidth,
    whatever the group size: that is what the nccl-tests factor is designed to show."""
    link = H100.scaleup_bw_bytes_per_s * H100.software_efficiency.collective
    for n in (2, 4, 8):
        algo = "ring" if op not in ("all-to-all", "send-recv") else "auto"
        e = estimate(op, BIG, n, n, H100, algorithm=algo)
        assert e.busbw_bytes_per_s == pytest.approx(link, rel=0.01), (op, n)
        assert e.busbw_bytes_per_s == pytest.approx(e.algbw_bytes_per_s * float(bus_factor(op, n)))


def test_multi_node_ring_is_nic_bound() -> None:
    """Across DGX H100 nodes a ring all-reduce runs at 8 NICs x ~48 GB/s (nccl-tests #290)."""
    e = estimate("all-reduce", BIG, 256, 8, H100, algorithm="ring")
    assert 8 * 46e9 <= e.busbw_bytes_per_s <= 8 * 50e9
    assert e.tier == "scale-out"


def test_all_to_all_cross_node_share_is_nic_bound() -> None:
    """All-to-all: (n - g)/n of the data leaves the node through one NIC per GPU."""
    e = estimate("all-to-all", BIG, 32, 8, H100)
    nic = H100.scaleout_bw_bytes_per_s
    assert e.algbw_bytes_per_s == pytest.approx(0.96 * nic * 32 / 24, rel=0.01)


def test_send_recv_uses_the_right_tier() -> None:
    """send-recv runs on scale-up inside a domain and on one NIC across domains."""
    inside = estimate("send-recv", BIG, 2, 2, H100)
    across = estimate("send-recv", BIG, 2, 1, H100)
    assert inside.busbw_bytes_per_s > 5 * across.busbw_bytes_per_s
    assert across.busbw_bytes_per_s <= H100.scaleout_bw_bytes_per_s


# ------------------------------------------------------------------------------ in-network reduction


def test_nvls_beats_link_bound_ring() -> None:
    """NVLS all-reduce busbw exceeds the link (nccl-tests #366: expected for in-switch reduction)."""
    nv = estimate("all-reduce", BIG, 8, 8, H100, algorithm="nvls")
    ring = estimate("all-reduce", BIG, 8, 8, H100, algorithm="ring")
    assert nv.busbw_bytes_per_s > H100.scaleup_bw_bytes_per_s * H100.software_efficiency.collective
    assert nv.time_s < ring.time_s
    assert nv.algorithm == "nvls"


def test_nvls_support_comes_from_the_data_file() -> None:
    """NVLS applies to Hopper/Blackwell NVSwitch systems, not to A100 or MI300X."""
    assert nvls_supported(H100) and nvls_supported(get_accelerator("gb200"))
    assert not nvls_supported(A100) and not nvls_supported(MI300X)
    with pytest.raises(ConfigError, match="NVLS"):
        collective_time("all-reduce", 1e9, 8, 8, A100, algorithm="nvls")


def test_sharp_cuts_small_message_latency() -> None:
    """SHARP replaces 2(N-1) network steps by one round trip: small all-reduces get faster."""
    plain = estimate("all-reduce", 1 << 20, 1024, 8, A100)
    sharp = estimate("all-reduce", 1 << 20, 1024, 8, A100, in_network_reduction=True)
    assert sharp.time_s < plain.time_s
    assert sharp.algorithm == "sharp"


def test_in_network_reduction_needs_a_capable_fabric() -> None:
    """A fabric without switches (full mesh) cannot reduce in the network."""
    with pytest.raises(ConfigError, match="in-network"):
        collective_time(
            "all-reduce",
            1e9,
            64,
            8,
            H100,
            in_network_reduction=True,
            fabric=FabricTier.for_topology("full-mesh"),
        )


# ---------------------------------------------------------------------------------------- fabrics


def test_oversubscription_slows_cross_pod_all_to_all_not_rings() -> None:
    """A 4:1 taper above 256-GPU pods slows all-to-all across pods, rings hardly at all."""
    flat = FabricTier()
    taper = FabricTier(tier_accelerators=(256,), oversubscription=(4.0,))
    a2a = [collective_time("all-to-all", 1e9, 2048, 8, H100, fabric=f) for f in (flat, taper)]
    ring = [
        collective_time("all-reduce", 1e9, 2048, 8, H100, algorithm="ring", fabric=f)
        for f in (flat, taper)
    ]
    inside = [collective_time("all-to-all", 1e9, 256, 8, H100, fabric=f) for f in (flat, taper)]
    assert a2a[1] > 3.0 * a2a[0]
    assert ring[1] == pytest.approx(ring[0])
    assert inside[1] == pytest.approx(inside[0])


def test_rail_only_and_torus_never_faster_than_fat_tree() -> None:
    """Rail-only adds a scale-up hop to cross-rail all-to-all; a torus all-to-all is bisection bound."""
    base = collective_time("all-to-all", 1e9, 4096, 8, A100)
    for topo in ("rail-only", "torus"):
        t = collective_time("all-to-all", 1e9, 4096, 8, A100, fabric=FabricTier.for_topology(topo))
        assert t >= base
    torus = collective_time(
        "all-to-all", 1e9, 4096, 8, A100, fabric=FabricTier.for_topology("torus")
    )
    assert torus > 2 * base


def test_fabric_bandwidth_override() -> None:
    """A fabric with half the NIC bandwidth makes NIC-bound collectives about twice as slow."""
    slow = FabricTier(bw_bytes_per_s=H100.scaleout_bw_bytes_per_s / 2)
    t1 = collective_time("all-to-all", BIG, 64, 8, H100)
    t2 = collective_time("all-to-all", BIG, 64, 8, H100, fabric=slow)
    assert t2 == pytest.approx(2 * t1, rel=0.01)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"topology": "hypercube"},
        {"tier_accelerators": (256,)},  # lengths differ
        {"tier_accelerators": (256,), "oversubscription": (0.5,)},
        {"bw_bytes_per_s": 0.0},
        {"hops": -1.0},
    ],
)
def test_fabric_tier_validates(kwargs: dict) -> None:
    """FabricTier rejects unknown topologies and impossible numbers."""
    with pytest.raises(ConfigError):
        FabricTier(**kwargs)


# ------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call",
    [
        lambda: collective_time("all-sum", 1e9, 8, 8, H100),
        lambda: collective_time("all-reduce", 1e9, 8, 8, H100, algorithm="butterfly"),
        lambda: collective_time("all-reduce", -1.0, 8, 8, H100),
        lambda: collective_time("all-reduce", 1e9, 0, 8, H100),
        lambda: collective_time("all-reduce", 1e9, 8, 0, H100),
        lambda: collective_time("all-gather", 1e9, 8, 8, H100, algorithm="tree"),
        lambda: collective_time("all-to-all", 1e9, 8, 8, H100, algorithm="nvls"),
    ],
)
def test_bad_input_raises_config_error(call) -> None:
    """Unknown names and impossible sizes are ConfigErrors (the CLI's one-line error)."""
    with pytest.raises(ConfigError):
        call()


# ------------------------------------------------------------------------------------ properties

ops = st.sampled_from(OPS)
sizes = st.floats(min_value=1.0, max_value=1e11, allow_nan=False)
groups = st.sampled_from([(2, 2), (8, 8), (16, 8), (64, 8), (1024, 8), (64, 1), (4, 1), (144, 72)])
accs = st.sampled_from(["h100-sxm", "a100-80gb", "mi300x", "gb200", "ascend-910b", "tpu-v4"])


def _algo_for(op: str, algo: str) -> str:
    if op in ("all-to-all", "send-recv"):
        return "auto"
    if algo == "tree" and op != "all-reduce":
        return "ring"
    return algo


@settings(max_examples=60, deadline=None)
@given(
    op=ops,
    s1=sizes,
    s2=sizes,
    grp=groups,
    acc=accs,
    inr=st.booleans(),
    algo=st.sampled_from(["auto", "ring", "tree"]),
)
def test_time_non_decreasing_in_bytes(op, s1, s2, grp, acc, inr, algo) -> None:
    """More bytes never take less time."""
    a = get_accelerator(acc)
    lo, hi = sorted((s1, s2))
    t = collective_time(
        op,
        np.array([lo, hi]),
        grp[0],
        grp[1],
        a,
        algorithm=_algo_for(op, algo),
        in_network_reduction=inr,
    )
    assert t[0] <= t[1] * (1 + 1e-12)


def _physical_busbw_bound(op: str, n: int, g: int, acc) -> float:
    """Raw link bound on busbw, derived independently from the model (no efficiencies)."""
    up = (
        acc.scaleup_bw_bytes_per_s or 32e9
    )  # PCIe Gen5 x16 as a generous ceiling where there is none
    nic = acc.scaleout_bw_bytes_per_s or 12.5e9
    if g >= n:
        return up
    if op == "all-to-all":
        return nic * (n - 1) / (n - g)  # only the cross-domain share must cross the NIC
    if op in ("send-recv", "broadcast"):
        return nic if op == "send-recv" else g * nic
    # Each of the N = n/g domains must push at least (N-1)/N of S (reduce-scatter, all-gather) or twice
    # that (all-reduce) through its g NICs (Patarasuk & Yuan 2009 bandwidth lower bound), while busbw
    # counts (n-1)/n or 2(n-1)/n: hence the (n-1)/n / ((N-1)/N) headroom (trees on 2 nodes use it).
    N = n / g
    nic_bound = g * nic * ((n - 1) / n) / ((N - 1) / N)
    return min(up * g / (g - 1) if g > 1 else np.inf, nic_bound)


@settings(max_examples=80, deadline=None)
@given(op=ops, s=sizes, grp=groups, acc=accs, algo=st.sampled_from(["auto", "ring", "tree"]))
def test_busbw_never_exceeds_link_without_in_network_reduction(op, s, grp, acc, algo) -> None:
    """Without NVLS or SHARP, busbw stays under the raw link bound."""
    a = get_accelerator(acc)
    n, g = grp
    algo = _algo_for(op, algo)
    if (
        algo == "auto"
        and nvls_supported(a)
        and op in ("all-reduce", "all-gather", "reduce-scatter")
    ):
        algo = "ring"  # auto may pick NVLS, which is in-switch reduction
    e = estimate(op, s, n, g, a, algorithm=algo)
    assert e.busbw_bytes_per_s <= _physical_busbw_bound(op, n, min(g, n), a) * (1 + 1e-9)


@settings(max_examples=30, deadline=None)
@given(op=ops, s=sizes, g=st.integers(1, 72), acc=accs, inr=st.booleans())
def test_one_rank_costs_nothing(op, s, g, acc, inr) -> None:
    """A group of one does no communication."""
    assert collective_time(op, s, 1, g, get_accelerator(acc), in_network_reduction=inr) == 0.0


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("inr", [False, True])
def test_vectorised_equals_scalar(op: str, inr: bool) -> None:
    """The array call and the scalar wrapper give the same numbers element by element."""
    rng = np.random.default_rng(7)
    size = 10.0 ** rng.uniform(2, 10.5, 64)
    n = rng.choice([1, 2, 8, 16, 64, 512, 4096], 64)
    g = rng.choice([1, 4, 8, 72], 64)
    for algo in ALGORITHMS:
        if (
            algo == "tree"
            and op != "all-reduce"
            or algo == "nvls"
            and op not in ("all-reduce", "all-gather", "reduce-scatter")
            or algo != "auto"
            and op in ("all-to-all", "send-recv")
        ):
            continue  # combinations that raise ConfigError (tested above)
        fab = FabricTier(tier_accelerators=(512,), oversubscription=(3.0,))
        t = collective_time(
            op, size, n, g, H100, algorithm=algo, in_network_reduction=inr, fabric=fab
        )
        assert t.shape == (64,)
        for i in range(64):
            e = estimate(
                op,
                size[i],
                int(n[i]),
                int(g[i]),
                H100,
                algorithm=algo,
                in_network_reduction=inr,
                fabric=fab,
            )
            assert e.time_s == pytest.approx(t[i], rel=1e-12, abs=0.0)


def test_broadcasting_shapes() -> None:
    """nbytes, ranks and ranks_per_node broadcast like numpy arrays."""
    t = collective_time("all-reduce", np.array([[1e6], [1e9]]), np.array([8, 64, 512]), 8, H100)
    assert t.shape == (2, 3)
    assert np.all(t[1] > t[0])


def test_small_messages_are_latency_bound() -> None:
    """A tiny all-reduce costs microseconds of latency and reaches a small fraction of busbw."""
    small = estimate("all-reduce", 1024, 8, 8, H100)
    big = estimate("all-reduce", BIG, 8, 8, H100)
    assert 1e-6 < small.time_s < 1e-4
    assert small.busbw_bytes_per_s < 0.01 * big.busbw_bytes_per_s
    assert small.protocol == "LL"


# ---------------------------------------------------------------------------------- validation data


def _check_param(c: dict):
    """A known miss is a strict expected failure: it must still miss (reported by
    benchmarks/bench_collective.py), and the test fails once the model reproduces it."""
    if c.get("status") != "known-miss":
        return pytest.param(c, id=c["id"])
    why = f"known miss: {c['source']}"
    return pytest.param(c, id=c["id"], marks=pytest.mark.xfail(reason=why, strict=True))


@pytest.mark.parametrize("check", [_check_param(c) for c in CHECKS])
def test_published_busbw(check: dict) -> None:
    """Each published nccl-tests figure is reproduced within its tolerance (known misses are listed)."""
    i = dict(check["input"])
    e = estimate(
        i["op"],
        i["bytes"],
        i["gpus"],
        i.get("gpus_per_node", 8),
        get_accelerator(i["accelerator"]),
        algorithm=i.get("algorithm", "auto"),
        in_network_reduction=i.get("in_network_reduction", False),
    )
    want = check["expect"]["busbw_gb_s"] * 1e9
    assert abs(e.busbw_bytes_per_s / want - 1) <= check["tolerance"], e


def test_public_checks_are_copied_verbatim() -> None:
    """The public rows in our test data equal the published checks (validation/collective_checks.yaml)."""
    shared = Path(__file__).parents[2] / "validation" / "collective_checks.yaml"
    ours = {c["id"]: c for c in CHECKS if c.get("set") == "public"}
    for c in yaml.safe_load(shared.read_text()):
        mine = {k: v for k, v in ours[c["id"]].items() if k != "set"}
        assert mine == c
