"""`wanka schema NAME`: the JSON Schema of an input file (run|center|cluster|serve), for editors."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from wanka.cli.common import handle_errors


def register(app: typer.Typer) -> None:
    """Attach `wanka schema` to the root app."""
    app.command("schema")(schema_cmd)


@handle_errors
def schema_cmd(
    name: Annotated[str, typer.Argument(help="Which input file: run, center, cluster or serve.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON output: the schema is JSON already (the default).")
    ] = False,
) -> None:
    """Print the JSON Schema of an input file (published under schemas/; see docs/schemas.md)."""
    from wanka.schemas import schema_text

    sys.stdout.write(schema_text(name))
