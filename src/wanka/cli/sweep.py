"""`wanka sweep SWEEP.yaml`: many searches (models x chips x counts x networks), local processes or Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from wanka.cli.common import console, handle_errors, print_json

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Attach `wanka sweep` to the root app."""

    @app.command("sweep")
    @handle_errors
    def sweep_cmd(
        sweep_file: Annotated[
            Path, typer.Argument(help="Sweep file (YAML/JSON): models, accelerators, counts, ...")
        ],
        out: Annotated[
            Path,
            typer.Option("--out", help="Results file: .csv (default) or .parquet (needs pyarrow)."),
        ] = Path("sweep-results.csv"),
        ray_: Annotated[
            bool,
            typer.Option(
                "--ray", help="Run the searches on Ray (a local Ray unless --ray-address)."
            ),
        ] = False,
        ray_address: Annotated[
            str | None, typer.Option("--ray-address", help="Address of a running Ray cluster.")
        ] = None,
        workers: Annotated[
            int | None, typer.Option("--workers", help="Local worker processes (default: cores).")
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Run many searches in parallel and write one row per (task, kept plan) plus a summary table."""
        from wanka.cli.search import ProgressBar
        from wanka.errors import ConfigError
        from wanka.search.sweep import load_sweep, run_sweep, write_results

        if workers is not None and workers <= 0:
            raise ConfigError(f"--workers must be positive, got {workers}")
        if out.suffix.lower() not in (".csv", ".parquet"):
            raise ConfigError(f"--out must end in .csv or .parquet, got {out.name}")
        spec = load_sweep(sweep_file)
        backend = "ray" if (ray_ or ray_address) else "local"
        with ProgressBar("sweeping") as bar:
            res = run_sweep(
                spec, backend=backend, workers=workers, ray_address=ray_address, progress=bar
            )
        path = write_results(res["rows"], out)
        res["results_file"] = str(path)
        if json_out:
            print_json(res)
            return
        t = Table(
            title=f"sweep {res['name']}: {res['tasks']} searches in {res['seconds']:.1f} s "
            f"({res['backend']}, {res['workers'] or 'cluster'} workers)"
        )
        for c in (
            "model",
            "accelerator",
            "count",
            "network",
            "tokens/s/GPU",
            "MFU",
            "layout",
            "evaluated",
            "status",
        ):
            t.add_column(
                c, justify="right" if c in ("count", "tokens/s/GPU", "MFU", "evaluated") else "left"
            )
        for r in res["rows"]:
            if r.get("rank") not in (None, 1):
                continue
            layout = (
                "-"
                if r.get("tp") is None
                else (
                    f"tp{r['tp']}·pp{r['pp']}"
                    + (f"x{r['vpp']}" if r["vpp"] > 1 else "")
                    + f"·cp{r['cp']}"
                    + (f"·ep{r['ep']}" if r["ep"] > 1 else "")
                    + f"·dp{r['dp']}·mbs{r['micro_batch_size']}"
                    + ("" if r["recompute"] == "none" else f"·rc={r['recompute']}")
                )
            )
            t.add_row(
                str(r["model"]),
                str(r["accelerator"]),
                str(r["count"]),
                str(r["network"]),
                "-"
                if r.get("tokens_per_s_per_gpu") is None
                else f"{r['tokens_per_s_per_gpu']:,.1f}",
                "-" if r.get("mfu") is None else f"{r['mfu']:.3f}",
                layout,
                "-" if r.get("evaluated") is None else f"{r['evaluated']:,}",
                r["status"] if r["status"] == "ok" else f"{r['status']}: {r.get('error')}",
            )
        console.print(t)
        console.print(f"results written to {path}", highlight=False)
