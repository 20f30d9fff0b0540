"""`wanka import megatron|torchtitan|nemo|calculon`: another tool's job description as a wanka run spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from wanka.cli.common import handle_errors, print_json
from wanka.errors import ConfigError
from wanka.spec import parse_run, read_spec_file

ACC_HELP = "Catalog id of the accelerator the job runs on (e.g. h100-sxm)."


def _text(arg: str) -> str:
    """A file's text, or the argument itself when it is a flag string rather than a path."""
    if arg.lstrip().startswith("--"):
        return arg
    try:
        return Path(arg).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{arg}: not a UTF-8 text file; give a launch script or flags") from None


def _json_file(path: Path, what: str) -> dict[str, Any]:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not a {what} JSON file ({e})") from None
    if not isinstance(d, dict):
        raise ConfigError(f"{path}: a {what} JSON file holds one object")
    return d


def _emit(spec: dict[str, Any], out: Path | None, json_out: bool) -> None:
    parse_run(spec)  # the spec must load as wanka reads it: a bad import fails here, not later
    if out is not None:
        text = json.dumps(spec, indent=2) if out.suffix == ".json" else yaml.safe_dump(spec)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    if json_out:
        print_json(spec)
    elif out is None:
        typer.echo(yaml.safe_dump(spec, sort_keys=False), nl=False)


OutOpt = Annotated[Path | None, typer.Option("--out", help="Write the run spec (YAML or .json).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the run spec as JSON.")]


def nemo_cmd(
    config: Annotated[
        Path, typer.Argument(help="Megatron-Bridge override YAML (`search --export nemo`).")
    ],
    accelerator: Annotated[str, typer.Option("--accelerator", help=ACC_HELP)],
    count: Annotated[
        int | None,
        typer.Option("--count", help="Accelerators (default: the export's first comment line)."),
    ] = None,
    out: OutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Megatron-Bridge `ConfigContainer` overrides (NeMo-Run recipe fields) as a run spec."""
    from wanka.frameworks.bridge import from_bridge

    _emit(from_bridge(_text(str(config)), accelerator=accelerator, count=count), out, json_out)


def register(app: typer.Typer) -> None:
    """Attach `wanka import ...` to the root app."""
    imp = typer.Typer(help="Read another tool's job description into a wanka run spec.")
    app.add_typer(imp, name="import")

    @imp.command("megatron", context_settings={"ignore_unknown_options": True})
    @handle_errors
    def megatron_cmd(
        args: Annotated[str, typer.Argument(help="Launch script, or the flags in quotes.")],
        accelerator: Annotated[str, typer.Option("--accelerator", help=ACC_HELP)],
        count: Annotated[int | None, typer.Option("--count", help="Accelerators.")] = None,
        out: OutOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """A Megatron-LM `pretrain_gpt.py` launch (or its flags) as a run spec."""
        from wanka.frameworks.megatron import from_megatron

        _emit(from_megatron(_text(args), accelerator=accelerator, count=count), out, json_out)

    @imp.command("torchtitan")
    @handle_errors
    def torchtitan_cmd(
        config: Annotated[
            Path, typer.Argument(help="torchtitan 0.3 config module (.py) or an older job TOML.")
        ],
        accelerator: Annotated[str, typer.Option("--accelerator", help=ACC_HELP)],
        model: Annotated[
            str | None,
            typer.Option(
                "--model", help="Model preset id or model file (default: the base config's)."
            ),
        ] = None,
        count: Annotated[int | None, typer.Option("--count", help="Accelerators.")] = None,
        out: OutOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """A torchtitan config function (or a pre-0.3 job TOML) as a run spec."""
        from wanka.frameworks.importers import from_torchtitan
        from wanka.frameworks.torchtitan import from_torchtitan_config

        block: dict[str, Any] | None = None
        if model is not None:
            block = read_spec_file(model) if Path(model).is_file() else {"preset": model}
        text = _text(str(config))
        if config.suffix == ".toml":
            if block is None:
                raise ConfigError(
                    "a torchtitan job TOML does not name the model shape; give --model"
                )
            spec = from_torchtitan(text, model=block, accelerator=accelerator, count=count)
        else:
            spec = from_torchtitan_config(text, accelerator=accelerator, model=block)
            if count is not None:
                spec["hardware"]["count"] = count
        _emit(spec, out, json_out)

    imp.command("nemo")(handle_errors(nemo_cmd))

    @imp.command("calculon")
    @handle_errors
    def calculon_cmd(
        application: Annotated[Path, typer.Argument(help="Calculon application (model) JSON.")],
        execution: Annotated[Path, typer.Argument(help="Calculon execution (layout) JSON.")],
        system: Annotated[Path | None, typer.Argument(help="Calculon system JSON.")] = None,
        accelerator: Annotated[
            str | None, typer.Option("--accelerator", help=ACC_HELP + " Default: nearest.")
        ] = None,
        out: OutOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """A Calculon application + execution (+ system) as a run spec."""
        from wanka.frameworks.importers import from_calculon

        sysd = _json_file(system, "Calculon system") if system else None
        spec = from_calculon(
            _json_file(application, "Calculon application"),
            _json_file(execution, "Calculon execution"),
            sysd,
            accelerator=accelerator,
        )
        _emit(spec, out, json_out)
