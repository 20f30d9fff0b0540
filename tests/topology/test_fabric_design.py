"""Closed-form fabric design: published counts, partial pods, errors, cost/power, speed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wanka.catalogs import get_accelerator
from wanka.errors import ConfigError
from wanka.topology.fabric import (
    DEFAULT_SPREAD,
    TOPOLOGIES,
    clos_counts,
    compare_fabrics,
    design_fabric,
    fabric_tier,
    reference_collectives,
    torus_dims,
)

DATA = Path(__file__).parent / "data" / "fabric_published.yaml"
CHECKS = yaml.safe_load(DATA.read_text())
SHARED = Path(__file__).resolve().parents[2] / "validation" / "fabric_checks.yaml"

CONTRACT_KEYS = {
    "topology",
    "endpoints",
    "switches",
    "switches_per_tier",
    "links",
    "links_per_tier",
    "transceivers",
    "cost_usd",
    "cost_breakdown",
    "power_w",
    "bisection_gb_s",
    "diameter_hops",
    "fabric_cost_per_accelerator",
    "network_share_of_capex",
    "assumptions",
}


@pytest.mark.parametrize("check", CHECKS, ids=[c["id"] for c in CHECKS])
def test_published_counts(check: dict) -> None:
    """Every published/paper count is reproduced exactly by the general closed forms."""
    got = design_fabric(**check["input"]).to_dict()
    assert {k: got[k] for k in check["expect"]} == check["expect"]


def test_shared_validation_checks() -> None:
    """The contract checks in shared/validation/fabric_checks.yaml, exactly."""
    for c in yaml.safe_load(SHARED.read_text()):
        got = design_fabric(**c["input"]).to_dict()
        assert {k: got[k] for k in c["expect"]} == c["expect"], c["id"]


# (radix, tiers) up to the sizes the plan command asks for (at most 600,000 hosts)
CLOS_CASES = [
    (k, n)
    for n in (1, 2, 3, 4)
    for k in (4, 8, 16, 64, 128)
    if n == 1 or 2 * (k // 2) ** n <= 600_000
]


@pytest.mark.parametrize(("k", "n"), CLOS_CASES)
def test_full_clos_matches_al_fares(k: int, n: int) -> None:
    """A full n-tier Clos: 2(k/2)^n hosts on (2n-1)(k/2)^(n-1) switches, n*N links (host links included)."""
    h = k // 2
    hosts = k if n == 1 else 2 * h**n
    d = design_fabric("fat-tree", hosts, radix=k, tiers=n)
    assert d.switches == (1 if n == 1 else (2 * n - 1) * h ** (n - 1))
    assert d.links == n * hosts
    assert d.max_endpoints == hosts
    assert d.bisection_bytes_per_s == pytest.approx(hosts / 2 * d.link_bw_bytes_per_s)


def test_fewest_tiers_and_partial_pods() -> None:
    """Fewest tiers unless given; a partial last pod counts only the switches it needs."""
    assert design_fabric("fat-tree", 64).tiers == 1
    assert design_fabric("fat-tree", 65).tiers == 2
    assert design_fabric("fat-tree", 2048).tiers == 2
    assert design_fabric("fat-tree", 2049).tiers == 3
    d = design_fabric("fat-tree", 2049)  # 2 full pods + a pod of one leaf
    assert d.switches_per_tier == (
        65,
        96,
        64,
    )  # 64+1 leaves; 32+32+32 spines; 2 cores per plane x 32
    d = design_fabric(
        "fat-tree", 10240
    )  # 10 full pods: fewest rule, ceil(10 x 32 / 64) = 5 cores per plane
    assert d.switches_per_tier == (320, 320, 160) and d.spread == "fewest"
    d = design_fabric(
        "fat-tree", 10240, spread="even"
    )  # balance rule: 8 cores per plane (8 divides 32)
    assert d.switches_per_tier == (320, 320, 256) and d.spread == "even"


def test_clos_counts_direct() -> None:
    """clos_counts on leaves: the balance rule by default (SuperPOD H100 3 SU), the fewest rule on request."""
    c = clos_counts(24, 760, radix=64, tiers=2)
    assert c.switches_per_tier == (24, 16) and c.links_per_tier == (760, 768) and c.spread == "even"
    c = clos_counts(24, 760, radix=64, tiers=2, spread="fewest")
    assert c.switches_per_tier == (24, 12) and c.links_per_tier == (760, 768)
    with pytest.raises(ConfigError):
        clos_counts(65, 2080, radix=64, tiers=2)
    with pytest.raises(ConfigError, match="spread"):
        clos_counts(24, 760, radix=64, tiers=2, spread="uneven")


def test_spread_rules_and_defaults() -> None:
    """Top-tier rule: fewest = ceil(n_sub u / k) per plane, even = smallest divisor of u; defaults per topology."""
    assert DEFAULT_SPREAD == {
        "fat-tree": "fewest",
        "rail-optimized": "even",
        "rail-only": "fewest",
        "multi-plane": "fewest",
    }
    # research/network.md §1.1 derived rows: 10 pods of k=64 -> 800; k=144 leaf-spine for 10,000 -> 209
    for spread, sw, spt in (("fewest", 800, (320, 320, 160)), ("even", 896, (320, 320, 256))):
        d = design_fabric("fat-tree", 10240, radix=64, tiers=3, spread=spread)
        assert (d.switches, d.switches_per_tier) == (sw, spt)
        assert d.bisection_bytes_per_s == pytest.approx(5120 * d.link_bw_bytes_per_s)
    for spread, sw, spt in (("fewest", 209, (139, 70)), ("even", 211, (139, 72))):
        d = design_fabric("fat-tree", 10000, radix=144, tiers=2, link_gbit=800, spread=spread)
        assert (d.switches, d.switches_per_tier) == (sw, spt)
        assert d.bisection_bytes_per_s == pytest.approx(5000 * d.link_bw_bytes_per_s)
    # pro-rata at full pods: (2n-1)(k/2)^(n-1) x N / (2(k/2)^n)
    assert design_fabric("fat-tree", 10240, tiers=3).switches == 5 * 32**2 * 10240 // (2 * 32**3)
    # SuperPOD rows keep the balance rule by default; the fewest rule would give fewer spines
    assert design_fabric("rail-optimized", 760).switches_per_tier == (24, 16)
    assert design_fabric("rail-optimized", 760, spread="fewest").switches_per_tier == (24, 12)
    assert design_fabric("rail-optimized", 2304, radix=144, spread="fewest").switches_per_tier == (
        32,
        16,
    )
    # both rules agree when c divides the uplinks (contract rows)
    for spread in ("fewest", "even"):
        assert design_fabric("fat-tree", 8192, tiers=3, spread=spread).switches_per_tier == (
            256,
            256,
            128,
        )
        assert design_fabric("rail-only", 16384, rails=8, spread=spread).switches == 768
    # the design says which rule it used; non-Clos topologies carry none
    d = design_fabric("fat-tree", 10240)
    assert any("fewest rule" in a and "default for fat-tree" in a for a in d.assumptions)
    assert d.to_dict()["spread"] == "fewest"
    assert any("balance rule" in a for a in design_fabric("rail-optimized", 760).assumptions)
    assert design_fabric("torus", 64, spread="even").spread is None
    with pytest.raises(ConfigError, match="spread"):
        design_fabric("fat-tree", 64, spread="balanced")


def test_fewest_rule_can_block_at_the_top() -> None:
    """Uneven round-robin multiplicities block when every leaf is saturated (taper 3:1, k=10, 6 leaves, 2
    spines, 3 uplinks each): the exact max-flow is 10 links, not min(A, B) + local = 11 (graph-checked)."""
    few = design_fabric("fat-tree", 39, radix=10, oversubscription=3.0, spread="fewest")
    even = design_fabric("fat-tree", 39, radix=10, oversubscription=3.0, spread="even")
    assert few.switches_per_tier == (6, 2) and even.switches_per_tier == (6, 3)
    assert few.bisection_bytes_per_s / few.link_bw_bytes_per_s == pytest.approx(10)
    assert even.bisection_bytes_per_s / even.link_bw_bytes_per_s == pytest.approx(11)


def test_oversubscription_taper() -> None:
    """A 3:1 leaf holds 48 hosts and 16 uplinks on k=64; bisection shrinks by the taper."""
    d = design_fabric("fat-tree", 3072, oversubscription=3.0, tiers=2)
    assert d.switches_per_tier == (64, 16)
    assert d.oversubscription == (3.0,)
    assert d.bisection_bytes_per_s == pytest.approx(1536 / 3 * d.link_bw_bytes_per_s)  # N/2 / r
    per_tier = design_fabric("fat-tree", 65536, oversubscription=[1.0, 2.0])
    assert per_tier.oversubscription == (1.0, 2.0)
    assert per_tier.bisection_bytes_per_s < design_fabric("fat-tree", 65536).bisection_bytes_per_s


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"topology": "fat-tree", "endpoints": 64, "radix": 7}, "even"),
        ({"topology": "fat-tree", "endpoints": 70000, "radix": 64, "tiers": 3}, "65,536"),
        ({"topology": "fat-tree", "endpoints": 0}, "positive"),
        ({"topology": "fat-tree", "endpoints": -4}, "positive"),
        ({"topology": "hypercube", "endpoints": 8}, "choose from"),
        ({"topology": "rail-only", "endpoints": 8, "rails": 0}, "rails"),
        ({"topology": "fat-tree", "endpoints": 8, "tiers": 0}, "tiers"),
        ({"topology": "fat-tree", "endpoints": 8, "oversubscription": 0}, "oversubscription"),
        ({"topology": "torus", "endpoints": 10, "dims": (3, 3)}, "hold 9"),
        ({"topology": "dragonfly", "endpoints": 10**7, "radix": 16}, "exceed"),
        ({"topology": "fat-tree", "endpoints": 8, "scaleup": "nvl99"}, "scale-up"),
    ],
)
def test_bad_input(kwargs: dict, message: str) -> None:
    """Bad sizes, odd radix, overfull tiers, unknown names: ConfigError with a one-line message."""
    with pytest.raises(ConfigError, match=message) as e:
        design_fabric(**kwargs)
    assert "\n" not in str(e.value)


def test_contract_json_and_cost_breakdown() -> None:
    """JSON has the contract keys; cost is the sum of its breakdown; scale-up itemised separately."""
    d = design_fabric("rail-optimized", 1024, accelerator="h100-sxm")
    j = d.to_dict()
    assert CONTRACT_KEYS <= set(j)
    assert j["cost_usd"] == pytest.approx(sum(j["cost_breakdown"].values()), abs=0.1)
    assert j["scaleup"] == "nvlink8" and j["cost_breakdown"]["scaleup_switches"] > 0
    assert 0 < j["network_share_of_capex"] < 1
    assert j["fabric_cost_per_accelerator"] == pytest.approx(j["cost_usd"] / 1024, rel=1e-6)
    assert j["transceivers"] == 2 * j["optical_links"]
    assert any("estimate" in a for a in j["assumptions"])
    none = design_fabric("rail-optimized", 1024, accelerator="h100-sxm", scaleup=None)
    assert "scaleup_switches" not in none.cost_breakdown
    assert none.cost_usd < d.cost_usd
    assert design_fabric("fat-tree", 72, accelerator="gb200").scaleup == "nvl72"
    assert design_fabric("fat-tree", 384, accelerator="ascend-910c").scaleup == "cloudmatrix384"
    assert design_fabric("fat-tree", 8, accelerator="ascend-910b").scaleup == "hccs8"


def test_rail_only_is_cheaper_than_rail_optimized() -> None:
    """Removing the spine across rails saves switches, optics and power (Wang et al. 2307.12169)."""
    ro = design_fabric("rail-optimized", 16384, accelerator="h100-sxm", scaleup=None)
    only = design_fabric("rail-only", 16384, accelerator="h100-sxm", scaleup=None)
    assert only.tiers == 2 and ro.tiers == 3
    saving = 1 - only.cost_usd / ro.cost_usd
    assert 0.2 < saving < 0.8
    assert only.power_w < ro.power_w


def test_full_mesh_and_torus_shapes() -> None:
    """Full mesh: N(N-1)/2 links, diameter 1; torus: balanced dims, wrap-around links."""
    m = design_fabric("full-mesh", 10000)
    assert m.links == 49_995_000 and m.switches == 0 and m.diameter_hops == 1
    assert torus_dims(4096) == (16, 16, 16)
    assert torus_dims(10240) == (16, 20, 32)
    t = design_fabric("torus", 256, dims=2)
    assert t.dims == (16, 16) and t.links == 512 and t.ocs == 0 and t.diameter_hops == 16


def test_design_at_scale_is_closed_form() -> None:
    """`plan` calls design_fabric per candidate at up to 100k endpoints: every topology answers in closed
    form, the same design twice (its speed is measured by benchmarks/bench_fabric.py, not asserted here)."""
    acc = get_accelerator("h100-sxm")
    for topo in TOPOLOGIES:
        a = design_fabric(topo, 100_000, accelerator=acc)
        assert a == design_fabric(topo, 100_000, accelerator=acc), topo
        assert a.endpoints == 100_000 and a.links > 0, topo


def test_compare_and_collectives() -> None:
    """compare covers every topology; reference collectives are positive and finite."""
    acc = get_accelerator("h100-sxm")
    designs = compare_fabrics(10240, accelerator=acc)
    assert [d.topology for d in designs] == list(TOPOLOGIES)
    for d in designs:
        times = reference_collectives(d, acc)
        assert 0 < times["allreduce_s"] < 10 and 0 < times["alltoall_s"] < 10


def test_fabric_tier_for_collective_model() -> None:
    """design.fabric_tier() builds the collective model's FabricTier (tapers become tiers)."""
    from wanka.topology import collective

    d = design_fabric("fat-tree", 4096, oversubscription=3.0, accelerator="h100-sxm")
    tier = d.fabric_tier()
    assert isinstance(tier, collective.FabricTier)
    assert tier.topology == "fat-tree" and tier.oversubscription == (3.0,)
    assert tier.tier_accelerators == (48,)
    assert fabric_tier(design_fabric("torus", 64)).in_network_reduction is False


# Aug-2024 H100 InfiniBand cost sheet (research/network.md §2.4): $36k per 64x400G switch and a flat
# price per link (cable + optics); its network $/GPU follows from switch and link counts alone.
SHEET = [  # (GPUs, topology, sheet switch $, sheet cable $, sheet network $/GPU)
    (1024, "fat-tree", 1_728_000, 2_621_440, 4248),
    (2048, "fat-tree", 3_456_000, 5_240_000, 4248),
    (16384, "rail-only", 27_600_000, 41_900_000, 4248),
    (32768, "fat-tree", 92_200_000, 124_500_000, 6613),
    (65536, "fat-tree", 184_300_000, 249_000_000, 6613),
]


@pytest.mark.parametrize("gpus, topology, switch_usd, cable_usd, per_gpu", SHEET)
def test_counts_reproduce_cost_sheet(
    gpus: int, topology: str, switch_usd: float, cable_usd: float, per_gpu: float
) -> None:
    """Our switch and link counts x the sheet's unit prices give the sheet's totals (within rounding)."""
    d = design_fabric(topology, gpus, radix=64, rails=8)
    assert d.switches * 36_000 == pytest.approx(switch_usd, rel=0.005)
    per_link = cable_usd / d.links  # the sheet's implied $1,267-1,280 per link
    assert 1_260 < per_link < 1_285
    assert (switch_usd + cable_usd) / gpus == pytest.approx(per_gpu, rel=0.005)
