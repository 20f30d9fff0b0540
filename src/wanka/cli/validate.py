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

from wanka.cli.common import FormatOpt, console, handle_errors, print_json, use_format
from wanka.errors import ConfigError
from wanka.report.validate import render_summary

__all__ = ["register", "render_summary", "validate_cmd"]


def register(root: typer.Typer) -> None:
    """Attach `wanka validate` (a single command) to the root app."""
    root.command(name="validate")(validate_cmd)


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
    fmt: FormatOpt = "table",
) -> None:
    """Compare predicted with measured tokens/s/GPU (and peak memory) for every measured run in FILE."""
    json_out = use_format(fmt, json_out)
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
