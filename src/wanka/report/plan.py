"""Render a centre design (`wanka.plan.design_center` output): rich table, Markdown, HTML and plots.

Pure renderers: `designs_table` returns a rich Table; `markdown_report` / `html_report` return strings,
both from the same report items (the HTML through the jinja2 template `templates/plan.html.j2`, with the
plots embedded); `write_report` writes them with the plots of `plan_plots` into a folder.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

from rich.table import Table

from wanka.report.table import Col, fit_table

__all__ = ["designs_table", "html_report", "markdown_report", "write_report"]

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


Item = tuple[str, str, str]
"""One bullet: (text before the bold part, the bold part, text after it)."""


def _intro(result: dict[str, Any]) -> list[Item]:
    items: list[Item] = []
    for g in result.get("goals", []):
        items.append(
            (
                "training goal",
                g["id"],
                (
                    f": {g['model']}, {g['tokens']:.3g} tokens in {g['deadline_days']:g} days (global "
                    f"batch {g['global_batch_size']} x {g['seq_len']}, {g['precision']})"
                ),
            )
        )
    for sv in result.get("serving", []):
        items.append(("serving", sv["id"], f": {sv['model']} at {sv['tokens_per_s']:.3g} tokens/s"))
    lim = result.get("limits", {})
    budget = f"${lim['budget_usd'] / 1e9:.2f}B" if lim.get("budget_usd") else "-"
    items.append(("limits:", "", f" power {lim.get('power_mw') or '-'} MW, budget {budget}"))
    return items


def _best(result: dict[str, Any]) -> list[Item]:
    if not result["designs"]:
        return []
    w = result["designs"][0]
    capex = ", ".join(f"{k} ${v / 1e6:,.0f}M" for k, v in w["capex_breakdown"].items())
    items: list[Item] = [
        ("binding constraint:", w["binding_constraint"], f" ({w['binding_detail']})"),
        ("", "", f"accelerators: {w['count']:,}; capex ${w['capex_usd'] / 1e6:,.0f}M ({capex})"),
        (
            "",
            "",
            (
                f"power {w['power_mw']:.1f} MW; energy {w['energy_mwh']:,.0f} MWh; "
                f"GPU-hours {w['gpu_hours']:,.0f}"
            ),
        ),
        (
            "",
            "",
            (
                f"time to train {_f(w.get('time_to_train_days'))} days; cost per million tokens "
                f"${_f(w.get('cost_per_million_tokens_usd'), '{:,.2f}')}"
            ),
        ),
    ]
    items += [("", "", line) for line in _job_lines(w)]
    return items


def _job_lines(w: dict[str, Any]) -> list[str]:
    lines = []
    for j in w.get("jobs", []):
        if j.get("role") == "training" and j.get("plan"):
            gp = j.get("goodput") or {}
            lines.append(
                f"job {j['id']} on {j['count']:,} x {j['accelerator']}: "
                f"{_plan(j['plan']['parallelism'])}, {j['tokens_per_s_per_gpu']:.1f} tokens/s/GPU, "
                f"MFU {_f(j.get('mfu'), '{:.1%}')}, goodput {_f(gp.get('goodput'), '{:.1%}')} "
                f"(job MTBF {_f(gp.get('job_mtbf_hours'), '{:.1f}')} h, checkpoint every "
                f"{_f(gp.get('checkpoint_interval_min'), '{:.0f}')} min)"
            )
        elif j.get("role") == "serving":
            lines.append(f"serving {j['id']} on {j['count']:,} x {j['accelerator']}")
    fab = w.get("fabric") or {}
    if fab:
        lines.append(
            f"fabric: {fab.get('switches', '-')} switches, {fab.get('transceivers', '-')} "
            f"transceivers, ${(fab.get('cost_usd') or 0) / 1e6:,.0f}M, "
            f"{(fab.get('power_w') or 0) / 1e6:.2f} MW"
        )
    return lines


def _assumptions(result: dict[str, Any]) -> list[str]:
    out = list(result.get("assumptions", []))
    eco = result.get("economics") or {}
    if eco:
        out.append("economics: " + ", ".join(f"{k} {v}" for k, v in eco.items()))
    return out


def _md_item(it: Item) -> str:
    pre, bold, post = it
    mid = f"**{bold}**" if bold else ""
    return "- " + " ".join(x for x in (pre, mid) if x) + post if (pre or mid) else "- " + post


_NOTE = (
    "(!) = breaks a constraint; the binding column gives the tightest (or most violated) "
    "constraint and its margin."
)


def markdown_report(
    result: dict[str, Any], *, plots: list[str] | None = None, limit: int = 25
) -> str:
    """The report as Markdown: goals, limits, ranked designs, the winner's details, assumptions."""
    lines = [f"# Centre design: {result['center']}", ""] + [_md_item(i) for i in _intro(result)]
    lines += ["", "## Ranked designs", "", "| " + " | ".join(_HEADERS) + " |"]
    lines.append("|" + "---|" * len(_COLUMNS))
    for d in result["designs"][:limit]:
        lines.append("| " + " | ".join(c.replace("|", "/") for c in _row(d)) + " |")
    lines += ["", _NOTE]
    if result["designs"]:
        lines += ["", f"## Best design: {result['designs'][0]['id']}", ""]
        lines += [_md_item(i) for i in _best(result)]
    for p in plots or []:
        lines += ["", f"![{Path(p).stem}]({p})"]
    lines += ["", "## Assumptions", ""] + [f"- {a}" for a in _assumptions(result)]
    return "\n".join(lines) + "\n"


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def html_report(
    result: dict[str, Any],
    *,
    plots: list[Path] | None = None,
    interactive: str | None = None,
    limit: int = 25,
) -> str:
    """The report as one self-contained HTML page (jinja2 template, plots embedded as data URIs)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("wanka.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("plan.html.j2").render(
        center=result["center"],
        intro=_intro(result),
        headers=_HEADERS,
        rows=[_row(d) for d in result["designs"][:limit]],
        note=_NOTE,
        best_id=result["designs"][0]["id"] if result["designs"] else None,
        best=_best(result),
        images=[(p.stem.replace("_", " "), _data_uri(p)) for p in plots or []],
        interactive=interactive,
        assumptions=_assumptions(result),
    )


def write_report(result: dict[str, Any], out_dir: Path) -> dict[str, str]:
    """Write report.md, report.html (self-contained), the PNG plots and the interactive frontier."""
    from wanka.report.plan_plots import write_interactive_frontier, write_plots

    plots = write_plots(result, out_dir)
    inter = write_interactive_frontier(result, out_dir)
    rel = [p.name for p in plots]
    md = out_dir / "report.md"
    md.write_text(markdown_report(result, plots=rel), encoding="utf-8")
    ht = out_dir / "report.html"
    ht.write_text(html_report(result, plots=plots, interactive=inter.name), encoding="utf-8")
    out = {"markdown": str(md), "html": str(ht), "frontier_html": str(inter)}
    return out | {p.stem: str(p) for p in plots}
