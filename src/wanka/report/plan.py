"""Render a centre design (`wanka.plan.design_center` output): rich table, Markdown, HTML and plots.

Pure renderers: `designs_table` returns a rich Table; `markdown_report` / `html_report` return strings;
`write_plots` draws two PNGs with matplotlib's Agg backend into a folder the caller chose (the CLI).
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from rich.table import Table

from wanka.report.table import Col, fit_table

__all__ = ["designs_table", "html_report", "markdown_report", "write_plots", "write_report"]

# Narrow terminals: `plan` and `network` wrap at spaces; then columns go, lowest `keep` first.
_COLUMNS = (
    Col("#", keep=1),
    Col("design", "left", wrap=True),
    Col("network", "left", wrap=True, keep=3),
    Col("time\nd"),
    Col("capex\n$M"),
    Col("power\nMW", keep=4),
    Col("$/M\ntokens", keep=5),
    Col("plan", "left", wrap=True, keep=2),
    Col("binding", "left", wrap=True),
)

# The report files keep the one-line headers they always had.
_HEADERS = (
    "#",
    "design",
    "network",
    "time (d)",
    "capex ($M)",
    "power (MW)",
    "$/M tokens",
    "plan",
    "binding",
)


def _f(v: Any, fmt: str = "{:,.1f}") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return fmt.format(v)


def _plan(p: dict[str, Any] | None) -> str:
    if not p:
        return "-"
    s = f"tp{p['tp']} pp{p['pp']}"
    if p.get("vpp", 1) > 1:
        s += f"x{p['vpp']}"
    if p.get("cp", 1) > 1:
        s += f" cp{p['cp']}"
    if p.get("ep", 1) > 1:
        s += f" ep{p['ep']}"
    s += f" dp{p['dp']} mbs{p['micro_batch_size']}"
    if p.get("recompute", "none") != "none":
        s += f" rc={p['recompute']}"
    if p.get("fsdp", "none") != "none":
        s += f" fsdp={p['fsdp']}"
    return s


def _row(d: dict[str, Any]) -> list[str]:
    mark = "" if d["meets_all_constraints"] else " (!)"
    return [
        str(d.get("rank", "")),
        d["id"].rsplit(" (", 1)[0],
        str(d.get("network") or "-"),
        _f(d.get("time_to_train_days")),
        _f(d["capex_usd"] / 1e6, "{:,.0f}"),
        _f(d["power_mw"]),
        _f(d.get("cost_per_million_tokens_usd"), "{:,.2f}"),
        _plan(d.get("parallelism")),
        f"{d['binding_constraint']} {d['binding_margin']:+.0%}{mark}",
    ]


def designs_table(
    result: dict[str, Any], *, limit: int = 15, width: int = 80, wide: bool = False
) -> Table:
    """The ranked designs as a rich Table ((!) marks a design that breaks a constraint)."""
    return fit_table(
        _COLUMNS,
        [_row(d) for d in result["designs"][:limit]],
        width=width,
        wide=wide,
        title=f"centre {result['center']}: designs, best first",
    )


def _frontier(designs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Designs not beaten on both time-to-train and cost per million tokens."""
    pts = [
        d for d in designs if d.get("time_to_train_days") and d.get("cost_per_million_tokens_usd")
    ]
    pts.sort(key=lambda d: (d["time_to_train_days"], d["cost_per_million_tokens_usd"]))
    out, best = [], math.inf
    for d in pts:
        if d["cost_per_million_tokens_usd"] < best:
            out.append(d)
            best = d["cost_per_million_tokens_usd"]
    return out


def write_plots(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """cost-vs-time frontier and the step-time breakdown of each chip's best design, as PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    designs = result["designs"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    accs = sorted({d["accelerator"] for d in designs})
    for a in accs:
        pts = [
            d
            for d in designs
            if d["accelerator"] == a
            and d.get("time_to_train_days")
            and d.get("cost_per_million_tokens_usd")
        ]
        if pts:
            ax.scatter(
                [d["time_to_train_days"] for d in pts],
                [d["cost_per_million_tokens_usd"] for d in pts],
                label=a,
                s=18,
                marker="o" if "+" not in a else "x",
            )
    fr = _frontier(designs)
    if fr:
        ax.plot(
            [d["time_to_train_days"] for d in fr],
            [d["cost_per_million_tokens_usd"] for d in fr],
            "k--",
            lw=1,
            label="frontier",
        )
    for g in result.get("goals", []):
        ax.axvline(g["deadline_days"], color="red", lw=0.8, ls=":")
    ax.set_xlabel("time to train (days, with goodput)")
    ax.set_ylabel("cost per million training tokens (USD)")
    ax.set_title("cost vs time-to-train")
    ax.legend(fontsize=7)
    fig.tight_layout()
    p = out_dir / "frontier.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)

    terms = [
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
    ]
    bests: dict[str, dict[str, Any]] = {}
    for d in designs:
        for j in d.get("jobs", []):
            if j.get("role") == "training" and j.get("plan") and j["accelerator"] not in bests:
                bests[j["accelerator"]] = j
    fig, ax = plt.subplots(figsize=(7, 4.5))
    names = list(bests)
    labels = [f"{n}\n{bests[n]['count']:,}" for n in names]
    bottoms = [0.0] * len(names)
    for label, key in terms:
        vals = []
        for n in names:
            b = bests[n]["plan"].get("breakdown") or {}
            v = b.get(key)
            if v is None:
                v = (b.get("exposed_comm_s") or {}).get(key)
            vals.append(float(v or 0.0))
        if any(vals):
            ax.bar(labels, vals, bottom=bottoms, label=label)
            bottoms = [x + y for x, y in zip(bottoms, vals)]
    ax.set_ylabel("seconds per optimizer step")
    ax.set_title("step-time breakdown of each chip's best plan (chip, accelerators)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    p = out_dir / "step_breakdown.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)
    return paths


def markdown_report(
    result: dict[str, Any], *, plots: list[str] | None = None, limit: int = 25
) -> str:
    """The report as Markdown: goals, limits, ranked designs, the winner's details, assumptions."""
    lines = [f"# Centre design: {result['center']}", ""]
    for g in result.get("goals", []):
        lines.append(
            f"- training goal **{g['id']}**: {g['model']}, {g['tokens']:.3g} tokens in {g['deadline_days']:g} "
            f"days (global batch {g['global_batch_size']} x {g['seq_len']}, {g['precision']})"
        )
    for s in result.get("serving", []):
        lines.append(f"- serving **{s['id']}**: {s['model']} at {s['tokens_per_s']:.3g} tokens/s")
    lim = result.get("limits", {})
    lines.append(
        f"- limits: power {lim.get('power_mw') or '-'} MW, budget "
        f"{'$%.2fB' % (lim['budget_usd'] / 1e9) if lim.get('budget_usd') else '-'}"
    )
    lines += [
        "",
        "## Ranked designs",
        "",
        "| " + " | ".join(_HEADERS) + " |",
        "|" + "---|" * len(_COLUMNS),
    ]
    for d in result["designs"][:limit]:
        lines.append("| " + " | ".join(c.replace("|", "/") for c in _row(d)) + " |")
    lines.append("")
    lines.append(
        "(!) = breaks a constraint; the binding column gives the tightest (or most violated) "
        "constraint and its margin."
    )
    if result["designs"]:
        w = result["designs"][0]
        lines += [
            "",
            f"## Best design: {w['id']}",
            "",
            f"- binding constraint: **{w['binding_constraint']}** ({w['binding_detail']})",
            f"- accelerators: {w['count']:,}; capex ${w['capex_usd'] / 1e6:,.0f}M "
            f"({', '.join(f'{k} ${v / 1e6:,.0f}M' for k, v in w['capex_breakdown'].items())})",
            f"- power {w['power_mw']:.1f} MW; energy {w['energy_mwh']:,.0f} MWh; GPU-hours {w['gpu_hours']:,.0f}",
            f"- time to train {_f(w.get('time_to_train_days'))} days; cost per million tokens "
            f"${_f(w.get('cost_per_million_tokens_usd'), '{:,.2f}')}",
        ]
        for j in w.get("jobs", []):
            if j.get("role") == "training" and j.get("plan"):
                gp = j.get("goodput") or {}
                lines.append(
                    f"- job {j['id']} on {j['count']:,} x {j['accelerator']}: {_plan(j['plan']['parallelism'])}, "
                    f"{j['tokens_per_s_per_gpu']:.1f} tokens/s/GPU, MFU {_f(j.get('mfu'), '{:.1%}')}, goodput "
                    f"{_f(gp.get('goodput'), '{:.1%}')} (job MTBF {_f(gp.get('job_mtbf_hours'), '{:.1f}')} h, "
                    f"checkpoint every {_f(gp.get('checkpoint_interval_min'), '{:.0f}')} min)"
                )
            elif j.get("role") == "serving":
                lines.append(f"- serving {j['id']} on {j['count']:,} x {j['accelerator']}")
        fab = w.get("fabric") or {}
        if fab:
            lines.append(
                f"- fabric: {fab.get('switches', '-')} switches, {fab.get('transceivers', '-')} transceivers, "
                f"${(fab.get('cost_usd') or 0) / 1e6:,.0f}M, {(fab.get('power_w') or 0) / 1e6:.2f} MW"
            )
    for p in plots or []:
        lines += ["", f"![{Path(p).stem}]({p})"]
    lines += ["", "## Assumptions", ""] + [f"- {a}" for a in result.get("assumptions", [])]
    eco = result.get("economics") or {}
    if eco:
        lines.append("- economics: " + ", ".join(f"{k} {v}" for k, v in eco.items()))
    return "\n".join(lines) + "\n"


def html_report(result: dict[str, Any], *, plots: list[str] | None = None, limit: int = 25) -> str:
    """The same report as a standalone HTML page (plots referenced as sibling files)."""
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _row(d)) + "</tr>"
        for d in result["designs"][:limit]
    )
    head = "".join(f"<th>{html.escape(c)}</th>" for c in _HEADERS)
    md = markdown_report(result, plots=None, limit=0)
    intro = "".join(
        f"<li>{html.escape(line[2:])}</li>" for line in md.splitlines() if line.startswith("- ")
    )
    imgs = "".join(
        f'<p><img src="{html.escape(p)}" alt="{html.escape(Path(p).stem)}"></p>'
        for p in plots or []
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>wanka plan: "
        f"{html.escape(result['center'])}</title><style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}</style>"
        f"</head><body><h1>Centre design: {html.escape(result['center'])}</h1><ul>{intro}</ul>"
        f"<h2>Ranked designs</h2><table><tr>{head}</tr>{rows}</table>{imgs}</body></html>\n"
    )


def write_report(result: dict[str, Any], out_dir: Path) -> dict[str, str]:
    """Write report.md, report.html and the PNG plots into `out_dir`; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = write_plots(result, out_dir)
    rel = [p.name for p in plots]
    md = out_dir / "report.md"
    md.write_text(markdown_report(result, plots=rel), encoding="utf-8")
    ht = out_dir / "report.html"
    ht.write_text(html_report(result, plots=rel), encoding="utf-8")
    return {"markdown": str(md), "html": str(ht), **{p.stem: str(p) for p in plots}}
