"""`wanka validate FILE`: predict every run with a `measured` block and report the error.

`--json` gives `{"cases": [...], "summary": {...}}` (see `wanka.perf.validate`). The summary reports the
train / held-out split of the calibration separately, and groups by source family, accelerator,
precision and model type. Cases that cannot be predicted are listed with their error; the exit code is 1
when the file cannot be read, holds no measured run, or no measured run could be predicted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table

from wanka.cli.common import console, handle_errors, print_json
from wanka.errors import ConfigError

__all__ = ["register", "render_summary", "validate_cmd"]


def register(root: typer.Typer) -> None:
    """Attach `wanka validate` (a single command) to the root app."""
    root.command(name="validate")(validate_cmd)


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


@handle_errors
def validate_cmd(
    file: Annotated[Path, typer.Argument(help="Run-spec file whose runs carry `measured` blocks.")],
    json_out: Annotated[
        bool, typer.Option("--json", help='Print {"cases": [...], "summary": {...}} as JSON.')
    ] = False,
    cases: Annotated[
        bool, typer.Option("--cases", help="Also list every case in the table output.")
    ] = False,
    profile: Annotated[
        Path | None,
        typer.Option(
            "--profile",
            help="A measured chip profile applied to runs on that accelerator (all if it names none).",
        ),
    ] = None,
    loso: Annotated[
        bool,
        typer.Option(
            "--leave-one-source-out",
            help="Also predict each source with the chips' efficiency refitted on the other sources "
            "(slower: one fit per source and chip).",
        ),
    ] = False,
) -> None:
    """Compare predicted with measured tokens/s/GPU (and peak memory) for every measured run in FILE."""
    from wanka.perf.validate import validate_runs
    from wanka.profile import apply_profile, load_profile
    from wanka.spec import load_runs

    prof = load_profile(profile) if profile is not None else None
    acc_for = None
    if prof is not None:

        def acc_for(run: Any) -> Any:
            if prof.accelerator in (None, run.hardware.accelerator.id):
                return apply_profile(run.hardware.accelerator, prof)
            return None

    report = validate_runs(load_runs(file), accelerator_for=acc_for, leave_one_source_out=loso)
    summary = report["summary"]
    if summary["cases"] == 0:
        raise ConfigError(
            f"{file}: no run has a `measured` block, so there is nothing to compare; "
            "add measured: {tokens_per_s_per_gpu: ...} to the runs (see docs/perf-model.md)"
        )
    if json_out:
        print_json(report)
    else:
        console.print(render_summary(report, show_cases=cases))
    if summary["predicted"] == 0:
        first = next((c["error"] for c in report["cases"] if "error" in c), "")
        raise ConfigError(
            f"{file}: none of the {summary['cases']} measured runs could be predicted ({first})"
        )
