"""Plots of a centre design: the cost/time frontier (PNG and interactive HTML) and step breakdowns.

Every series gets its own (colour, marker) pair, so any number of chip kinds stays distinguishable; the
legend sits outside the axes so it covers no point; each goal's deadline is a labelled line. The
interactive frontier is one self-contained HTML file (plotly, with plotly.js inlined: it opens offline)
whose hover names each design.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

__all__ = ["series_styles", "write_interactive_frontier", "write_plots"]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
_PLOTLY_MARKERS = {
    "o": "circle",
    "s": "square",
    "^": "triangle-up",
    "D": "diamond",
    "v": "triangle-down",
    "P": "cross",
    "X": "x",
    "*": "star",
    "<": "triangle-left",
    ">": "triangle-right",
}
_TERMS = (
    ("compute", "compute_s"),
    ("recompute", "recompute_s"),
    ("bubble", "bubble_s"),
    ("TP", "tp"),
    ("CP", "cp"),
    ("EP", "ep"),
    ("PP", "pp"),
    ("DP", "dp"),
    ("optimizer", "optimizer_s"),
    ("overhead", "overhead_s"),
)


def series_styles(names: list[str]) -> dict[str, tuple[str, str]]:
    """A distinct (hex colour, matplotlib marker) per name: 10 colours x 10 markers, then hues."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    tab = [to_hex(c) for c in colormaps["tab10"].colors]  # type: ignore[attr-defined]
    pairs = list(itertools.product(_MARKERS, tab))
    if len(names) > len(pairs):  # more series than pairs: evenly spaced hues
        hsv = colormaps["hsv"]
        return {n: (to_hex(hsv(i / len(names))), _MARKERS[i % 10]) for i, n in enumerate(names)}
    return {n: (pairs[i][1], pairs[i][0]) for i, n in enumerate(names)}


def frontier(designs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Designs not beaten on both time-to-train and cost per million tokens."""
    pts = [d for d in designs if _xy(d)]
    pts.sort(key=lambda d: (d["time_to_train_days"], d["cost_per_million_tokens_usd"]))
    out, best = [], math.inf
    for d in pts:
        if d["cost_per_million_tokens_usd"] < best:
            out.append(d)
            best = d["cost_per_million_tokens_usd"]
    return out


def _xy(d: dict[str, Any]) -> bool:
    return bool(d.get("time_to_train_days") and d.get("cost_per_million_tokens_usd"))


def _by_accelerator(designs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for d in designs:
        if _xy(d):
            out.setdefault(d["accelerator"], []).append(d)
    return dict(sorted(out.items()))


def _frontier_png(result: dict[str, Any], path: Path) -> Path:
    import matplotlib.pyplot as plt

    groups = _by_accelerator(result["designs"])
    styles = series_styles(list(groups))
    fig, ax = plt.subplots(figsize=(8.5, 4.8))
    for acc, pts in groups.items():
        colour, marker = styles[acc]
        ax.scatter(
            [d["time_to_train_days"] for d in pts],
            [d["cost_per_million_tokens_usd"] for d in pts],
            label=acc,
            s=22,
            color=colour,
            marker=marker,
        )
    fr = frontier(result["designs"])
    if fr:
        xs = [d["time_to_train_days"] for d in fr]
        ax.plot(xs, [d["cost_per_million_tokens_usd"] for d in fr], "k--", lw=1, label="frontier")
    for g in result.get("goals", []):
        ax.axvline(
            g["deadline_days"],
            color="red",
            lw=0.9,
            ls=":",
            label=f"deadline {g['id']} ({g['deadline_days']:g} d)",
        )
    ax.set_xlabel("time to train (days, with goodput)")
    ax.set_ylabel("cost per million training tokens (USD)")
    ax.set_title(f"{result['center']}: cost vs time-to-train")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _breakdown_png(result: dict[str, Any], path: Path) -> Path:
    import matplotlib.pyplot as plt

    bests: dict[str, dict[str, Any]] = {}
    for d in result["designs"]:
        for j in d.get("jobs", []):
            if j.get("role") == "training" and j.get("plan") and j["accelerator"] not in bests:
                bests[j["accelerator"]] = j
    fig, ax = plt.subplots(figsize=(8.5, 4.8))
    names = list(bests)
    labels = [f"{n}\n{bests[n]['count']:,}" for n in names]
    styles = series_styles([t[0] for t in _TERMS])
    bottoms = [0.0] * len(names)
    for label, key in _TERMS:
        vals = []
        for n in names:
            b = bests[n]["plan"].get("breakdown") or {}
            v = b.get(key)
            comm: Any = (b.get("exposed_comm_s") or {}).get(key)
            vals.append(float(comm if v is None else v) or 0.0)
        if any(vals):
            ax.bar(labels, vals, bottom=bottoms, label=label, color=styles[label][0])
            bottoms = [x + y for x, y in zip(bottoms, vals, strict=True)]
    ax.set_ylabel("seconds per optimizer step")
    ax.set_title("step-time breakdown of each chip's best plan (chip, accelerators)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_plots(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """The cost-vs-time frontier and the step-time breakdown of each chip's best design, as PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        _frontier_png(result, out_dir / "frontier.png"),
        _breakdown_png(result, out_dir / "step_breakdown.png"),
    ]


def _hover(d: dict[str, Any]) -> str:
    return (
        f"<b>{d['id']}</b><br>{d['count']:,} accelerators, network {d.get('network') or '-'}"
        f"<br>time to train {d['time_to_train_days']:.1f} d"
        f"<br>${d['cost_per_million_tokens_usd']:,.2f} per million tokens"
        f"<br>capex ${d['capex_usd'] / 1e6:,.0f}M, {d['power_mw']:.1f} MW"
        f"<br>binding: {d['binding_constraint']}"
    )


def write_interactive_frontier(result: dict[str, Any], out_dir: Path) -> Path:
    """frontier.html: the frontier as one self-contained interactive page (hover names designs)."""
    import plotly.graph_objects as go

    out_dir.mkdir(parents=True, exist_ok=True)
    groups = _by_accelerator(result["designs"])
    styles = series_styles(list(groups))
    fig = go.Figure()
    for acc, pts in groups.items():
        colour, marker = styles[acc]
        fig.add_trace(
            go.Scatter(
                x=[d["time_to_train_days"] for d in pts],
                y=[d["cost_per_million_tokens_usd"] for d in pts],
                mode="markers",
                name=acc,
                marker={"color": colour, "symbol": _PLOTLY_MARKERS[marker], "size": 9},
                hovertext=[_hover(d) for d in pts],
                hoverinfo="text",
            )
        )
    fr = frontier(result["designs"])
    if fr:
        fig.add_trace(
            go.Scatter(
                x=[d["time_to_train_days"] for d in fr],
                y=[d["cost_per_million_tokens_usd"] for d in fr],
                mode="lines",
                name="frontier",
                line={"color": "black", "dash": "dash", "width": 1},
                hoverinfo="skip",
            )
        )
    for g in result.get("goals", []):
        fig.add_vline(
            x=g["deadline_days"],
            line={"color": "red", "dash": "dot"},
            annotation_text=f"deadline {g['id']} ({g['deadline_days']:g} d)",
        )
    fig.update_layout(
        title=f"{result['center']}: cost vs time-to-train",
        xaxis_title="time to train (days, with goodput)",
        yaxis_title="cost per million training tokens (USD)",
        template="plotly_white",
    )
    path = out_dir / "frontier.html"
    fig.write_html(path, include_plotlyjs=True, full_html=True)
    return path
