"""Shared CLI plumbing: the one-line error path, JSON output and the rich consoles."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, Self, TypeVar

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from wanka.errors import WankaError

__all__ = [
    "WIDE_HELP",
    "FormatOpt",
    "ProgressBar",
    "console",
    "err_console",
    "fail",
    "handle_errors",
    "print_json",
    "print_table",
    "stopped",
    "to_jsonable",
    "use_format",
]

WIDE_HELP = "Show every column, however wide (by default columns are left out to fit the terminal)."


class _FormatConsole(Console):
    """The commands' stdout console. Under `--format csv|md` it prints only the tables of what it is
    given, as CSV or Markdown (`wanka.report.table.render_tables`), and everything else on stderr, so
    stdout is a clean table file whichever command printed it."""

    table_format: str = "table"

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if self.table_format not in ("csv", "md"):
            super().print(*objects, **kwargs)
            return
        from wanka.report.table import render_tables

        text = render_tables(list(objects), self.table_format)  # type: ignore[arg-type]
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            err_console.print(*objects, **kwargs)


console = _FormatConsole()
err_console = Console(stderr=True)

FormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        help="Output: table (default), csv or md (the tables only, other lines on stderr), or json.",
    ),
]


def use_format(fmt: str, json_out: bool = False) -> bool:
    """Set this command's `--format`; True when it should print JSON (`--format json` or `--json`)."""
    from wanka.errors import ConfigError
    from wanka.report.table import FORMATS

    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    console.table_format = fmt
    return json_out or fmt == "json"


F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> None:
    """Print a one-line error on stderr and exit with code 1."""
    err_console.print(
        f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True, emoji=False
    )
    raise typer.Exit(code=1)


class ProgressBar:
    """A `progress(done, total)` callback that shows a rich bar once a job has run for `delay_s` seconds.

    Off with `--json` (`json_out=True`) and whenever stdout is not a terminal; drawn on stderr.
    """

    def __init__(self, description: str, *, delay_s: float = 1.0, json_out: bool = False) -> None:
        self.description, self.delay_s = description, delay_s
        self.enabled = console.is_terminal and not json_out
        self.t0 = time.perf_counter()
        self._bar: Progress | None = None
        self._task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            if time.perf_counter() - self.t0 < self.delay_s or done >= total:
                return
            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=total)
        self._bar.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stopped(message: str) -> None:
    """After Ctrl-C: say what was kept on stderr and exit with 130 (128 + SIGINT), as shells do."""
    err_console.print(f"interrupted: {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=130)


def print_table(table: Any) -> None:
    """Print a `wanka.report.table.fit_table` table; a --wide one is never cropped to the terminal."""
    width = getattr(table, "width", None)
    if (
        width and width > console.width and console.table_format == "table"
    ):  # rich clamps print(width=) to the console: use a wider one
        Console(width=width, force_terminal=console.is_terminal, highlight=False).print(table)
    else:
        console.print(table)


def to_jsonable(obj: Any) -> Any:
    """Turn numpy scalars/arrays, tuples and dataclasses into plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if np.isfinite(f) else None
    return obj


def print_json(obj: Any) -> None:
    """Write `obj` as JSON on stdout (no rich markup, no wrapping), in the docs/json.md vocabulary."""
    from wanka.report.vocabulary import canonical

    sys.stdout.write(json.dumps(canonical(to_jsonable(obj)), indent=2) + "\n")
    sys.stdout.flush()


def handle_errors(fn: F) -> F:
    """Decorator for commands: a `WankaError` becomes a one-line error and exit code 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        console.table_format = "table"  # each command starts plain; its --format sets it again
        try:
            return fn(*args, **kwargs)
        except WankaError as e:
            fail(str(e))
        except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
            fail(f"{e.strerror}: {e.filename}")

    return wrapper  # type: ignore[return-value]
