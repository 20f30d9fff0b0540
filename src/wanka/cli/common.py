"""Shared CLI plumbing: the one-line error path, JSON output and the rich consoles."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape

from wanka.errors import WankaError

__all__ = [
    "WIDE_HELP",
    "console",
    "err_console",
    "fail",
    "handle_errors",
    "print_json",
    "print_table",
    "stopped",
    "to_jsonable",
]

WIDE_HELP = "Show every column, however wide (by default columns are left out to fit the terminal)."

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> None:
    """Print a one-line error on stderr and exit with code 1."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def stopped(message: str) -> None:
    """After Ctrl-C: say what was kept on stderr and exit with 130 (128 + SIGINT), as shells do."""
    err_console.print(f"interrupted: {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=130)


def print_table(table: Any) -> None:
    """Print a `wanka.report.table.fit_table` table; a --wide one is never cropped to the terminal."""
    width = getattr(table, "width", None)
    if width and width > console.width:  # rich clamps print(width=) to the console: use a wider one
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
    """Write `obj` as JSON on stdout (no rich markup, no wrapping)."""
    sys.stdout.write(json.dumps(to_jsonable(obj), indent=2) + "\n")
    sys.stdout.flush()


def handle_errors(fn: F) -> F:
    """Decorator for commands: a `WankaError` becomes a one-line error and exit code 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except WankaError as e:
            fail(str(e))
        except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
            fail(f"{e.strerror}: {e.filename}")

    return wrapper  # type: ignore[return-value]
