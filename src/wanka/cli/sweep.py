"""`wanka sweep SWEEP.yaml`: many searches (models x chips x counts x networks), local processes or Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wanka.cli.common import (
    WIDE_HELP,
    ProgressBar,
    console,
    handle_errors,
    print_json,
    print_table,
    stopped,
)
from wanka.report.sweep import sweep_table

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
        wide: Annotated[bool, typer.Option("--wide", help=WIDE_HELP)] = False,
    ) -> None:
        """Run many searches in parallel and write one row per (task, kept plan) plus a summary table."""
        from wanka.errors import ConfigError
        from wanka.search.sweep import load_sweep, run_sweep, write_results

        if workers is not None and workers <= 0:
            raise ConfigError(f"--workers must be positive, got {workers}")
        if out.suffix.lower() not in (".csv", ".parquet"):
            raise ConfigError(f"--out must end in .csv or .parquet, got {out.name}")
        spec = load_sweep(sweep_file)
        backend = "ray" if (ray_ or ray_address) else "local"
        with ProgressBar("sweeping", json_out=json_out) as bar:
            res = run_sweep(
                spec, backend=backend, workers=workers, ray_address=ray_address, progress=bar
            )
        path = write_results(res["rows"], out)
        res["results_file"] = str(path)
        if json_out:
            print_json(res)
            _stop_if_interrupted(res, path)
            return
        print_table(sweep_table(res, width=console.width, wide=wide))
        console.print(f"results written to {path}", highlight=False)
        _stop_if_interrupted(res, path)


def _stop_if_interrupted(res: dict, path: Path) -> None:
    if res.get("interrupted"):
        stopped(
            f"{res['tasks_finished']} of {res['tasks']} searches finished; their rows are in "
            f"{path}; the workers were stopped"
        )
