"""`wanka port` renderers: scan's findings and per-target scores (report.table rule), and the porting
report (`port.report.PortReport`) as Markdown or a standalone HTML page with the same content."""

from __future__ import annotations

import html
from typing import Any

from rich.table import Table

from wanka.port.report import PortReport
from wanka.port.rules import TARGET_INFO
from wanka.report.table import Col, fit_table

__all__ = ["findings_table", "render_html", "render_markdown", "scores_table"]

_FINDING_COLS = (
    Col("where", "left"),  # file:line:col, never cut
    Col("rule", "left", keep=2),
    Col("severity", "left", keep=3),
    Col("message", "left", wrap=True, keep=1),
)


def _where(f: Any) -> str:
    if f.cell is None:
        return f"{f.file}:{f.line}:{f.col}"
    return f"{f.file}[cell {f.cell}]:{f.line}:{f.col}"


def findings_table(result: Any, *, width: int, wide: bool = False) -> Table:
    """One row per CUDA-specific site: where, rule, severity and what it does."""
    return fit_table(
        _FINDING_COLS,
        [[_where(f), f.rule, f.severity, f.message] for f in result.findings],
        width=width,
        wide=wide,
        title=f"{len(result.findings)} CUDA-specific sites in {len(result.files)} files "
        f"({result.lines:,} lines)",
    )


_SCORE_COLS = (
    Col("target", "left"),
    Col("score"),
    Col("after fix"),
    Col("breaks", keep=4),
    Col("degrades", keep=3),
    Col("info", keep=1),
    Col("manual", keep=2),
    Col("effort h"),
)


def scores_table(scores: dict[str, Any], *, width: int, wide: bool = False) -> Table:
    """Portability score per target, before and after `port fix`, and the effort left."""
    rows = [
        [
            t,
            f"{s.score:.0f}",
            f"{s.after_fix:.0f}",
            str(s.breaks),
            str(s.degrades),
            str(s.info),
            str(s.manual),
            f"{s.effort_hours:.1f}",
        ]
        for t, s in scores.items()
    ]
    return fit_table(_SCORE_COLS, rows, width=width, wide=wide, title="Portability per target")


def _sev_md(s: str) -> str:
    return {"breaks": "**breaks**", "degrades": "degrades", "info": "info"}[s]


def render_markdown(rep: PortReport) -> str:
    """The report as GitHub-flavoured Markdown."""
    out = [
        f"# Porting report: {rep.project}",
        "",
        f"{rep.files} files, {rep.lines:,} lines scanned; "
        f"{sum(g['count'] for g in rep.groups)} CUDA-specific sites in {len(rep.groups)} rules.",
        "",
    ]
    out += [
        "## Portability and effort per target",
        "",
        "| target | score | after `port fix` | breaks | degrades | info | auto-fixed | manual | effort (h) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in rep.targets:
        s = rep.scores[t]
        out.append(
            f"| {t} ({TARGET_INFO[t].label}) | {s['score']:.0f} | {s['after_fix']:.0f} | {s['breaks']} | "
            f"{s['degrades']} | {s['info']} | {s['auto_fixable']} | {s['manual']} | {s['effort_hours']:.1f} |"
        )
    out += [
        "",
        "Score = 100 x (sites that run as is + half of those that run degraded) / all sites. Effort = "
        "0.05 h to review each automatic rewrite + the rule's hours for each site left to a person + 4 h of "
        "testing on the target when anything breaks.",
        "",
    ]
    if rep.throughput is not None:
        out += ["## Expected throughput of the training run on the target chip", ""]
        tp = rep.throughput
        if "unavailable" in tp:
            out += [f"Not computed: {tp['unavailable']}.", ""]
        else:
            out += [
                f"Run `{tp.get('run')}` on {tp['count']} x `{tp['accelerator']}`:",
                "",
                "| software efficiency | tokens/s per accelerator | MFU | step time (s) |",
                "|---|---:|---:|---:|",
            ]
            for key, label in (("catalog", "catalog"), ("profiled", "measured profile")):
                if key in tp:
                    r = tp[key]
                    out.append(
                        f"| {label}: {r['software_efficiency']} | {r['tokens_per_s_per_gpu']:,.0f} | "
                        f"{r['mfu']:.1%} | {r['step_time_s']:.3f} |"
                    )
            out.append("")
    out += ["## Findings by rule", ""]
    for g in rep.groups:
        out += [f"### `{g['rule']}`: {g['title']} ({g['count']})", ""]
        if g["auto_fix"]:
            out += [f"Automatic fix: {g['auto_fix']}.", ""]
        out += ["| target | severity | becomes |", "|---|---|---|"]
        for t in rep.targets:
            pt = g["targets"][t]
            out.append(f"| {t} | {_sev_md(pt['severity'])} | {'; '.join(pt['becomes'])} |")
        locs = g["locations"]
        shown = ", ".join(f"`{w}`" for w in locs[:20]) + (
            f" and {len(locs) - 20} more" if len(locs) > 20 else ""
        )
        out += ["", f"Where: {shown}", ""]
    out += ["## Left to a person after `wanka port fix`", ""]
    for t in rep.targets:
        items = rep.manual[t]
        out.append(f"- **{t}**: {len(items)} site(s)" + (":" if items else ""))
        for m in items[:30]:
            out.append(
                f"  - `{m['where']}` ({m['rule']}, {m['severity']}): {m['message']} -> {m['alternative']}"
            )
        if len(items) > 30:
            out.append(f"  - and {len(items) - 30} more")
    if rep.errors:
        out += ["", "## Files that could not be analysed", ""]
        for e in rep.errors:
            out.append(f"- `{e['file']}` line {e['line']}, column {e['col']}: {e['error']}")
    return "\n".join(out) + "\n"


def render_html(rep: PortReport) -> str:
    """The report as a standalone HTML page (same content as the Markdown)."""
    e = html.escape
    parts = [
        f"<h1>Porting report: {e(rep.project)}</h1>",
        f"<p>{rep.files} files, {rep.lines:,} lines scanned; {sum(g['count'] for g in rep.groups)} "
        f"CUDA-specific sites in {len(rep.groups)} rules.</p>",
        "<h2>Portability and effort per target</h2>",
        _html_scores(rep),
        "<p>Score = 100 &times; (sites that run as is + half of those that run degraded) / all sites.</p>",
    ]
    if rep.throughput is not None:
        parts += _html_throughput(rep.throughput)
    parts.append("<h2>Findings by rule</h2>")
    for g in rep.groups:
        parts += _html_group(rep, g)
    parts.append("<h2>Left to a person after wanka port fix</h2><ul>")
    for t in rep.targets:
        items = "".join(
            f"<li><code>{e(m['where'])}</code> ({e(m['rule'])}, {e(m['severity'])}): "
            f"{e(m['message'])} &rarr; {e(m['alternative'])}</li>"
            for m in rep.manual[t]
        )
        parts.append(f"<li><b>{e(t)}</b>: {len(rep.manual[t])} site(s)<ul>{items}</ul></li>")
    parts.append("</ul>")
    if rep.errors:
        parts.append(
            "<h2>Files that could not be analysed</h2><ul>"
            + "".join(
                f"<li><code>{e(x['file'])}</code> line {x['line']}, column {x['col']}: "
                f"{e(x['error'])}</li>"
                for x in rep.errors
            )
            + "</ul>"
        )
    style = (
        "body{font-family:sans-serif;max-width:70em;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}code{font-size:90%}"
    )
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Porting report</title>'
        f"<style>{style}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )


def _html_table(head: list[str], rows: list[list[str]]) -> str:
    """A table: header cells escaped, body cells as given (already escaped HTML)."""
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


_SCORE_HEAD = [
    "target",
    "score",
    "after port fix",
    "breaks",
    "degrades",
    "info",
    "auto-fixed",
    "manual",
    "effort (h)",
]


def _html_scores(rep: PortReport) -> str:
    rows = []
    for t in rep.targets:
        s = rep.scores[t]
        rows.append(
            [
                html.escape(f"{t} ({TARGET_INFO[t].label})"),
                f"{s['score']:.0f}",
                f"{s['after_fix']:.0f}",
                str(s["breaks"]),
                str(s["degrades"]),
                str(s["info"]),
                str(s["auto_fixable"]),
                str(s["manual"]),
                f"{s['effort_hours']:.1f}",
            ]
        )
    return _html_table(_SCORE_HEAD, rows)


def _html_throughput(tp: dict[str, Any]) -> list[str]:
    e = html.escape
    parts = ["<h2>Expected throughput of the training run on the target chip</h2>"]
    if "unavailable" in tp:
        return [*parts, f"<p>Not computed: {e(tp['unavailable'])}.</p>"]
    trs = []
    for key, label in (("catalog", "catalog"), ("profiled", "measured profile")):
        if key in tp:
            r = tp[key]
            trs.append(
                [
                    e(f"{label}: {r['software_efficiency']}"),
                    f"{r['tokens_per_s_per_gpu']:,.0f}",
                    f"{r['mfu']:.1%}",
                    f"{r['step_time_s']:.3f}",
                ]
            )
    parts.append(
        f"<p>Run <code>{e(str(tp.get('run')))}</code> on {tp['count']} &times; "
        f"<code>{e(tp['accelerator'])}</code></p>"
    )
    head = ["software efficiency", "tokens/s per accelerator", "MFU", "step time (s)"]
    parts.append(_html_table(head, trs))
    return parts


def _html_group(rep: PortReport, g: dict[str, Any]) -> list[str]:
    """One rule's findings: title, automatic fix, per-target severity and alternative, where."""
    e = html.escape
    parts = [f"<h3><code>{e(g['rule'])}</code>: {e(g['title'])} ({g['count']})</h3>"]
    if g["auto_fix"]:
        parts.append(f"<p>Automatic fix: {e(g['auto_fix'])}.</p>")
    rows = [
        [e(t), e(g["targets"][t]["severity"]), e("; ".join(g["targets"][t]["becomes"]))]
        for t in rep.targets
    ]
    parts.append(_html_table(["target", "severity", "becomes"], rows))
    parts.append("<p>Where: " + ", ".join(f"<code>{e(w)}</code>" for w in g["locations"]) + "</p>")
    return parts
