"""Graph-vs-formula properties: the explicit networkx fabric equals the closed forms used at scale."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wanka.errors import ConfigError
from wanka.report.fabric import draw_graph
from wanka.topology.fabric import design_fabric
from wanka.topology.graphs import build_graph, graph_counts, min_cut_bisection, write_graph

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(topology: str, endpoints: int, **kw: object) -> None:
    """Counts, port budgets and min-cut bisection of the graph equal the closed form."""
    d = design_fabric(topology, endpoints, scaleup=None, **kw)
    g = build_graph(topology, endpoints, design=d)
    c = graph_counts(g)
    assert (c["endpoints"], c["switches"], c["links"]) == (d.endpoints, d.switches, d.links)
    per_tier = [
        sum(1 for _, t in g.nodes(data="tier") if t == i + 1)
        for i in range(len(d.switches_per_tier))
    ]
    if topology != "dragonfly":
        assert tuple(per_tier) == d.switches_per_tier
    for node, radix in g.nodes(data="radix"):
        if radix:  # no switch uses more ports than it has
            assert sum(e["links"] for e in g[node].values()) <= radix
    assert min_cut_bisection(g) == pytest.approx(d.bisection_bytes_per_s / d.link_bw_bytes_per_s)


SPREAD = st.sampled_from(
    [None, "fewest", "even"]
)  # top-tier rule: topology default, or either rule


@FAST
@given(
    k=st.sampled_from([4, 6, 8, 10, 12, 14, 16]),
    n=st.integers(1, 4),
    frac=st.floats(0.01, 1.0),
    over=st.sampled_from([1.0, 1.0, 2.0, 3.0, 0.5]),
    spread=SPREAD,
)
def test_fat_tree_graph_equals_formula(
    k: int, n: int, frac: float, over: float, spread: str | None
) -> None:
    """Fat-tree, any tiers/radix/fill (partial pods), leaf taper and top-tier rule."""
    cap = design_fabric("fat-tree", 1, radix=k, tiers=n, oversubscription=over).max_endpoints
    endpoints = max(1, min(int(cap * frac), 700))
    _check("fat-tree", endpoints, radix=k, tiers=n, oversubscription=over, spread=spread)


@pytest.mark.parametrize(
    "endpoints, k, n, over",
    [
        (39, 10, 2, 3.0),  # every leaf saturated, 3 uplinks over 2 spines: the top blocks (10 < 11)
        (96, 16, 2, 2.0),
        (206, 20, 2, 2.0),
        (100, 14, 2, 3.0),
        (68, 14, 2, 2.0),
        (190, 14, 3, 1.0),
        (420, 12, 3, 3.0),
        (170, 10, 3, [1.0, 3.0]),
        (240, 10, 3, [2.0, 2.0]),
    ],
)
def test_fewest_uneven_top_graph_equals_formula(
    endpoints: int, k: int, n: int, over: object
) -> None:
    """Fewest rule where c does not divide the uplinks: uneven round-robin wiring, exact max-flow closed form."""
    _check("fat-tree", endpoints, radix=k, tiers=n, oversubscription=over, spread="fewest")


@FAST
@given(
    k=st.sampled_from([4, 8, 10, 12, 16]),
    rails=st.sampled_from([2, 4, 8]),
    endpoints=st.integers(2, 600),
    over=st.sampled_from([1.0, 2.0]),
    spread=SPREAD,
)
def test_rail_graphs_equal_formula(
    k: int, rails: int, endpoints: int, over: float, spread: str | None
) -> None:
    """Rail-optimized and rail-only, partial nodes and scalable units included, either top-tier rule."""
    for topo in ("rail-optimized", "rail-only"):
        try:
            design_fabric(topo, endpoints, radix=k, rails=rails, oversubscription=over)
        except ConfigError:
            continue
        _check(topo, endpoints, radix=k, rails=rails, oversubscription=over, spread=spread)


@FAST
@given(
    k=st.sampled_from([4, 6, 8]),
    planes=st.sampled_from([2, 4]),
    endpoints=st.integers(1, 500),
    spread=SPREAD,
)
def test_multi_plane_graph_equals_formula(
    k: int, planes: int, endpoints: int, spread: str | None
) -> None:
    """Multi-plane: P independent planes of the same ASIC split P ways, either top-tier rule."""
    _check("multi-plane", endpoints, radix=k, planes=planes, spread=spread)


@FAST
@given(k=st.sampled_from([8, 12, 16, 20]), frac=st.floats(0.0, 1.0))
def test_dragonfly_graph_equals_formula(k: int, frac: float) -> None:
    """Balanced dragonfly with a partial last group; bisection between group halves."""
    cap = design_fabric("dragonfly", 1, radix=k).max_endpoints
    _check("dragonfly", max(1, min(int(cap * frac), 1500)), radix=k)


@FAST
@given(dims=st.lists(st.integers(1, 6), min_size=1, max_size=3), last=st.sampled_from([2, 4, 6, 8]))
def test_torus_graph_equals_formula(dims: list[int], last: int) -> None:
    """k-ary n-cube with wrap-around; bisection cut across the (even) longest dimension."""
    shape = tuple(sorted([min(d, last) for d in dims] + [last]))
    n = 1
    for d in shape:
        n *= d
    _check("torus", n, dims=shape)


@pytest.mark.parametrize("n", [1, 2, 3, 17, 40])
def test_full_mesh_graph(n: int) -> None:
    """Full mesh: complete graph, N^2/4 links across the bisection."""
    _check("full-mesh", n)


def test_medium_instance_4096() -> None:
    """A 3-tier k=64 fat-tree of 4,096 endpoints (SuperPOD B200 16 SU): 320 switches, 2,048-link cut."""
    d = design_fabric("fat-tree", 4096, scaleup=None)
    g = build_graph("fat-tree", 4096, design=d)
    assert graph_counts(g) == {"endpoints": 4096, "switches": 320, "links": 12288}
    assert min_cut_bisection(g) == 2048


def test_too_large_graph_is_refused() -> None:
    """Graphs stop at 4,096 endpoints (1,024 for a full mesh) with a clear error."""
    with pytest.raises(ConfigError, match="closed forms"):
        build_graph("fat-tree", 5000)
    with pytest.raises(ConfigError, match="1,024"):
        build_graph("full-mesh", 2000)


def test_graphml_and_drawing(tmp_path) -> None:
    """GraphML round-trips through networkx; PNG and SVG drawings are written."""
    g = build_graph("fat-tree", 64, radix=8)
    write_graph(g, tmp_path / "f.graphml")
    back = nx.read_graphml(tmp_path / "f.graphml")
    assert (
        back.number_of_nodes() == g.number_of_nodes()
        and back.number_of_edges() == g.number_of_edges()
    )
    draw_graph(g, tmp_path / "f.png")
    draw_graph(build_graph("torus", 16, dims=2), tmp_path / "t.svg")
    assert (tmp_path / "f.png").stat().st_size > 1000 and (tmp_path / "t.svg").stat().st_size > 1000


@pytest.mark.parametrize(
    ("topology", "endpoints"), [("torus", 64), ("full-mesh", 16), ("dragonfly", 64)]
)
def test_drawing_non_clos_fabrics(tmp_path, topology, endpoints):
    """Non-layered fabrics draw with numpy-only layouts (scipy is not a dependency)."""
    out = tmp_path / f"{topology}.png"
    draw_graph(build_graph(topology, endpoints, radix=8), out)
    assert out.stat().st_size > 1000
