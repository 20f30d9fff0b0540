"""`wanka port scan` renderers: the findings and the per-target scores (report.table rule)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from wanka.report.table import Col, fit_table

__all__ = ["findings_table", "scores_table"]

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
