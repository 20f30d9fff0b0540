"""`wanka simulate`: replay a job trace on a shared cluster under a scheduling policy.

wanka simulate --trace PATH --gpus N --gpus-per-node G --policy P [--json]
wanka simulate compare --policies fifo,tiresias --trace PATH --gpus N ... [--ray]
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from wanka.cli.common import (
    WIDE_HELP,
    ProgressBar,
    console,
    err_console,
    handle_errors,
    print_json,
    print_table,
    stopped,
)
from wanka.errors import ConfigError
from wanka.sim.cluster import ClusterSpec
from wanka.sim.policies import get_policy
from wanka.sim.runner import Interrupted, RunSpec, run_many
from wanka.sim.simulator import FaultModel, SimConfig, SimResult
from wanka.userfile import check_count, check_id, check_number

__all__ = ["app", "register"]

app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
    help="Simulate a multi-tenant cluster replaying a job trace under a policy.",
)

TraceOpt = Annotated[
    str | None,
    typer.Option(
        "--trace",
        help="Trace file, directory (all its trace files merged), builtin:NAME (shipped "
        "traces, e.g. builtin:microsoft-itp-elasticflow/raw) or "
        "synthetic:JOBS[:LOAD].",
    ),
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--trace-format",
        help="itp | elasticflow | philly | pollux | openb | tiresias | wanka "
        "(default: detected from the header).",
    ),
]
GpusOpt = Annotated[int | None, typer.Option("--gpus", help="Accelerators in the cluster.")]
GpnOpt = Annotated[int, typer.Option("--gpus-per-node", help="Accelerators per node.")]
ClusterOpt = Annotated[
    Path | None,
    typer.Option(
        "--cluster", help="Cluster YAML (node groups, network, tenants); replaces --gpus."
    ),
]
AccelOpt = Annotated[
    str,
    typer.Option(
        "--accelerator",
        help="Accelerator id for --gpus clusters (catalog id selects the real "
        "collective model; 'generic' uses the alpha-beta fallback).",
    ),
]
PlacementOpt = Annotated[str, typer.Option("--placement", help="packed | first-fit | fgd.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the simulator's RNG.")]
SeedsOpt = Annotated[int, typer.Option("--seeds", help="Run seeds SEED..SEED+N-1 (a sweep).")]
CostOpt = Annotated[
    float,
    typer.Option(
        "--preempt-cost-s",
        help="Checkpoint-restore seconds paid on restart after preemption/failure.",
    ),
]
MtbfOpt = Annotated[
    float | None, typer.Option("--node-mtbf-h", help="Node MTBF in hours; enables node failures.")
]
RepairOpt = Annotated[float, typer.Option("--repair-h", help="Hours a failed node stays down.")]
CkptOpt = Annotated[
    float,
    typer.Option(
        "--checkpoint-interval-s", help="Seconds of progress between checkpoints (failure losses)."
    ),
]
ScaleOpt = Annotated[
    float,
    typer.Option(
        "--arrival-scale", help="Multiply arrival times (< 1 compresses the trace: more load)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]
WideOpt = Annotated[bool, typer.Option("--wide", help=WIDE_HELP)]
PlotsOpt = Annotated[
    Path | None,
    typer.Option(
        "--plots", help="Directory for PNG plots (JCT CDF, utilisation and queue over time)."
    ),
]
RayOpt = Annotated[bool, typer.Option("--ray", help="Spread the runs over a Ray cluster.")]
JobsCsvOpt = Annotated[
    Path | None,
    typer.Option(
        "--jobs-csv",
        help="Write one row per job (submit, start, end, accelerators, placement, preemptions).",
    ),
]


def _write_jobs_csv(result: Any, path: Path) -> None:
    """The per-job rows of the first run as CSV, written atomically (temp name, then rename)."""
    import csv

    if not isinstance(result, SimResult):
        raise ConfigError("--jobs-csv needs the run in this process; drop --ray")
    rows = result.job_rows()
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["job"])
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)


RayAddrOpt = Annotated[str | None, typer.Option("--ray-address", help="Ray cluster address.")]


def register(root: typer.Typer) -> None:
    """Attach `wanka simulate` (main form + `compare`) to the root app."""
    root.add_typer(app, name="simulate")


def _cluster(
    gpus: int | None, gpus_per_node: int, cluster: Path | None, accelerator: str
) -> ClusterSpec:
    if cluster is not None:
        return ClusterSpec.from_yaml(cluster)
    if gpus is None:
        raise ConfigError("give --gpus N (and --gpus-per-node G) or --cluster CLUSTER.yaml")
    check_count("--gpus", gpus)
    check_count("--gpus-per-node", gpus_per_node, maximum=1024, what="the largest node built")
    if accelerator != "generic":
        from wanka.catalogs import accelerators

        check_id("accelerator", accelerator, ["generic", *accelerators()], see="wanka catalog list")
    return ClusterSpec.from_shape(gpus=gpus, gpus_per_node=gpus_per_node, accelerator=accelerator)


def _config(
    placement: str, seed: int, cost: float, mtbf_h: float | None, repair_h: float, ckpt_s: float
) -> SimConfig:
    faults = None
    if mtbf_h is not None:
        faults = FaultModel(
            node_mtbf_s=mtbf_h * 3600, repair_s=repair_h * 3600, checkpoint_interval_s=ckpt_s
        )
    check_number("--preempt-cost-s", cost, minimum=0, inclusive_min=True, unit="s")
    if mtbf_h is not None:
        check_number("--node-mtbf-h", mtbf_h, unit="h")
    check_number("--repair-h", repair_h, minimum=0, inclusive_min=True, unit="h")
    from wanka.sim.placement import get_placement

    get_placement(placement)  # validate early: one-line error
    return SimConfig(placement=placement, seed=seed, preempt_cost_s=cost, faults=faults)


def _write_plots(results: list[SimResult], out: Path) -> list[str]:
    from wanka.report.sim import figures

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures(results).items():
        path = out / f"{name}.png"
        fig.savefig(path, dpi=120)
        written.append(str(path))
    return written


def _run(
    specs: list[RunSpec], ray: bool, address: str | None, json_out: bool
) -> tuple[list[Any], str | None]:
    """Run the specs (a progress bar on a terminal); after Ctrl-C on Ray, the finished runs."""
    try:
        with ProgressBar("simulating", json_out=json_out, delay_s=0.0) as bar:
            if len(specs) == 1 and not ray and bar.enabled:  # one run: a spinner, no count
                with err_console.status("simulating ..."):
                    return run_many(specs), None
            return run_many(specs, use_ray=ray, ray_address=address, progress=bar), None
    except Interrupted as e:
        if not e.finished:
            stopped(f"no run finished of {e.total}; Ray stopped")
        return e.finished, f"{len(e.finished)} of {e.total} runs finished (shown); Ray stopped"


def _emit(
    results: list[Any], *, as_json: bool, plots: Path | None, compare: bool, wide: bool = False
) -> None:
    summaries = [r.summary if isinstance(r, SimResult) else r for r in results]
    full = [r for r in results if isinstance(r, SimResult)]
    written = _write_plots(full, plots) if plots is not None and full else []
    if as_json:
        if compare:
            print_json({"runs": summaries, "plots": written})
        else:
            out = dict(summaries[0])
            if len(summaries) > 1:
                out["seeds"] = summaries
            if written:
                out["plots"] = written
            print_json(out)
        return
    from wanka.report.sim import compare_table, summary_table, tenant_table

    if compare or len(summaries) > 1:
        print_table(compare_table(summaries, width=console.width, wide=wide))
    else:
        console.print(summary_table(summaries[0]))
        if full and len(full[0].tenants) > 1:
            console.print(tenant_table(full[0]))
    for w in written:
        console.print(f"wrote {w}")


@app.callback()
@handle_errors
def simulate(
    ctx: typer.Context,
    trace: TraceOpt = None,
    trace_format: FormatOpt = None,
    gpus: GpusOpt = None,
    gpus_per_node: GpnOpt = 8,
    cluster: ClusterOpt = None,
    accelerator: AccelOpt = "generic",
    policy: Annotated[
        str, typer.Option("--policy", help="fifo | fifo-backfill | sjf | tiresias | gavel | quota.")
    ] = "fifo",
    placement: PlacementOpt = "packed",
    seed: SeedOpt = 0,
    seeds: SeedsOpt = 1,
    preempt_cost_s: CostOpt = 30.0,
    node_mtbf_h: MtbfOpt = None,
    repair_h: RepairOpt = 1.0,
    checkpoint_interval_s: CkptOpt = 1800.0,
    arrival_scale: ScaleOpt = 1.0,
    as_json: JsonOpt = False,
    wide: WideOpt = False,
    plots: PlotsOpt = None,
    ray: RayOpt = False,
    ray_address: RayAddrOpt = None,
    jobs_csv: JobsCsvOpt = None,
) -> None:
    """Replay --trace on the cluster under --policy and report JCT, queueing, utilisation."""
    if ctx.invoked_subcommand is not None:
        return
    if trace is None:
        raise ConfigError("--trace is required (a file, a directory, builtin:NAME or synthetic:N)")
    get_policy(policy)
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    cl = _cluster(gpus, gpus_per_node, cluster, accelerator)
    specs = [
        RunSpec(
            trace=trace,
            trace_format=trace_format,
            cluster=cl,
            policy=policy,
            config=_config(
                placement, seed + k, preempt_cost_s, node_mtbf_h, repair_h, checkpoint_interval_s
            ),
            arrival_scale=arrival_scale,
        )
        for k in range(seeds)
    ]
    results, stop = _run(specs, ray, ray_address, as_json)
    if jobs_csv is not None and results:
        _write_jobs_csv(results[0], jobs_csv)
    _emit(results, as_json=as_json, plots=plots, compare=False, wide=wide)
    if stop:
        stopped(stop)


@app.command("compare")
@handle_errors
def compare(
    policies: Annotated[
        str,
        typer.Option(
            "--policies", help="Comma-separated policies, e.g. fifo,fifo-backfill,tiresias."
        ),
    ],
    trace: TraceOpt = None,
    trace_format: FormatOpt = None,
    gpus: GpusOpt = None,
    gpus_per_node: GpnOpt = 8,
    cluster: ClusterOpt = None,
    accelerator: AccelOpt = "generic",
    placement: Annotated[
        str,
        typer.Option(
            "--placement", help="packed | first-fit | fgd, or a comma list to compare them."
        ),
    ] = "packed",
    seed: SeedOpt = 0,
    seeds: SeedsOpt = 1,
    preempt_cost_s: CostOpt = 30.0,
    node_mtbf_h: MtbfOpt = None,
    repair_h: RepairOpt = 1.0,
    checkpoint_interval_s: CkptOpt = 1800.0,
    arrival_scale: ScaleOpt = 1.0,
    as_json: JsonOpt = False,
    wide: WideOpt = False,
    plots: PlotsOpt = None,
    ray: RayOpt = False,
    ray_address: RayAddrOpt = None,
) -> None:
    """Run several policies (and placements, seeds) on the same trace, side by side."""
    if trace is None:
        raise ConfigError("--trace is required (a file, a directory, builtin:NAME or synthetic:N)")
    names = [p.strip() for p in policies.split(",") if p.strip()]
    places = [p.strip() for p in placement.split(",") if p.strip()]
    if not names or not places:
        raise ConfigError("--policies and --placement need at least one name each")
    for n in names:
        get_policy(n)
    cl = _cluster(gpus, gpus_per_node, cluster, accelerator)
    specs = [
        RunSpec(
            trace=trace,
            trace_format=trace_format,
            cluster=cl,
            policy=n,
            config=_config(
                pl, seed + k, preempt_cost_s, node_mtbf_h, repair_h, checkpoint_interval_s
            ),
            arrival_scale=arrival_scale,
        )
        for n in names
        for pl in places
        for k in range(seeds)
    ]
    results, stop = _run(specs, ray, ray_address, as_json)
    _emit(results, as_json=as_json, plots=plots, compare=True, wide=wide)
    if stop:
        stopped(stop)
