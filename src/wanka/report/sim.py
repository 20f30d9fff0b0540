"""Rendering of simulation results (`wanka simulate`): rich tables (pure) and matplotlib figures.

The CLI decides where figures go; nothing here writes files.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.table import Table

from wanka.report.table import Col, fit_table
from wanka.sim.simulator import SimResult

__all__ = ["CONTRACT_KEYS", "compare_table", "figures", "summary_table", "tenant_table"]

CONTRACT_KEYS = (
    "jobs",
    "completed",
    "rejected",
    "avg_jct_s",
    "median_jct_s",
    "p99_jct_s",
    "avg_queue_s",
    "makespan_s",
    "utilization",
    "wall_s",
)


def _h(x: float | None) -> str:
    return "-" if x is None else f"{x / 3600:,.2f} h"


def _rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("jobs (completed / rejected)", f"{s['jobs']:,} ({s['completed']:,} / {s['rejected']:,})"),
        (
            "JCT avg / median / p99",
            f"{_h(s['avg_jct_s'])} / {_h(s['median_jct_s'])} / {_h(s['p99_jct_s'])}",
        ),
        (
            "queueing avg / median / p99",
            f"{_h(s['avg_queue_s'])} / {_h(s.get('median_queue_s'))} / {_h(s.get('p99_queue_s'))}",
        ),
        ("makespan", _h(s["makespan_s"])),
        ("utilisation", f"{100 * s['utilization']:.1f} %"),
        ("fragmented accelerators (avg)", f"{s.get('avg_fragmented_accels', 0):,.1f}"),
        ("preemptions / failures", f"{s.get('preemptions', 0):,} / {s.get('failures', 0):,}"),
        ("goodput lost to failures", f"{100 * s.get('goodput_lost_frac', 0):.2f} %"),
        (
            "events (per second of wall time)",
            f"{s.get('events', 0):,} ({s.get('events_per_s', 0):,.0f}/s)",
        ),
        ("wall time", f"{s['wall_s']:.2f} s"),
    ]


def summary_table(summary: dict[str, Any]) -> Table:
    """One run as a two-column table (times in hours)."""
    t = Table(
        title=f"simulate: {summary.get('policy')} / {summary.get('placement')} on "
        f"{summary.get('accelerators', '?')} accelerators",
        show_header=False,
    )
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in _rows(summary):
        t.add_row(k, v)
    reasons = summary.get("rejected_reasons") or {}
    for why, n in reasons.items():
        t.add_row(f"rejected: {why}", f"{n:,}")
    if summary.get("bad_rows"):
        t.add_row("trace rows skipped", f"{summary['bad_rows']:,} {summary.get('bad_row_reasons')}")
    return t


def compare_table(summaries: list[dict[str, Any]], *, width: int = 80, wide: bool = False) -> Table:
    """Several runs side by side, one row each (times in hours); constant columns dropped."""

    def h(x: float | None) -> str:
        return "-" if x is None else f"{x / 3600:,.2f}"

    show_place = len({s.get("placement") for s in summaries}) > 1
    show_seed = len({s.get("seed") for s in summaries}) > 1
    cols = (
        [Col("policy", "left")]
        + ([Col("place", "left")] if show_place else [])
        + ([Col("seed")] if show_seed else [])
        + [
            Col("done", keep=4),
            Col("rej", keep=3),
            Col("JCT avg"),
            Col("p50", keep=5),
            Col("p99", keep=6),
            Col("queue"),
            Col("makespan", keep=7),
            Col("util%"),
            Col("frag", keep=1),
            Col("preempt", keep=2),
        ]
    )
    rows = []
    for s in summaries:
        row = [str(s.get("policy"))]
        if show_place:
            row.append(str(s.get("placement")))
        if show_seed:
            row.append(str(s.get("seed")))
        row += [
            f"{s['completed']:,}",
            f"{s['rejected']:,}",
            h(s["avg_jct_s"]),
            h(s["median_jct_s"]),
            h(s["p99_jct_s"]),
            h(s["avg_queue_s"]),
            h(s["makespan_s"]),
            f"{100 * s['utilization']:.1f}",
            f"{s.get('avg_fragmented_accels', 0):.1f}",
            f"{s.get('preemptions', 0):,}",
        ]
        rows.append(row)
    return fit_table(cols, rows, width=width, wide=wide, title="simulate compare (times in hours)")


def tenant_table(result: SimResult, top: int = 12) -> Table:
    """Per-tenant share and finish-time fairness (largest tenants first)."""
    t = Table(title="tenants (finish-time fairness = JCT / time alone on 1/N of the cluster)")
    for col in ("tenant", "jobs", "completed", "quota", "share %", "avg JCT", "avg FTF"):
        t.add_column(col, justify="right")
    rows = sorted(result.tenants, key=lambda r: -r["share"])[:top]
    for r in rows:
        ftf = r["avg_finish_time_fairness"]
        t.add_row(
            r["tenant"],
            f"{r['jobs']:,}",
            f"{r['completed']:,}",
            str(r["quota"]),
            f"{100 * r['share']:.1f}",
            _h(r["avg_jct_s"]),
            "-" if ftf is None else f"{ftf:.2f}",
        )
    return t


def stamp(results: list[SimResult]) -> str:
    """What every simulator figure says it shows: trace, cluster, policies (and placements), seeds."""
    s0 = results[0].summary if results else {}
    runs = sorted({f"{r.summary.get('policy')}/{r.summary.get('placement')}" for r in results})
    seeds = sorted({str(r.summary.get("seed")) for r in results})
    return (
        f"trace {s0.get('trace', '-')} | cluster {s0.get('accelerators', '-')} accelerators on "
        f"{s0.get('nodes', '-')} nodes | policy {', '.join(runs)} | seed {', '.join(seeds)}"
    )


def _stamp(fig: Any, text: str) -> None:
    fig.text(0.005, 0.005, text, fontsize=6, color="#555", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.03, 1, 1))


def figures(results: list[SimResult]) -> dict[str, Any]:
    """Matplotlib figures (Agg): JCT CDF, utilisation and queue length over time, each stamped with
    the trace, cluster and policy it shows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs: dict[str, Any] = {}
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        jct = np.sort(r.jct_s) / 3600
        if jct.shape[0]:
            ax.plot(
                jct,
                np.arange(1, jct.shape[0] + 1) / jct.shape[0],
                label=f"{r.summary['policy']}/{r.summary['placement']}",
            )
    ax.set_xscale("log")
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels of a log axis overlap
    ax.set_xlabel("job completion time (h)")
    ax.set_ylabel("fraction of jobs")
    ax.set_title("JCT CDF")
    ax.legend()
    _stamp(fig, stamp(results))
    figs["jct_cdf"] = fig
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    for r in results:
        t = (r.series_t_s - (r.series_t_s[0] if r.series_t_s.shape[0] else 0)) / 86400
        lab = f"{r.summary['policy']}/{r.summary['placement']}"
        a1.plot(
            t,
            100 * r.series_busy / max(r.summary["accelerators"], 1),
            label=lab,
            lw=0.8,
            drawstyle="steps-post",
        )
        a2.plot(t, r.series_queue, label=lab, lw=0.8, drawstyle="steps-post")
    a1.set_ylabel("utilisation (%)")
    a2.set_ylabel("queued jobs")
    a2.set_xlabel("time (days)")
    a1.legend()
    _stamp(fig, stamp(results))
    figs["utilization_queue"] = fig
    return figs
