"""`wanka calibrate RUNS --out PROFILE`: fit one chip's software efficiency to measured runs.

Writes a `wanka-profile/1` (backend `calibrate`) that `predict`, `validate`, `search` and `plan` read
with `--profile`. Prints the in-sample and leave-one-out error before (catalog) and after the fit, and
each fitted parameter with its leave-one-out spread (`wanka.perf.calibrate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wanka.cli.common import console, handle_errors, print_json
from wanka.errors import ConfigError
from wanka.report.calibrate import calibrate_report

__all__ = ["calibrate_cmd", "register"]


def register(root: typer.Typer) -> None:
    """Attach `wanka calibrate` to the root app."""
    root.command("calibrate")(calibrate_cmd)


@handle_errors
def calibrate_cmd(
    runs: Annotated[Path, typer.Argument(help="Run-spec file whose runs carry `measured` blocks.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Profile file to write.")],
    accelerator: Annotated[
        str | None,
        typer.Option("--accelerator", help="Fit only the runs on this catalog chip."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the fit as JSON.")] = False,
) -> None:
    """Fit GEMM, attention, memory-bandwidth and collective efficiency of one chip to measured runs."""
    from wanka.perf.calibrate import calibrate_runs
    from wanka.profile import calibrated_profile, dump_profile
    from wanka.spec import RunSpec, load_runs

    if out.exists() and out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give a file name")
    if not out.parent.exists():
        raise ConfigError(f"--out {out}: the directory {out.parent} does not exist")
    loaded = load_runs(runs)
    fit = calibrate_runs(loaded, accelerator=accelerator)
    acc = next(
        r
        for r in loaded
        if isinstance(r, RunSpec) and r.hardware.accelerator.id == fit["accelerator"]
    )
    prof = calibrated_profile(acc.hardware.accelerator, fit, data=runs.name)
    dump_profile(prof, out)
    if as_json:
        print_json({**fit, "profile": str(out)})
    else:
        for part in calibrate_report(fit, out):
            console.print(part)
