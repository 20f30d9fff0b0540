"""`wanka validate` renderer: error tables of a `validate_runs` report (train / held-out split, per
group, leave one source out, peak memory, cases not predicted, and each case on request)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table

__all__ = ["render_summary"]


def _row(t: Table, name: str, st: dict[str, Any]) -> None:
    if not st.get("n"):
        t.add_row(name, "0", "-", "-", "-")
        return
    t.add_row(
        name,
        str(st["n"]),
        f"{st['median_abs']:.1%}",
        f"{st['p90_abs']:.1%}",
        f"{st['median_signed']:+.1%}",
    )


def _table(title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for c in ("group", "cases", "median |err|", "p90 |err|", "bias (median)"):
        t.add_column(c, justify="left" if c == "group" else "right")
    return t


def render_summary(report: dict[str, Any], *, show_cases: bool = False) -> Group:
    """Rich tables of a `validate_runs` report."""
    s = report["summary"]
    parts: list[Any] = [
        (
            f"tokens/s/GPU error = predicted / measured - 1; split: {s['split_rule']}; "
            f"{s['predicted']} of {s['cases']} cases predicted"
        )
    ]
    t = _table("dense + MoE")
    for k in ("held_out", "train", "all"):
        _row(t, k.replace("_", "-"), s["dense_moe"][k])
    _row(t, "moe-hybrid (reported apart)", s["moe_hybrid"])
    parts.append(t)
    for part, label in (("held_out", "held-out"), ("all", "whole file")):
        for key in ("by_type", "by_family", "by_framework", "by_accelerator", "by_precision"):
            tt = _table(f"{label}, {key.replace('by_', 'by ')}")
            for name, st in s[part][key].items():
                _row(tt, name, st)
            parts.append(tt)
    if "leave_one_source_out" in s:
        lt = Table(
            title="leave one source out (chip efficiency refitted on the other sources)",
            title_justify="left",
        )
        for c in ("source", "cases", "median |err|", "p90 |err|", "refitted", "no other source"):
            lt.add_column(c, justify="left" if c == "source" else "right")
        for name, st in s["leave_one_source_out"].items():
            if not st["n"]:
                continue
            lt.add_row(
                name,
                str(st["n"]),
                f"{st['median_abs']:.1%}",
                f"{st['p90_abs']:.1%}",
                str(st.get("refitted", "")),
                str(st.get("no_other_source", "")),
            )
        parts.append(lt)
    pm = s["peak_memory"]
    parts.append(
        "peak memory: "
        + (
            f"{pm['n']} cases, median |err| {pm['median_abs']:.1%}, p90 {pm['p90_abs']:.1%}"
            if pm["n"]
            else "no case gives measured.peak_memory_gib"
        )
    )
    failed = [c for c in report["cases"] if "error" in c]
    if failed:
        ft = Table(title=f"{len(failed)} cases not predicted", title_justify="left")
        ft.add_column("id")
        ft.add_column("error")
        for c in failed:
            ft.add_row(str(c["id"]), c["error"])
        parts.append(ft)
    if show_cases:
        ct = Table(title="cases", title_justify="left")
        for col in ("id", "split", "accelerator", "precision", "measured", "predicted", "error"):
            ct.add_column(
                col,
                justify="left" if col in ("id", "split", "accelerator", "precision") else "right",
            )
        for c in report["cases"]:
            if "rel_error" in c:
                ct.add_row(
                    str(c["id"]),
                    c["split"],
                    c["accelerator"],
                    c["precision"],
                    f"{c['measured_tokens_per_s_per_gpu']:,.0f}",
                    f"{c['predicted_tokens_per_s_per_gpu']:,.0f}",
                    f"{c['rel_error']:+.1%}",
                )
        parts.append(ct)
    return Group(*parts)
