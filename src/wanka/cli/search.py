"""`wanka search`: the best parallel layout for a model on N accelerators (exhaustive, vectorised)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from wanka.cli.common import ProgressBar, console, err_console, handle_errors, print_json
from wanka.errors import ConfigError
from wanka.search.models import load_model

__all__ = ["ProgressBar", "load_model", "parse_int_list", "parse_str_list", "register"]


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


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}" if abs(v) < 1e4 else f"{v:,.0f}"
    return str(v)


def _layout(p: dict[str, Any]) -> str:
    par = p["parallelism"]
    s = f"tp{par['tp']} pp{par['pp']}"
    if par["vpp"] > 1:
        s += f"x{par['vpp']}"
    s += f" cp{par['cp']} dp{par['dp']}"
    if par["ep"] > 1 or par["etp"] > 1:
        s += f" ep{par['ep']} etp{par['etp']}"
    s += f" mbs{par['micro_batch_size']}"
    flags = []
    if par["fsdp"] != "none":
        flags.append(f"fsdp={par['fsdp']}")
    if par["distributed_optimizer"]:
        flags.append("dist-opt")
    if par["sequence_parallel"]:
        flags.append("sp")
    if par["recompute"] != "none":
        flags.append(f"rc={par['recompute']}")
    return s + (" " + ",".join(flags) if flags else "")


def render_result(res: dict[str, Any]) -> None:
    """Print the rich report of one search result dict (`SearchResult.to_dict()`)."""
    rate = res["evaluated"] / res["seconds"] if res["seconds"] else 0.0
    console.print(
        f"[bold]{res['model']}[/] on {res['count']} x {res['accelerator']}, global batch "
        f"{res['global_batch_size']} x {res['seq_len']} tokens: space {res['space']:,}, "
        f"pruned {res['pruned']['divisibility']:,} (divisibility) + {res['pruned']['memory_bound']:,} "
        f"(memory bound), evaluated {res['evaluated']:,}, feasible {res['feasible']:,} in "
        f"{res['seconds']:.2f} s ({rate:,.0f}/s)",
        highlight=False,
    )
    if res.get("infeasible"):
        inf = res["infeasible"]
        msg = f"[bold red]no feasible layout[/]: binding constraint {inf['binding_constraint']}: {inf['reason']}"
        if inf.get("short_by_gib"):
            msg += (
                f"; the smallest layout needs {inf['min_peak_memory_gib']:.1f} GiB per accelerator, "
                f"{inf['short_by_gib']:.1f} GiB more than the {inf['hbm_gib']:.0f} GiB available"
            )
        console.print(msg, highlight=False)
        return
    multi = len(res.get("precisions") or []) > 1
    t = Table(title="best layouts (tokens/s per accelerator)")
    for c in ("#", "layout", "precision", "tokens/s/GPU", "step (s)", "MFU", "peak mem (GiB)"):
        if c == "precision" and not multi:
            continue
        t.add_column(
            c,
            justify="left" if c in ("layout", "precision") else "right",
            ratio=3 if c == "layout" else None,
        )
    for i, p in enumerate(res["top"], 1):
        cells = (
            [str(i), _layout(p)]
            + ([p["precision"]] if multi else [])
            + [
                _fmt(p.get("tokens_per_s_per_gpu"), 1),
                _fmt(p.get("step_time_s")),
                _fmt(p.get("mfu")),
                _fmt(p.get("peak_memory_gib"), 1),
            ]
        )
        t.add_row(*cells)
    console.print(t)
    if res.get("explanation"):
        ru = res.get("runner_up")
        e = Table(title=f"why #1 wins: against the runner-up ({_layout(ru) if ru else '-'})")
        for c in ("term", "winner", "runner-up", "runner-up - winner"):
            e.add_column(c, justify="left" if c == "term" else "right")
        for r in res["explanation"]:
            if r["best"] == 0 and r["runner_up"] == 0:
                continue
            e.add_row(r["term"], _fmt(r["best"], 4), _fmt(r["runner_up"], 4), _fmt(r["delta"], 4))
        console.print(e)
    if res.get("pareto"):
        f = Table(
            title="Pareto front: tokens/s/GPU vs peak memory"
            + (" vs accelerators" if res.get("counts") else "")
        )
        for c in ("layout", "accelerators", "tokens/s/GPU", "peak mem (GiB)"):
            f.add_column(c, justify="left" if c == "layout" else "right")
        for p in res["pareto"][:12]:
            f.add_row(
                _layout(p),
                str(p.get("count")),
                _fmt(p.get("tokens_per_s_per_gpu"), 1),
                _fmt(p.get("peak_memory_gib"), 1),
            )
        console.print(f)
    pub = res.get("published")
    if pub:
        pp = pub["plan"]
        console.print(
            f"published layout {_layout(pp)}: {_fmt(pp.get('tokens_per_s_per_gpu'), 1)} tokens/s/GPU "
            f"(in space: {pub['in_space']}; fits: {pub.get('fits')}); best is "
            f"{'the same' if pub['same_as_best'] else 'different'}, gain x{_fmt(pub.get('gain'), 3)}",
            highlight=False,
        )
        if pub.get("memory_note"):
            console.print(f"note: {pub['memory_note']}", highlight=False)


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

    @app.command("search")
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
        count: Annotated[
            int | None, typer.Option("--count", help="Number of accelerators.")
        ] = None,
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
    ) -> None:
        """Search every parallel layout (tp pp vpp cp ep etp dp fsdp dist-opt sp recompute micro-batch precision)."""
        from wanka.search.core import search_run
        from wanka.search.export import FORMATS
        from wanka.search.multi import overlap_variants, search_counts

        if export is not None and export not in FORMATS:
            raise ConfigError(f"--export must be one of {', '.join(FORMATS)}, got {export!r}")
        if top <= 0:
            raise ConfigError(f"--top must be positive, got {top}")
        precs = parse_str_list(precision)
        dim_overrides = {
            k: v
            for k, v in {
                "tp": parse_int_list(tp, "tp"),
                "pp": parse_int_list(pp, "pp"),
                "cp": parse_int_list(cp, "cp"),
                "ep": parse_int_list(ep, "ep"),
                "vpp": parse_int_list(vpp, "vpp"),
                "micro_batch_size": parse_int_list(mbs, "micro-batch-size"),
            }.items()
            if v is not None
        }
        overlaps = overlap_variants() if overlap_search else None
        bar = ProgressBar("searching", json_out=json_out)
        results: list[dict[str, Any]] = []
        the_model: Any = None
        the_acc: Any = None
        try:
            if run is not None:
                if model or accelerator or count or counts:
                    raise ConfigError(
                        "give either --run or --model/--accelerator/--count, not both"
                    )
                from wanka.spec import RunError, load_runs

                runs = load_runs(run)
                for r in runs:
                    if isinstance(r, RunError):
                        raise ConfigError(
                            f"{run}: run {r.id or ''}: {r.error}".replace("run : ", "")
                        )
                specs = [r for r in runs if not isinstance(r, RunError)]
                for r in specs:
                    if profile is not None:
                        from dataclasses import replace

                        r = replace(
                            r,
                            hardware=replace(
                                r.hardware,
                                accelerator=_apply_profile(r.hardware.accelerator, profile),
                            ),
                        )
                    if global_batch_size is not None or seq_len is not None:
                        raise ConfigError(
                            "--run keeps the run's global batch and sequence length; "
                            "drop --global-batch-size/--seq-len"
                        )
                    the_model, the_acc = r.model, r.hardware.accelerator
                    res = search_run(
                        r,
                        precisions=precs,
                        top_k=top,
                        progress=bar,
                        overlaps=overlaps,
                        memory_prune=not no_memory_prune,
                        dim_overrides=dim_overrides,
                    )
                    results.append(res.to_dict())
            elif accelerator and (":" in accelerator or "," in accelerator):
                # a mixed fleet (kind:count,...): one job over several accelerator kinds
                if global_batch_size is None or not model:
                    raise ConfigError("a mixed fleet needs --model and --global-batch-size")
                if global_batch_size <= 0:
                    raise ConfigError(
                        f"--global-batch-size must be positive, got {global_batch_size}"
                    )
                if count or counts:
                    raise ConfigError("with kind:count in --accelerator, drop --count/--counts")
                from wanka.search.hetero import parse_fleet, search_hetero

                kinds = parse_fleet(accelerator)
                m = load_model(model, seq_len)
                fleet = search_hetero(
                    m,
                    kinds,
                    global_batch_size=global_batch_size,
                    precision=(precs or ("bf16",))[0],
                )
                bar.close()
                if json_out:
                    print_json(fleet)
                else:
                    from wanka.report.hetero import render_hetero

                    console.print(render_hetero(fleet))
                return
            else:
                missing = [
                    n
                    for n, v in (
                        ("--model", model),
                        ("--accelerator", accelerator),
                        ("--count", count or counts),
                        ("--global-batch-size", global_batch_size),
                    )
                    if not v
                ]
                if missing:
                    raise ConfigError(f"missing {', '.join(missing)} (or give --run RUN.yaml)")
                from wanka.catalogs import get_accelerator

                assert model is not None and accelerator is not None  # `missing` above
                assert global_batch_size is not None
                if counts:
                    cnts = parse_int_list(counts, "counts")
                else:
                    assert count is not None
                    cnts = (count,)
                assert cnts is not None
                if any(c <= 0 for c in cnts):
                    raise ConfigError(f"--count must be positive, got {count}")
                if global_batch_size is not None and global_batch_size <= 0:
                    raise ConfigError(
                        f"--global-batch-size must be positive, got {global_batch_size}"
                    )
                if gpus_per_node is not None and gpus_per_node <= 0:
                    raise ConfigError(f"--gpus-per-node must be positive, got {gpus_per_node}")
                acc = _apply_profile(get_accelerator(accelerator), profile)
                m = load_model(model, seq_len)
                the_model, the_acc = m, acc
                results.append(
                    search_counts(
                        m,
                        acc,
                        cnts,
                        global_batch_size=global_batch_size,
                        gpus_per_node=gpus_per_node,
                        precisions=precs or ("bf16",),
                        top_k=top,
                        progress=bar,
                        overlaps=overlaps,
                        memory_prune=not no_memory_prune,
                        dim_overrides=dim_overrides,
                    )
                )
        finally:
            bar.close()
        exported = None
        if export is not None:
            best = results[0].get("best")
            if best is None:
                raise ConfigError(
                    "nothing to export: no feasible layout (see the binding constraint)"
                )
            files = _export(
                results[0], export, export_out, model=the_model, acc=the_acc, count=export_top_n
            )
            exported = files[0]
            for rec in results:
                rec["exported"] = str(exported)
                if len(files) > 1:
                    rec["exported_files"] = [str(f) for f in files]
        if json_out:
            print_json(results[0] if len(results) == 1 else results)
        else:
            for rec in results:
                render_result(rec)
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
