"""The porting report of one scanned project, as a plain data structure, Markdown and HTML.

Sections: the portability score and effort per target, the findings grouped by rule (with what each
becomes on every target and where it occurs), what `wanka port fix` leaves to a person, and — given a
chip profile and the team's run spec — the expected throughput of that training run on the target chip
with the measured software efficiency (through `wanka.perf.predict`, imported lazily).
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wanka.port.rules import RULES, SEVERITY_ORDER, TARGET_INFO
from wanka.port.scan import Finding, ScanResult

__all__ = ["PortReport", "build_report", "expected_throughput", "render_html", "render_markdown"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PortReport:
    """Everything the report shows, renderer-independent."""

    project: str
    files: int
    lines: int
    targets: tuple[str, ...]
    scores: dict[str, dict[str, Any]]
    groups: list[dict[str, Any]]
    manual: dict[str, list[dict[str, Any]]]
    errors: list[dict[str, Any]]
    throughput: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "files": self.files,
            "lines": self.lines,
            "targets": list(self.targets),
            "scores": self.scores,
            "groups": self.groups,
            "manual": self.manual,
            "errors": self.errors,
            "throughput": self.throughput,
            "notes": self.notes,
        }


def _worst(severities: list[str]) -> str:
    """The first of the most severe (as `max` with SEVERITY_ORDER as the key)."""
    worst = severities[0]
    for sev in severities[1:]:
        if SEVERITY_ORDER[sev] > SEVERITY_ORDER[worst]:
            worst = sev
    return worst


def _where(f: Finding) -> str:
    return f"{f.file}:{f.line}" if f.cell is None else f"{f.file} cell {f.cell}:{f.line}"


def build_report(result: ScanResult, *, throughput: dict[str, Any] | None = None) -> PortReport:
    """Group a scan's findings by rule and attach scores, effort and (optionally) expected throughput."""
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_rule[f.rule].append(f)
    groups = []
    for rule_id, fs in sorted(
        by_rule.items(),
        key=lambda kv: (-max(SEVERITY_ORDER[f.severity] for f in kv[1]), -len(kv[1]), kv[0]),
    ):
        rule = RULES[rule_id]
        per_target = {}
        for t in result.targets:
            sevs: list[str] = [f.targets[t]["severity"] for f in fs]
            per_target[t] = {
                "severity": _worst(sevs),
                "becomes": sorted({f.targets[t]["becomes"] for f in fs}),
            }
        groups.append(
            {
                "rule": rule_id,
                "title": rule.title,
                "count": len(fs),
                "auto_fix": rule.fix if any(f.fixable for f in fs) else None,
                "targets": per_target,
                "locations": [_where(f) for f in fs],
            }
        )
    manual: dict[str, list[dict[str, Any]]] = {}
    for t in result.targets:
        manual[t] = [
            {
                "where": _where(f),
                "rule": f.rule,
                "severity": f.targets[t]["severity"],
                "message": f.message,
                "alternative": f.targets[t]["becomes"],
            }
            for f in result.findings
            if f.targets[t]["fix"] == "manual" and f.targets[t]["severity"] != "info"
        ]
    return PortReport(
        project=result.root,
        files=len(result.files),
        lines=result.lines,
        targets=result.targets,
        scores={t: s.to_json() for t, s in result.score.items()},
        groups=groups,
        manual=manual,
        errors=[e.to_json() for e in result.errors],
        throughput=throughput,
    )


def expected_throughput(
    run_path: str | Path,
    *,
    profile_path: str | Path | None = None,
    accelerator_id: str | None = None,
) -> dict[str, Any]:
    """Predict the team's run (a run-spec file) on the target chip, with and without the measured profile.

    The chip is `accelerator_id`, else the profile's chip, else the run's own. Returns a dict with the
    catalog-efficiency and profiled predictions, or {"unavailable": reason} when the performance model
    (`wanka.perf`) or the run spec cannot be used.
    """
    try:
        from wanka.catalogs import get_accelerator
        from wanka.perf import predict
        from wanka.spec import RunSpec, load_runs
    except ImportError as e:  # the model is another engineer's work in progress
        return {"unavailable": f"the performance model is not available ({e.name})"}
    from dataclasses import replace

    from wanka.errors import WankaError
    from wanka.profile import apply_profile, load_profile

    try:
        profile = load_profile(profile_path) if profile_path is not None else None
        runs = [r for r in load_runs(run_path) if isinstance(r, RunSpec)]
        if not runs:
            return {"unavailable": f"{run_path}: no valid run in the file"}
        run = runs[0]
        acc_id = (
            accelerator_id
            or (profile.accelerator if profile is not None else None)
            or run.hardware.accelerator.id
        )
        acc = get_accelerator(acc_id)
        run = replace(run, hardware=replace(run.hardware, accelerator=acc))
        base = predict(run, accelerator=acc)
        out: dict[str, Any] = {
            "run": run.id,
            "accelerator": acc.id,
            "count": run.hardware.count,
            "catalog": {
                "tokens_per_s_per_gpu": base["tokens_per_s_per_gpu"],
                "mfu": base["mfu"],
                "step_time_s": base["step_time_s"],
                "software_efficiency": acc.software_efficiency.source,
            },
        }
        if profile is not None:
            prof_acc = apply_profile(acc, profile)
            res = predict(run, accelerator=prof_acc)
            out["profiled"] = {
                "tokens_per_s_per_gpu": res["tokens_per_s_per_gpu"],
                "mfu": res["mfu"],
                "step_time_s": res["step_time_s"],
                "software_efficiency": prof_acc.software_efficiency.source,
            }
        return out
    except WankaError as e:
        return {"unavailable": str(e)}


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
