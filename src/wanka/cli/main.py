"""The `wanka` console script: one typer app, one module per command group.

Each module in COMMAND_MODULES defines `register(app: typer.Typer) -> None`.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from typer.core import TyperOption

from wanka import __version__


def _flag_type_hidden(self: TyperOption, ctx: Any) -> str | None:
    """`--json` is a flag: its help shows no `<bool>` value (typer >= 0.26 shows one on every flag)."""
    return None if self.is_flag else _typed_option_help(self, ctx)


_typed_option_help = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type_hidden  # type: ignore[method-assign]

COMMAND_MODULES = [
    "catalog",
    "predict",
    "validate",
    "fabric",
    "collective",
    "search",
    "plan",
    "sweep",
    "simulate",
    "port",
    "profile",
    "data",
    "importing",
    "platform",
    "serve",
    "calibrate",
    "schema",
]

COMMAND_NAMES = {"import": "importing"}
"""Command names that differ from their module's name."""


def build_app(modules: list[str] | None = None) -> typer.Typer:
    """The typer app with the command groups of `modules` (default: all)."""
    app = typer.Typer(
        name="wanka",
        help="Plan, build, share and port ten-thousand-accelerator AI compute centres.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(_root)
    for name in COMMAND_MODULES if modules is None else modules:
        importlib.import_module(f"wanka.cli.{name}").register(app)
    return app


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wanka {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Plan, build, share and port ten-thousand-accelerator AI compute centres."""


def _only_module(argv: list[str]) -> list[str] | None:
    """The one module a command line needs (`wanka data copy ...` -> data), else None (all).

    Importing every command group costs about a second (libcst, numpy, the simulator...), paid on
    every call; the top-level help and `--version` still load them all."""
    if not argv or argv[0].startswith("-"):
        return None
    name = COMMAND_NAMES.get(argv[0], argv[0])
    return [name] if name in COMMAND_MODULES else None


def __getattr__(name: str) -> Any:
    """`wanka.cli.main.app`: the whole app, built on first use (tests, `python -m`)."""
    if name == "app":
        globals()["app"] = build_app()
        return globals()["app"]
    raise AttributeError(name)


def main() -> None:
    build_app(_only_module(sys.argv[1:]))()


if __name__ == "__main__":
    main()
