"""`wanka catalog`: list and show the shipped accelerators and model presets."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from wanka.catalogs import accelerators, get_accelerator
from wanka.cli.common import (
    WIDE_HELP,
    FormatOpt,
    console,
    handle_errors,
    print_json,
    print_table,
    use_format,
)
from wanka.errors import CatalogError
from wanka.report.catalog import (
    accelerator_card,
    accelerator_record,
    accelerators_table,
    model_card,
    model_record,
    models_table,
    traces_table,
)
from wanka.units import difflib_closest
from wanka.workload.presets import get_preset, presets, resolve_id

__all__ = ["accelerator_record", "app", "model_record", "register"]

app = typer.Typer(
    help="List and show the shipped accelerators and model presets.", no_args_is_help=True
)


class Kind(str, Enum):
    accelerators = "accelerators"
    models = "models"
    traces = "traces"


def register(root: typer.Typer) -> None:
    """Attach `wanka catalog` to the root app."""
    root.add_typer(app, name="catalog")


@app.command("list")
@handle_errors
def list_(
    kind: Annotated[Kind, typer.Option("--kind", "-k", help="What to list.")] = Kind.accelerators,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table.")
    ] = False,
    wide: Annotated[bool, typer.Option("--wide", help=WIDE_HELP)] = False,
    fmt: FormatOpt = "table",
) -> None:
    """List the accelerators (default), the model presets or the shipped traces."""
    json_out = use_format(fmt, json_out)
    if kind is Kind.traces:
        from wanka.sim.traces import list_builtin

        names = list_builtin()
        if json_out:
            print_json([{"id": f"builtin:{n}"} for n in names])
        else:
            print_table(traces_table(names, width=console.width, wide=wide))
        return
    if kind is Kind.accelerators:
        accs = list(accelerators().values())
        if json_out:
            print_json([accelerator_record(a) for a in accs])
        else:
            print_table(accelerators_table(accs, width=console.width, wide=wide))
    else:
        items = list(presets().values())
        if json_out:
            print_json([model_record(p) for p in items])
        else:
            print_table(models_table(items, width=console.width, wide=wide))


@app.command("show")
@handle_errors
def show(
    item_id: Annotated[
        str, typer.Argument(metavar="ID", help="An accelerator id or a model preset id/alias.")
    ],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table.")
    ] = False,
    fmt: FormatOpt = "table",
) -> None:
    """Show one accelerator (every figure with its sources) or one model preset (params, FLOPs per token)."""
    json_out = use_format(fmt, json_out)
    try:
        acc = get_accelerator(item_id)  # an id, or the id or name written another way
    except CatalogError:
        pass
    else:
        print_json(accelerator_record(acc)) if json_out else console.print(accelerator_card(acc))
        return
    try:
        preset = get_preset(resolve_id(item_id))
    except CatalogError:
        every = [*accelerators(), *presets()]
        raise CatalogError(
            f"unknown accelerator or model {item_id!r}{difflib_closest(item_id, every)}; "
            "see `wanka catalog list` and `wanka catalog list --kind models`"
        ) from None
    print_json(model_record(preset)) if json_out else console.print(model_card(preset))
