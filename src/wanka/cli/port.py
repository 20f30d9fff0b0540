"""`wanka port`: scan PyTorch code for CUDA-specific constructs, rewrite it device-neutral, report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from wanka.cli.common import WIDE_HELP, console, err_console, handle_errors, print_json, print_table
from wanka.errors import ConfigError
from wanka.port import TARGETS, check_target, fix, scan
from wanka.port.report import build_report, expected_throughput
from wanka.report.port import findings_table, render_html, render_markdown, scores_table

__all__ = ["app", "register"]

app = typer.Typer(
    help="Find what ties PyTorch code to CUDA, rewrite it device-neutral, report the effort.",
    no_args_is_help=True,
)

_TARGET_HELP = f"Target: {', '.join(TARGETS)}."


def register(root: typer.Typer) -> None:
    """Attach `wanka port` to the root app."""
    root.add_typer(app, name="port")


def _targets(values: list[str] | None) -> tuple[str, ...]:
    return tuple(check_target(t) for t in values) if values else TARGETS


def _errors(errors: Any) -> None:
    for e in errors:
        where = f"{e.file}:{e.line}:{e.col}" if e.line is not None else e.file
        err_console.print(
            Text.assemble(("error:", "bold red"), f" {where}: {e.error}"),
            highlight=False,
            soft_wrap=True,
        )


@app.command("scan")
@handle_errors
def scan_cmd(
    path: Annotated[Path, typer.Argument(help="A Python file, notebook or directory.")],
    target: Annotated[
        list[str] | None, typer.Option("--target", "-t", help=_TARGET_HELP + " Repeatable.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    wide: Annotated[bool, typer.Option("--wide", help=WIDE_HELP)] = False,
) -> None:
    """Report every CUDA-specific construct, what it becomes per target, and a portability score."""
    result = scan(path, _targets(target))
    if as_json:
        print_json(result.to_json())
    else:
        print_table(findings_table(result, width=console.width, wide=wide))
        print_table(scores_table(result.score, width=console.width, wide=wide))
        console.print(
            "score = 100 x (sites running as is + half of those running degraded) / all sites",
            highlight=False,
        )
    _errors(result.errors)
    if result.errors:
        raise typer.Exit(code=1)


@app.command("fix")
@handle_errors
def fix_cmd(
    path: Annotated[Path, typer.Argument(help="A Python file, notebook or directory.")],
    target: Annotated[str, typer.Option("--target", "-t", help=_TARGET_HELP)],
    write: Annotated[
        bool,
        typer.Option(
            "--write/--diff",
            help="--diff (default) prints a unified diff and changes nothing; "
            "--write rewrites the files atomically.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Rewrite CUDA-specific code into device-neutral code (torch.accelerator, torch.amp, ...)."""
    check_target(target)
    result = fix(path, target, write=write)
    manual = [m for f in result.files for m in f.manual]
    if as_json:
        print_json(result.to_json())
    elif write:
        if result.written:
            sys.stdout.write(
                f"rewrote {len(result.written)} file(s) for {target}: {', '.join(result.written)}\n"
            )
    else:
        sys.stdout.write(result.diff())
    if not as_json and manual:
        err_console.print(
            f"{len(manual)} site(s) left for a person on {target}:", highlight=False, markup=False
        )
        for m in manual:
            where = f"{m.file}:{m.line}" if m.cell is None else f"{m.file}[cell {m.cell}]:{m.line}"
            err_console.print(
                f"  {where} {m.rule} ({m.severity}): {m.message} -> {m.alternative}",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
    _errors(result.errors)
    if result.errors:
        raise typer.Exit(code=1)


@app.command("report")
@handle_errors
def report_cmd(
    path: Annotated[Path, typer.Argument(help="A Python file, notebook or directory.")],
    target: Annotated[
        list[str] | None, typer.Option("--target", "-t", help=_TARGET_HELP + " Repeatable.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the report here (.md or .html).")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="md or html (default: from --out, else md).")
    ] = None,
    run: Annotated[
        Path | None, typer.Option("--run", help="The team's training run (a run-spec YAML).")
    ] = None,
    profile: Annotated[
        Path | None, typer.Option("--profile", help="A chip profile from `wanka profile`.")
    ] = None,
    accelerator: Annotated[
        str | None, typer.Option("--accelerator", help="Target chip (catalog id).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report data as JSON.")] = False,
) -> None:
    """Findings grouped by rule, effort per target and, with --run, the run's expected throughput."""
    if fmt is None:
        fmt = "html" if out is not None and out.suffix.lower() in (".html", ".htm") else "md"
    if fmt not in ("md", "html"):
        raise ConfigError(f"unknown format {fmt!r}; choose md or html")
    if profile is not None and run is None:
        raise ConfigError("--profile needs --run (the training run to predict on the target chip)")
    for opt, given in (("--run", run), ("--profile", profile)):
        if given is not None and not given.is_file():
            raise ConfigError(f"{opt}: no such file: {given}")
    result = scan(path, _targets(target))
    throughput = (
        expected_throughput(run, profile_path=profile, accelerator_id=accelerator) if run else None
    )
    rep = build_report(result, throughput=throughput)
    text = render_html(rep) if fmt == "html" else render_markdown(rep)
    if as_json:
        print_json(rep.to_json())
    elif out is None:
        sys.stdout.write(text)
    if out is not None:
        out.write_text(text, encoding="utf-8")
        if not as_json:
            err_console.print(f"wrote {out}", highlight=False, markup=False)
    _errors(result.errors)
    if result.errors:
        raise typer.Exit(code=1)
