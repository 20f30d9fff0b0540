"""`wanka fabric`: design, compare and draw scale-out interconnects (wanka.topology.fabric)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from wanka.catalogs import get_accelerator
from wanka.cli.common import (
    WIDE_HELP,
    FormatOpt,
    console,
    handle_errors,
    print_json,
    print_table,
    use_format,
)
from wanka.errors import ConfigError
from wanka.report.fabric import compare_table, design_card, graph_check_table
from wanka.topology.fabric import (
    DEFAULT_SPREAD,
    REFERENCE_BYTES,
    TOPOLOGIES,
    FabricDesign,
    compare_fabrics,
    design_fabric,
    reference_collectives,
)
from wanka.userfile import check_count, check_number

__all__ = [
    "app",
    "parse_dims",
    "parse_oversubscription",
    "register",
]

app = typer.Typer(
    help="Design, price, compare and draw scale-out interconnect fabrics.", no_args_is_help=True
)


def register(root: typer.Typer) -> None:
    """Attach `wanka fabric` to the root app."""
    root.add_typer(app, name="fabric")


def parse_oversubscription(text: str) -> float | tuple[float, ...]:
    """'1.5' (leaf taper) or '1.067,15' (tapers from the leaf up)."""
    try:
        vals = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(
            f"cannot read oversubscription {text!r}: give a number such as 2 or a list "
            "such as 1.067,15 (down:up per tier from the leaf up)"
        ) from None
    if not vals:
        raise ConfigError("oversubscription is empty")
    return vals[0] if len(vals) == 1 else vals


def parse_dims(text: str | None) -> tuple[int, ...] | int | None:
    """'3' (dimensions), '16x16x16' (shape) or None."""
    if text is None:
        return None
    try:
        parts = [int(x) for x in text.lower().split("x")]
    except ValueError:
        raise ConfigError(
            f"cannot read torus dims {text!r}: give 2, 3 or a shape such as 16x16x16"
        ) from None
    return parts[0] if len(parts) == 1 else tuple(parts)


Topology = Annotated[
    str, typer.Option("--topology", "-t", help=f"One of: {', '.join(TOPOLOGIES)}.")
]
Endpoints = Annotated[
    int, typer.Option("--endpoints", "-n", help="Accelerators (one scale-out port each).")
]
Radix = Annotated[int, typer.Option(help="Switch ports at the link speed (even).")]
Tiers = Annotated[
    int | None, typer.Option(help="Switch tiers; default the fewest that hold the endpoints.")
]
Rails = Annotated[
    int | None, typer.Option(help="Rails (rail-optimized, rail-only); default GPUs per node.")
]
Over = Annotated[
    str, typer.Option("--oversubscription", help="Down:up taper: X (leaf) or X,Y,... per tier.")
]
Acc = Annotated[
    str | None, typer.Option("--accelerator", "-a", help="Catalog id: NIC speed, rails, price.")
]
Link = Annotated[
    float | None,
    typer.Option("--link-gbit", help="Link speed in Gb/s (default: the NIC, else 400)."),
]
Scaleup = Annotated[
    str | None,
    typer.Option(
        help="Scale-up domain nvlink8|nvl72|cloudmatrix384|hccs8|none (default: from --accelerator)."
    ),
]
Planes = Annotated[int, typer.Option(help="Planes of multi-plane (dual-plane like Alibaba HPN).")]
Dims = Annotated[str | None, typer.Option(help="Torus: 2, 3 or a shape such as 16x16x16.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Spread = Annotated[
    str | None,
    typer.Option(
        help="Clos top tier: fewest (ceil(n x uplinks / radix) switches per plane, textbook) or even (uplinks "
        "spread evenly, NVIDIA SuperPOD); default per topology: "
        + ", ".join(f"{t} {s}" for t, s in DEFAULT_SPREAD.items())
        + "."
    ),
]


def _design(
    topology: str,
    endpoints: int,
    radix: int,
    tiers: int | None,
    rails: int | None,
    over: str,
    accelerator: str | None,
    link_gbit: float | None,
    scaleup: str | None,
    planes: int,
    dims: str | None,
    spread: str | None = None,
) -> FabricDesign:
    check_count("--endpoints", endpoints)
    check_count("--radix", radix, maximum=4096, what="no switch chip has more ports")
    check_count("--planes", planes, maximum=64)
    if link_gbit is not None:
        check_number("--link-gbit", link_gbit, maximum=1e5, unit="Gb/s", why_max="100 Tb/s")
    return design_fabric(
        topology,
        endpoints,
        radix=radix,
        tiers=tiers,
        rails=rails,
        oversubscription=parse_oversubscription(over),
        accelerator=accelerator,
        link_gbit=link_gbit,
        scaleup="auto" if scaleup is None else scaleup,
        planes=planes,
        dims=parse_dims(dims),
        spread=spread,
    )


def _compare_record(d: FabricDesign, acc: Any) -> dict[str, Any]:
    rec = d.to_dict()
    times = reference_collectives(d, acc)
    rec["allreduce_s"] = times["allreduce_s"]
    rec["alltoall_s"] = times["alltoall_s"]
    rec["collective_model"] = times["model"]
    return rec


@app.command()
@handle_errors
def design(
    topology: Topology,
    endpoints: Endpoints,
    radix: Radix = 64,
    tiers: Tiers = None,
    rails: Rails = None,
    oversubscription: Over = "1",
    accelerator: Acc = None,
    link_gbit: Link = None,
    scaleup: Scaleup = None,
    planes: Planes = 2,
    dims: Dims = None,
    spread: Spread = None,
    json: Json = False,
) -> None:
    """Size and price one fabric: switches and links per tier, optics, cost, power, bisection, diameter."""
    d = _design(
        topology,
        endpoints,
        radix,
        tiers,
        rails,
        oversubscription,
        accelerator,
        link_gbit,
        scaleup,
        planes,
        dims,
        spread,
    )
    if json:
        print_json(d.to_dict())
        return
    console.print(design_card(d))
    for a in d.assumptions:
        console.print(f"  - {a}", highlight=False, markup=False)


@app.command()
@handle_errors
def compare(
    endpoints: Endpoints,
    accelerator: Acc = None,
    radix: Radix = 64,
    link_gbit: Link = None,
    scaleup: Scaleup = None,
    spread: Spread = None,
    json: Json = False,
    wide: Annotated[bool, typer.Option("--wide", help=WIDE_HELP)] = False,
    fmt: FormatOpt = "table",
) -> None:
    """Every topology side by side at one size: cost per accelerator, power, bisection, collectives."""
    json = use_format(fmt, json)
    t0 = time.perf_counter()
    acc = get_accelerator(accelerator) if accelerator else None
    designs = compare_fabrics(
        endpoints,
        accelerator=acc,
        radix=radix,
        link_gbit=link_gbit,
        scaleup="auto" if scaleup is None else scaleup,
        spread=spread,
    )
    records = [_compare_record(d, acc) for d in designs]
    if json:
        print_json(
            {
                "endpoints": endpoints,
                "accelerator": accelerator,
                "reference_bytes": REFERENCE_BYTES,
                "seconds": time.perf_counter() - t0,
                "designs": records,
            }
        )
        return
    print_table(compare_table(records, endpoints, accelerator, width=console.width, wide=wide))
    console.print(
        "  cost includes scale-up domains, NICs, optics, fibre and copper; see `wanka fabric design "
        "--topology T` for each design's breakdown and assumptions",
        highlight=False,
    )
    console.print(
        "  Clos top tier: "
        + (
            f"--spread {spread} for every Clos"
            if spread
            else ", ".join(f"{t} {s}" for t, s in DEFAULT_SPREAD.items())
            + " (defaults; --spread fewest|even to override)"
        ),
        highlight=False,
    )


@app.command()
@handle_errors
def graph(
    topology: Topology,
    endpoints: Endpoints,
    radix: Radix = 64,
    tiers: Tiers = None,
    rails: Rails = None,
    oversubscription: Over = "1",
    planes: Planes = 2,
    dims: Dims = None,
    spread: Spread = None,
    out: Annotated[Path | None, typer.Option(help="Write GraphML here.")] = None,
    draw: Annotated[Path | None, typer.Option(help="Draw a PNG or SVG picture here.")] = None,
    json: Json = False,
) -> None:
    """Build the fabric as a networkx graph (<= 4,096 endpoints); check it against the closed forms."""
    from wanka.report.fabric import draw_graph
    from wanka.topology.graphs import build_graph, graph_counts, min_cut_bisection, write_graph

    d = design_fabric(
        topology,
        endpoints,
        radix=radix,
        tiers=tiers,
        rails=rails,
        oversubscription=parse_oversubscription(oversubscription),
        scaleup=None,
        planes=planes,
        dims=parse_dims(dims),
        spread=spread,
    )
    g = build_graph(topology, endpoints, design=d)
    if draw is not None and draw.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ConfigError(f"--draw must end in .png, .svg or .pdf, got {draw.name}")
    counts = graph_counts(g)
    cut = min_cut_bisection(g) if endpoints <= 4096 else None
    formula = {
        "endpoints": d.endpoints,
        "switches": d.switches,
        "links": d.links,
        "bisection_links": d.bisection_bytes_per_s / d.link_bw_bytes_per_s,
    }
    if out is not None:
        write_graph(g, out)
    if draw is not None:
        draw_graph(g, draw)
    rec: dict[str, Any] = {
        "topology": topology,
        "graph": {**counts, "bisection_links": cut},
        "closed_form": formula,
        "match": counts == {k: formula[k] for k in counts} and cut == formula["bisection_links"],
        "graphml": str(out) if out else None,
        "drawing": str(draw) if draw else None,
    }
    if json:
        print_json(rec)
        return
    console.print(graph_check_table(topology, rec["graph"], formula))
    console.print("match" if rec["match"] else "[red]MISMATCH[/]")
    for p in (out, draw):
        if p is not None:
            console.print(f"wrote {p}", highlight=False)
