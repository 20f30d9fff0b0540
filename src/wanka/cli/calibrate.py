"""`wanka calibrate RUNS --out PROFILE`: fit one chip's software efficiency to measured runs.

Writes a `wanka-profile/1` (backend `calibrate`) that `predict`, `validate`, `search` and `plan` read
with `--profile`. Prints the in-sample and leave-one-out error before (catalog) and after the fit, and
each fitted parameter with its leave-one-out spread (`wanka.perf.calibrate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from wanka.cli.common import console, handle_errors, print_json
from wanka.errors import ConfigError

__all__ = ["calibrate_cmd", "register"]


def register(root: typer.Typer) -> None:
    """Attach `wanka calibrate` to the root app."""
    root.command("calibrate")(calibrate_cmd)


def _tables(fit: dict[str, Any], out: Path) -> list[Any]:
    err = Table(title=f"{fit['accelerator']}: {fit['runs']} runs", title_justify="left")
    for c in ("error |pred/meas - 1|", "median", "p90", "max"):
        err.add_column(c, justify="left" if c.startswith("error") else "right")
    for k, label in (("in_sample", "in-sample"), ("leave_one_out", "leave-one-out")):
        for when in ("before", "after"):
            e = fit[k][when]
            name = f"{label}, {'catalog' if when == 'before' else 'fitted'}"
            err.add_row(
                name, f"{e['median_abs']:.1%}", f"{e['p90_abs']:.1%}", f"{e['max_abs']:.1%}"
            )
    par = Table(title="software efficiency (fraction of peak)", title_justify="left")
    for c in ("parameter", "catalog", "fitted", "leave-one-out range"):
        par.add_column(c, justify="left" if c == "parameter" else "right")
    for name, p in fit["parameters"].items():
        spread = f"{p['loo_min']:.3f}..{p['loo_max']:.3f}" if p["free"] else "not exercised"
        par.add_row(name, f"{p['catalog']:.3f}", f"{p['fitted']:.3f}", spread)
    return [err, par, f"wrote {out}"]


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
        for part in _tables(fit, out):
            console.print(part)
