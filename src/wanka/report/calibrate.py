"""`wanka calibrate` renderer: the fit's error tables and its parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

__all__ = ["calibrate_report"]


def calibrate_report(fit: dict[str, Any], out: Path) -> list[Any]:
    """The error before and after the fit, each fitted parameter with its leave-one-out range, and
    the file written."""
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
