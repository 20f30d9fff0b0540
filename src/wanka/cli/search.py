"""`wanka search`: the best parallel layout for a model on N accelerators (exhaustive, vectorised)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from wanka.cli.common import (
    FormatOpt,
    ProgressBar,
    console,
    err_console,
    handle_errors,
    print_json,
    use_format,
)
from wanka.errors import ConfigError
from wanka.report.search import search_report
from wanka.search.models import load_model

__all__ = [
    "ProgressBar",
    "load_model",
    "parse_int_list",
    "parse_str_list",
    "register",
    "search_cmd",
]


def parse_int_list(text: str | None, name: str) -> tuple[int, ...] | None:
    """'1,2,4' -> (1, 2, 4); None stays None; anything else is a one-line ConfigError."""
    if text is None:
        return None
    try:
        vals = tuple(int(x) for x in text.replace(" ", "").split(",") if x)
    except ValueError:
        raise ConfigError(
            f"--{name} must be a comma-separated list of integers, got {text!r}"
        ) from None
    if not vals or any(v <= 0 for v in vals):
        raise ConfigError(f"--{name} values must be positive integers, got {text!r}")
    return vals


def parse_str_list(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    vals = tuple(x.strip() for x in text.split(",") if x.strip())
    return vals or None


def _export(
    result: dict[str, Any], fmt: str, out: Path | None, *, model: Any, acc: Any, count: int
) -> list[Path]:
    from wanka.search.export import export_top

    written, skipped = export_top(result, fmt, model=model, accelerator=acc, out=out, count=count)
    for reason in skipped:
        err_console.print(f"not exported, {fmt} refuses {reason}", highlight=False)
    if not written:
        raise ConfigError(f"nothing to export: {fmt} refuses every listed plan ({skipped[0]})")
    return written


def _apply_profile(acc: Any, profile: Path | None) -> Any:
    if profile is None:
        return acc
    from wanka.profile import apply_profile, load_profile

    return apply_profile(acc, load_profile(profile))


def register(app: typer.Typer) -> None:
    """Attach `wanka search` to the root app."""
    app.command("search")(search_cmd)


@handle_errors
def search_cmd(
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Preset id (e.g. megatron-1t) or a model file "
            "(run-spec model block, or a Hugging Face config.json).",
        ),
    ] = None,
    accelerator: Annotated[
        str | None, typer.Option("--accelerator", help="Accelerator id from the catalog.")
    ] = None,
    count: Annotated[int | None, typer.Option("--count", help="Number of accelerators.")] = None,
    counts: Annotated[
        str | None,
        typer.Option(
            "--counts",
            help="Several counts, comma-separated: "
            "the Pareto front then spans the accelerator count too.",
        ),
    ] = None,
    global_batch_size: Annotated[
        int | None, typer.Option("--global-batch-size", help="Sequences per step.")
    ] = None,
    seq_len: Annotated[
        int | None,
        typer.Option("--seq-len", help="Tokens per sequence (default: the model's)."),
    ] = None,
    run: Annotated[
        Path | None,
        typer.Option(
            "--run",
            help="A run-spec file: search its parallelism, keeping "
            "its model, hardware, global batch and precision.",
        ),
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            "--precision",
            help="Comma-separated precisions to search (default: the run's, else bf16).",
        ),
    ] = None,
    gpus_per_node: Annotated[int | None, typer.Option("--gpus-per-node")] = None,
    tp: Annotated[
        str | None, typer.Option("--tp", help="Restrict tp to these values (comma list).")
    ] = None,
    pp: Annotated[str | None, typer.Option("--pp", help="Restrict pp.")] = None,
    cp: Annotated[str | None, typer.Option("--cp", help="Restrict cp.")] = None,
    ep: Annotated[str | None, typer.Option("--ep", help="Restrict ep.")] = None,
    vpp: Annotated[str | None, typer.Option("--vpp", help="Restrict vpp.")] = None,
    mbs: Annotated[
        str | None, typer.Option("--micro-batch-size", help="Restrict the micro-batch size.")
    ] = None,
    overlap_search: Annotated[
        bool,
        typer.Option(
            "--search-overlap",
            help="Also search TP-comm overlap (off / TE userbuffers) and DP-overlap (on/off).",
        ),
    ] = False,
    top: Annotated[int, typer.Option("--top", help="How many plans to list.")] = 10,
    export: Annotated[
        str | None,
        typer.Option(
            "--export",
            help="Write the best plan as megatron, torchtitan or nemo configuration.",
        ),
    ] = None,
    export_top_n: Annotated[
        int,
        typer.Option(
            "--export-top",
            help="Export the best N plans the framework accepts (files -2, -3...).",
        ),
    ] = 1,
    export_out: Annotated[
        Path | None,
        typer.Option(
            "--export-out", help="File for --export (default wanka-best-plan.<fmt>.<ext>)."
        ),
    ] = None,
    profile: Annotated[
        Path | None, typer.Option("--profile", help="Measured software-efficiency profile.")
    ] = None,
    no_memory_prune: Annotated[
        bool, typer.Option("--no-memory-prune", help="Time every divisible layout.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    fmt: FormatOpt = "table",
) -> None:
    """Search every parallel layout (tp pp vpp cp ep etp dp fsdp dist-opt sp recompute micro-batch precision)."""
    json_out = use_format(fmt, json_out)
    from wanka.search.export import FORMATS, framework_dims
    from wanka.search.multi import overlap_variants

    if export is not None and export not in FORMATS:
        raise ConfigError(f"--export must be one of {', '.join(FORMATS)}, got {export!r}")
    if top <= 0:
        raise ConfigError(f"--top must be positive, got {top}")
    precs = parse_str_list(precision)
    dims = {"tp": tp, "pp": pp, "cp": cp, "ep": ep, "vpp": vpp, "micro_batch_size": mbs}
    common: dict[str, Any] = {
        "top_k": top,
        "overlaps": overlap_variants() if overlap_search else None,
        "memory_prune": not no_memory_prune,
        # with --export, only layouts the framework can run at all
        "dim_overrides": framework_dims(export) | _dim_overrides(dims),
    }
    bar = ProgressBar("searching", json_out=json_out)
    try:
        if run is not None:
            if model or accelerator or count or counts:
                raise ConfigError("give either --run or --model/--accelerator/--count, not both")
            sized = global_batch_size is not None or seq_len is not None
            found = _search_runs(run, profile, sized, precs, progress=bar, **common)
        elif accelerator and (":" in accelerator or "," in accelerator):
            # a mixed fleet (kind:count,...): one job over several accelerator kinds
            counted = bool(count or counts)
            fleet = _search_fleet(accelerator, model, seq_len, global_batch_size, counted, precs)
            bar.close()
            _show_fleet(fleet, json_out)
            return
        else:
            sizes = _Sizes(model, accelerator, count, counts, global_batch_size, gpus_per_node)
            found = _search_sizes(sizes, seq_len, profile, precs, progress=bar, **common)
    finally:
        bar.close()
    results, the_model, the_acc = found
    exported = None
    if export is not None:
        exported = _export_best(results, export, export_out, the_model, the_acc, export_top_n)
    _show(results, json_out, export, exported)


def _dim_overrides(lists: dict[str, str | None]) -> dict[str, tuple[int, ...]]:
    """The --tp/--pp/... restrictions given, parsed ('micro_batch_size' is --micro-batch-size)."""
    out = {k: parse_int_list(v, k.replace("_", "-")) for k, v in lists.items()}
    return {k: v for k, v in out.items() if v is not None}


_Found = tuple[list[dict[str, Any]], Any, Any]  # result dicts, the model and accelerator searched


def _search_runs(
    run: Path, profile: Path | None, sized: bool, precs: tuple[str, ...] | None, **kwargs: Any
) -> _Found:
    """`search --run`: search each run of the file, keeping its model, hardware, batch, precision."""
    from dataclasses import replace

    from wanka.search.core import search_run
    from wanka.spec import RunError, load_runs

    runs = load_runs(run)
    for r in runs:
        if isinstance(r, RunError):
            raise ConfigError(f"{run}: run {r.id or ''}: {r.error}".replace("run : ", ""))
    results: list[dict[str, Any]] = []
    the_model: Any = None
    the_acc: Any = None
    for r in runs:
        assert not isinstance(r, RunError)  # refused above
        if profile is not None:
            acc = _apply_profile(r.hardware.accelerator, profile)
            r = replace(r, hardware=replace(r.hardware, accelerator=acc))
        if sized:
            raise ConfigError(
                "--run keeps the run's global batch and sequence length; "
                "drop --global-batch-size/--seq-len"
            )
        the_model, the_acc = r.model, r.hardware.accelerator
        results.append(search_run(r, precisions=precs, **kwargs).to_dict())
    return results, the_model, the_acc


def _search_fleet(
    accelerator: str,
    model: str | None,
    seq_len: int | None,
    global_batch_size: int | None,
    counted: bool,
    precs: tuple[str, ...] | None,
) -> dict[str, Any]:
    """`search --accelerator kind:count,...`: one job over a mixed fleet."""
    if global_batch_size is None or not model:
        raise ConfigError("a mixed fleet needs --model and --global-batch-size")
    if global_batch_size <= 0:
        raise ConfigError(f"--global-batch-size must be positive, got {global_batch_size}")
    if counted:
        raise ConfigError("with kind:count in --accelerator, drop --count/--counts")
    from wanka.search.hetero import parse_fleet, search_hetero

    kinds = parse_fleet(accelerator)
    m = load_model(model, seq_len)
    return search_hetero(
        m, kinds, global_batch_size=global_batch_size, precision=(precs or ("bf16",))[0]
    )


def _show_fleet(fleet: Any, json_out: bool) -> None:
    if json_out:
        print_json(fleet)
    else:
        from wanka.report.hetero import render_hetero

        console.print(render_hetero(fleet))


@dataclass(frozen=True)
class _Sizes:
    """What `search --model --accelerator --count` was given (checked by `_search_sizes`)."""

    model: str | None
    accelerator: str | None
    count: int | None
    counts: str | None
    global_batch_size: int | None
    gpus_per_node: int | None


def _search_sizes(
    g: _Sizes,
    seq_len: int | None,
    profile: Path | None,
    precs: tuple[str, ...] | None,
    **kwargs: Any,
) -> _Found:
    """`search --model --accelerator --count[s] --global-batch-size`: one search per count."""
    from wanka.catalogs import get_accelerator
    from wanka.search.multi import search_counts

    missing = [
        n
        for n, v in (
            ("--model", g.model),
            ("--accelerator", g.accelerator),
            ("--count", g.count or g.counts),
            ("--global-batch-size", g.global_batch_size),
        )
        if not v
    ]
    if missing:
        raise ConfigError(f"missing {', '.join(missing)} (or give --run RUN.yaml)")
    assert g.model is not None and g.accelerator is not None  # `missing` above
    assert g.global_batch_size is not None
    if g.counts:
        cnts = parse_int_list(g.counts, "counts")
    else:
        assert g.count is not None  # `missing` above
        cnts = (g.count,)
    assert cnts is not None
    if any(c <= 0 for c in cnts):
        raise ConfigError(f"--count must be positive, got {g.count}")
    if g.global_batch_size <= 0:
        raise ConfigError(f"--global-batch-size must be positive, got {g.global_batch_size}")
    if g.gpus_per_node is not None and g.gpus_per_node <= 0:
        raise ConfigError(f"--gpus-per-node must be positive, got {g.gpus_per_node}")
    acc = _apply_profile(get_accelerator(g.accelerator), profile)
    m = load_model(g.model, seq_len)
    res = search_counts(
        m,
        acc,
        cnts,
        global_batch_size=g.global_batch_size,
        gpus_per_node=g.gpus_per_node,
        precisions=precs or ("bf16",),
        **kwargs,
    )
    return [res], m, acc


def _export_best(
    results: list[dict[str, Any]],
    export: str,
    export_out: Path | None,
    model: Any,
    acc: Any,
    top_n: int,
) -> Path:
    """Write the best plan(s) of the first result; each result records the files written."""
    if results[0].get("best") is None:
        raise ConfigError("nothing to export: no feasible layout (see the binding constraint)")
    files = _export(results[0], export, export_out, model=model, acc=acc, count=top_n)
    for rec in results:
        rec["exported"] = str(files[0])
        if len(files) > 1:
            rec["exported_files"] = [str(f) for f in files]
    return files[0]


def _show(
    results: list[dict[str, Any]], json_out: bool, export: str | None, exported: Path | None
) -> None:
    """Print the results (JSON, or the report), then exit 1 with the binding reason if nothing fits."""
    if json_out:
        print_json(results[0] if len(results) == 1 else results)
    else:
        for rec in results:
            for part in search_report(rec):
                console.print(part, highlight=False)
        if exported is not None:
            console.print(
                f"wrote {export} configuration of the best plan to {exported}", highlight=False
            )
    none = [r for r in results if r.get("best") is None]
    if none:  # nothing fits: exit 1 with the binding reason (the result above still printed)
        inf = none[0].get("infeasible") or {}
        raise ConfigError(
            f"no feasible layout: binding constraint {inf.get('binding_constraint', '?')}: "
            f"{inf.get('reason', 'no layout fits')}"
        )
