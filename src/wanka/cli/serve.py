"""`wanka serve predict|plan|validate`: the serving model from the command line.

`predict SPECS --json`: the DESIGN.md list, one record per spec; a spec that cannot be evaluated gives
`{"id", "error"}`, the others still run, and the exit code is then 1. `plan`: deployments ranked by cost
per million output tokens (`--json`: the DESIGN.md list); an SLO no candidate meets is a one-line error
naming the binding limit and the best p99s reachable. `validate FILE`: per-case errors and summaries.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from wanka.cli.common import FormatOpt, console, handle_errors, print_json, use_format
from wanka.errors import ConfigError

__all__ = ["register"]

app = typer.Typer(
    name="serve",
    help="Serving: predict a deployment, plan one for a rate and latency limits, validate the model.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    """Attach the `wanka serve` group to the root app."""
    root.add_typer(app, name="serve")


@app.command("predict")
@handle_errors
def predict_cmd(
    specs: Annotated[
        Path, typer.Argument(help="Serving-spec file (YAML/JSON): one spec or a list.")
    ],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the DESIGN.md JSON list.")
    ] = False,
    fmt: FormatOpt = "table",
) -> None:
    """Throughput, TTFT/TPOT, batch and KV cache of each serving spec in SPECS."""
    json_out = use_format(fmt, json_out)
    from wanka.report.serve import render_serve_prediction
    from wanka.serve import load_serve_specs, predict_specs

    results = predict_specs(load_serve_specs(specs))
    if json_out:
        print_json(results)
    else:
        for r in results:
            console.print(render_serve_prediction(r))
    if any("error" in r for r in results):
        raise typer.Exit(code=1)


PlotOpt = Annotated[
    Path | None,
    typer.Option("--plot", help="Also draw a figure to this file (.png, .svg or .pdf)."),
]


def _model(text: str):
    from wanka.workload.hf import from_hf_config
    from wanka.workload.presets import get_model

    p = Path(text)
    if p.suffix.lower() == ".json" or p.exists():
        if not p.is_file():
            raise ConfigError(f"--model {text}: no such file (give a preset id or a config.json)")
        return from_hf_config(p)
    return get_model(text)


@app.command("plan")
@handle_errors
def plan_cmd(
    model: Annotated[
        str, typer.Option("--model", help="A model preset id or a Hugging Face config.json.")
    ],
    rate: Annotated[float, typer.Option("--rate", help="Requests per second to serve.")],
    input_len: Annotated[float, typer.Option("--input-len", help="Prompt tokens per request.")],
    output_len: Annotated[float, typer.Option("--output-len", help="Output tokens per request.")],
    accelerators: Annotated[str, typer.Option("--accelerators", help="Comma-separated chip ids.")],
    ttft_ms: Annotated[float | None, typer.Option("--ttft-ms", help="p99 TTFT limit (ms).")] = None,
    tpot_ms: Annotated[float | None, typer.Option("--tpot-ms", help="p99 TPOT limit (ms).")] = None,
    max_count: Annotated[
        int, typer.Option("--max-count", help="Most accelerators per plan.")
    ] = 1024,
    precision: Annotated[
        str,
        typer.Option(
            "--precision",
            help="Weights: auto (fp8 where supported, else int8 W8A8 where the chip has an int8 "
            "peak, else bf16), bf16, fp8, fp8-blockwise, "
            "fp4 (NVFP4), mxfp4, int8, int4 (published names such as 'FP8 (blockwise)' read too).",
        ),
    ] = "auto",
    framework: Annotated[
        str,
        typer.Option(
            "--framework",
            help="Engine whose defaults each chip runs with: TensorRT-LLM (KV reserved per "
            "request, 2,048 sequences), vLLM (KV blocks on demand, 1,024 sequences on chips of "
            "70 GiB or more, else 256) or SGLang.",
        ),
    ] = "TensorRT-LLM",
    speculative: Annotated[
        str | None,
        typer.Option(
            "--speculative",
            help="Speculative decoding on every chip, METHOD:TOKENS:ACCEPTANCE (mtp, nextn, eagle, "
            "eagle3; e.g. mtp:1:0.85).",
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the DESIGN.md JSON list.")
    ] = False,
    fmt: FormatOpt = "table",
    plot: PlotOpt = None,
) -> None:
    """Chips, counts and layouts that serve MODEL at RATE within the limits, cheapest first.

    --plot draws cost per million output tokens against p99 TPOT and TTFT of every candidate.
    """
    json_out = use_format(fmt, json_out)
    from wanka.report.serve import render_serve_plan
    from wanka.report.serve_plots import check_plot_path, write_plan_plot
    from wanka.serve.plan import no_plan_reason, plan_serving
    from wanka.serve.spec import parse_speculation

    if plot is not None:
        check_plot_path(plot)

    for name, v in (("--ttft-ms", ttft_ms), ("--tpot-ms", tpot_ms)):
        if v is not None and not v > 0:
            raise ConfigError(f"{name} must be a positive number of milliseconds, got {v}")
    chips = [a.strip() for a in accelerators.split(",") if a.strip()]
    if not chips:
        raise ConfigError("--accelerators: give at least one chip id (see `wanka catalog list`)")
    t0 = time.perf_counter()
    res = plan_serving(
        _model(model), chips, rate=rate, input_len=input_len, output_len=output_len,
        ttft_ms=ttft_ms, tpot_ms=tpot_ms, max_count=max_count, precision=precision,
        framework=framework,
        speculative=None if speculative is None else parse_speculation(speculative),
    )  # fmt: skip
    wall = time.perf_counter() - t0
    if not res.plans:
        reason = no_plan_reason(res.best_reachable or {}, rate, f"--max-count {max_count}")
        raise ConfigError(f"no plan meets the limits: {reason}")
    if plot is not None:
        write_plan_plot(res.screened, res.plans, plot, ttft_ms=ttft_ms, tpot_ms=tpot_ms)
        res.notes.append(f"plot: {plot}")
    if json_out:
        print_json(res.plans)
        return
    stats = (f"{res.candidates} candidates, {res.feasible} meet the limits, {wall:.1f} s "
             f"({res.candidates / wall:,.0f} candidates/s)")  # fmt: skip
    console.print(render_serve_plan(res.plans, res.notes, stats))


@app.command("validate")
@handle_errors
def validate_cmd(
    file: Annotated[Path, typer.Argument(help="Serving specs with `measured` blocks.")],
    json_out: Annotated[
        bool, typer.Option("--json", help='Print {"cases": [...], "summary": {...}} as JSON.')
    ] = False,
    fmt: FormatOpt = "table",
    plot: PlotOpt = None,
) -> None:
    """Compare predicted with measured throughput and latency for every measured spec in FILE.

    --plot draws predicted against measured output tokens/s per GPU, by source family.
    """
    json_out = use_format(fmt, json_out)
    from wanka.report.serve import render_serve_validation
    from wanka.report.serve_plots import check_plot_path, write_validation_plot
    from wanka.serve import load_serve_specs
    from wanka.serve.validate import validate_serving

    if plot is not None:
        check_plot_path(plot)
    report = validate_serving(load_serve_specs(file))
    if not report["cases"]:
        raise ConfigError(
            f"{file}: no spec has measured.output_tokens_per_s_per_gpu to compare with"
        )
    if plot is not None and report["summary"]["predicted"]:
        write_validation_plot(report, plot)
    if json_out:
        print_json(report)
    else:
        console.print(render_serve_validation(report))
        if plot is not None and report["summary"]["predicted"]:
            console.print(f"plot: {plot}")
    summary = report["summary"]
    if summary["predicted"] == 0:  # as `wanka validate`: nothing could be compared
        first = next((c["error"] for c in report["cases"] if "error" in c), "")
        raise ConfigError(
            f"{file}: none of the {summary['cases']} specs could be predicted ({first})"
        )
