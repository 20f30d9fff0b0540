"""Fabric renderers: one design as a card, several side by side (80-column rule of report.table), and
a built graph drawn to PNG/SVG/PDF."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import networkx as nx
from rich.table import Table

from wanka.report.table import Col, fit_table
from wanka.topology.fabric import REFERENCE_BYTES, FabricDesign
from wanka.topology.graphs import graph_counts
from wanka.units import GB

__all__ = ["compare_table", "design_card", "draw_graph", "graph_check_table"]


def _usd(x: float) -> str:
    return f"${x:,.0f}"


def design_card(d: FabricDesign) -> Table:
    """One design as a two-column table (edge units: GB/s, kW, USD)."""
    t = Table(
        title=f"{d.topology}: {d.endpoints:,} endpoints", show_header=False, title_justify="left"
    )
    t.add_column("quantity", style="bold")
    t.add_column("value")
    share = d.network_share_of_capex
    rows: list[tuple[str, str]] = [
        ("tiers", str(d.tiers)),
        *((("Clos top tier (spread)", d.spread),) if d.spread else ()),
        (
            "switches per tier (leaf first)",
            " + ".join(f"{s:,}" for s in d.switches_per_tier) + f" = {d.switches:,}"
            if d.switches_per_tier
            else "0",
        ),
        (
            "links per tier (host links first)",
            " + ".join(f"{x:,}" for x in d.links_per_tier) + f" = {d.links:,}",
        ),
        ("optical / copper links", f"{d.optical_links:,} / {d.copper_links:,}"),
        ("transceivers", f"{d.transceivers:,}"),
        ("max endpoints at these tiers", f"{d.max_endpoints:,}"),
        ("bisection (GB/s, one direction)", f"{d.bisection_bytes_per_s / GB:,.0f}"),
        ("diameter (link hops)", str(d.diameter_hops)),
        ("cost", _usd(d.cost_usd)),
        *((f"  {k}", _usd(v)) for k, v in d.cost_breakdown.items() if v),
        ("cost per accelerator", _usd(d.fabric_cost_per_accelerator_usd)),
        (
            "network share of capex",
            "n/a (no accelerator price)" if share is None else f"{share:.1%}",
        ),
        ("power (kW)", f"{d.power_w / 1e3:,.1f}"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    return t


# Left out first when narrow: the lowest `keep` (0: always shown).
_COMPARE_COLS = (
    Col("topology", "left"),
    Col("tiers", keep=5),
    Col("switches", keep=4),
    Col("links", keep=2),
    Col("transceivers", keep=1),
    Col("cost/accel\nUSD"),
    Col("capex\nshare", keep=6),
    Col("power\nkW", keep=7),
    Col("bisection\nTB/s"),
    Col("diameter", keep=3),
    Col("all-reduce\nms", keep=9),
    Col("all-to-all\nms", keep=8),
)


def _compare_row(r: dict[str, Any]) -> list[str]:
    share = r["network_share_of_capex"]
    return [
        r["topology"],
        str(r["tiers"]),
        f"{r['switches']:,}",
        f"{r['links']:,}",
        f"{r['transceivers']:,}",
        f"{r['fabric_cost_per_accelerator']:,.0f}",
        "n/a" if share is None else f"{share:.1%}",
        f"{r['power_w'] / 1e3:,.0f}",
        f"{r['bisection_gb_s'] / 1e3:,.1f}",
        str(r["diameter_hops"]),
        f"{r['allreduce_s'] * 1e3:,.2f}",
        f"{r['alltoall_s'] * 1e3:,.2f}",
    ]


def compare_table(
    records: list[dict[str, Any]],
    endpoints: int,
    accelerator: str | None,
    *,
    width: int,
    wide: bool = False,
) -> Table:
    """Designs side by side: cost/accelerator, capex share, power, bisection, reference collectives."""
    return fit_table(
        _COMPARE_COLS,
        [_compare_row(r) for r in records],
        width=width,
        wide=wide,
        title=f"{endpoints:,} endpoints"
        + (f", {accelerator}" if accelerator else "")
        + f"; reference collectives of {REFERENCE_BYTES / 2**30:g} GiB per rank",
    )


def graph_check_table(topology: str, graph: dict[str, Any], formula: dict[str, Any]) -> Table:
    """`fabric graph`: the built graph's counts against the closed forms."""
    rows = [
        [k, f"{graph[k]:,.0f}", f"{formula[k]:,.0f}"]
        for k in ("endpoints", "switches", "links", "bisection_links")
    ]
    cols = (Col("quantity", "left"), Col("graph"), Col("closed form"))
    return fit_table(cols, rows, width=80, title=f"{topology} graph vs closed form")


def draw_graph(g: nx.Graph, path: str | Path) -> None:
    """Draw the graph to PNG or SVG (by extension): tiers as layers for switched fabrics."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    topo = g.graph.get("topology", "")
    if topo in ("torus", "full-mesh", "dragonfly"):
        # numpy-only layouts (kamada_kawai and large spring layouts need scipy, not a dependency)
        small_torus = topo == "torus" and g.number_of_nodes() < 500
        pos = nx.spring_layout(g, seed=0) if small_torus else nx.circular_layout(g)
    else:
        layers: dict[int, list[str]] = {}
        for node, tier in g.nodes(data="tier"):  # insertion order = pod by pod, plane by plane
            layers.setdefault(tier, []).append(node)
        pos = {
            node: ((i + 0.5) / len(nodes), float(tier))
            for tier, nodes in layers.items()
            for i, node in enumerate(nodes)
        }
    colors = {"endpoint": "#4c72b0", "switch": "#dd8452", "router": "#55a868"}
    fig, ax = plt.subplots(figsize=(12, 7))
    widths = [0.4 + 0.3 * math.log2(m) for _, _, m in g.edges(data="links")]
    nx.draw_networkx_edges(g, pos, ax=ax, width=widths, alpha=0.35)
    nx.draw_networkx_nodes(
        g,
        pos,
        ax=ax,
        node_size=20 if g.number_of_nodes() > 200 else 60,
        node_color=[colors.get(k, "#888888") for _, k in g.nodes(data="kind")],
    )
    c = graph_counts(g)
    ax.set_title(
        f"{topo}: {c['endpoints']} endpoints, {c['switches']} switches, {c['links']} links"
    )
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(str(path))
    plt.close(fig)
