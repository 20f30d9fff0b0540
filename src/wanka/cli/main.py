"""The `wanka` console script: one typer app, one module per command group.

Each module in COMMAND_MODULES defines `register(app: typer.Typer) -> None`.
"""

from __future__ import annotations

import importlib
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
]

app = typer.Typer(
    name="wanka",
    help="Plan, build, share and port ten-thousand-accelerator AI compute centres.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wanka {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Plan, build, share and port ten-thousand-accelerator AI compute centres."""


for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"wanka.cli.{_name}")
    except ModuleNotFoundError as _e:  # a command group not written yet
        if _e.name != f"wanka.cli.{_name}":
            raise
        continue
    _mod.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
