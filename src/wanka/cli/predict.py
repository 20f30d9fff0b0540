"""`wanka predict RUNS`: step time, throughput, MFU and memory of each run in a run-spec file.

Output contract (docs/design.md): with `--json`, a JSON list with one object per run in input order (a single
mapping in gives a one-element list); a run that cannot be evaluated gives `{"id", "error"}` while the
others are still evaluated, and the exit code is then 1. Without `--json`, a table per run with the time
breakdown, the memory per GPU and every assumption made for a null field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from wanka.cli.common import FormatOpt, console, handle_errors, print_json, use_format
from wanka.errors import WankaError
from wanka.profile import apply_profile, load_profile
from wanka.report.predict import render_prediction

__all__ = ["predict_cmd", "predict_file", "register", "render_prediction"]


def register(root: typer.Typer) -> None:
    """Attach `wanka predict` (a single command) to the root app."""
    root.command(name="predict")(predict_cmd)


def predict_file(path: Path, profile: Any = None) -> list[dict[str, Any]]:
    """Predict every run of a run-spec file; failures become `{"id", "error"}` entries, in order."""
    from wanka.perf.predict import predict
    from wanka.spec import RunError, load_runs

    out: list[dict[str, Any]] = []
    for run in load_runs(path):
        if isinstance(run, RunError):
            out.append({"id": run.id, "error": run.error})
            continue
        try:
            if hasattr(run, "groups"):  # heterogeneous run: one job over several kinds
                from wanka.perf.hetero import predict_hetero

                out.append(predict_hetero(run))
                continue
            acc = None
            if profile is not None and profile.accelerator in (None, run.hardware.accelerator.id):
                acc = apply_profile(run.hardware.accelerator, profile)
            res = predict(run, accelerator=acc)
            if acc is not None:
                res["assumptions"].append(
                    f"software efficiency from profile: {acc.software_efficiency.source}"
                )
            out.append(res)
        except WankaError as e:
            out.append({"id": run.id, "error": str(e) or type(e).__name__})
    return out


@handle_errors
def predict_cmd(
    runs: Annotated[
        Path, typer.Argument(help="Run-spec file (YAML or JSON): one run or a list of runs.")
    ],
    json_out: Annotated[
        bool,
        typer.Option(
            "--json", help="Print JSON (the contract in docs/design.md) instead of tables."
        ),
    ] = False,
    profile: Annotated[
        Path | None,
        typer.Option(
            "--profile",
            help="A measured chip profile (`wanka profile`): replaces software_efficiency for runs "
            "on the profiled accelerator (all runs if the profile names none).",
        ),
    ] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Predict step time, tokens/s/GPU, MFU and peak memory of each run in RUNS."""
    json_out = use_format(fmt, json_out)
    prof = load_profile(profile) if profile is not None else None
    results = predict_file(runs, prof)
    if json_out:
        print_json(results)
    else:
        for res in results:
            console.print(render_prediction(res))
    if any("error" in r for r in results):
        raise typer.Exit(code=1)
