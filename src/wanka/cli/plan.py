"""`wanka plan CENTER.yaml`: design a centre (chips, counts, fabric, plan, capex, power, time-to-train)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wanka.cli.common import WIDE_HELP, ProgressBar, console, handle_errors, print_json, print_table

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Attach `wanka plan` to the root app."""

    @app.command("plan")
    @handle_errors
    def plan_cmd(
        center: Annotated[
            Path,
            typer.Argument(help="Centre file (YAML/JSON): goals, candidates, network, limits."),
        ],
        out: Annotated[
            Path, typer.Option("--out", help="Folder for the HTML/Markdown report and plots.")
        ] = Path("wanka-plan-report"),
        no_report: Annotated[
            bool, typer.Option("--no-report", help="Do not write the report folder.")
        ] = False,
        top: Annotated[int, typer.Option("--top", help="Designs to show in the table.")] = 15,
        profile: Annotated[
            Path | None,
            typer.Option(
                "--profile",
                help="Measured software-efficiency profile (`wanka profile`): replaces the catalog's "
                "software_efficiency of the candidate it was measured on (of every candidate if "
                "the profile names no chip).",
            ),
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        wide: Annotated[bool, typer.Option("--wide", help=WIDE_HELP)] = False,
    ) -> None:
        """Rank candidate centre designs for the training goals, best first, and write a report."""
        from wanka.errors import ConfigError
        from wanka.plan.center import design_center, load_center

        if top <= 0:
            raise ConfigError(f"--top must be positive, got {top}")
        spec = load_center(center)
        if profile is not None:
            from dataclasses import replace

            from wanka.profile import apply_profile, load_profile

            prof = load_profile(profile)
            cands = tuple(
                replace(c, accelerator=apply_profile(c.accelerator, prof))
                if prof.accelerator in (None, c.accelerator.id)
                else c
                for c in spec.candidates
            )
            if cands == spec.candidates:
                raise ConfigError(
                    f"--profile was measured on {prof.accelerator!r}, which is not a candidate"
                )
            spec = replace(spec, candidates=cands)
        with ProgressBar("designing", json_out=json_out) as bar:
            result = design_center(spec, progress=bar)
        files = None
        if not no_report:
            from wanka.report.plan import write_report

            files = write_report(result, out)
            result["report"] = files
        if json_out:
            print_json(result)
            _fail_if_nothing_meets(result)
            return
        from wanka.report.plan import designs_table

        print_table(designs_table(result, limit=top, width=console.width, wide=wide))
        if result["designs"]:
            w = result["designs"][0]
            console.print(
                f"best: [bold]{w['id']}[/]: binding constraint {w['binding_constraint']} "
                f"({w['binding_detail']})",
                highlight=False,
            )
        if files:
            console.print(
                f"report written to {files['html']} and {files['markdown']}", highlight=False
            )
        _fail_if_nothing_meets(result)


def _fail_if_nothing_meets(result: dict) -> None:
    """Exit 1 naming the binding reason when no design meets every limit (the result still printed)."""
    from wanka.errors import ConfigError

    designs = result.get("designs") or []
    if any(d.get("meets_all_constraints") for d in designs):
        return
    if not designs:
        raise ConfigError("no centre design could be built from the candidates")
    w = designs[0]
    raise ConfigError(
        f"no design meets every limit; the best, {w['id']}, is bound by "
        f"{w['binding_constraint']} ({w['binding_detail']})"
    )
