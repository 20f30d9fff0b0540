"""`wanka profile`: measure what a chip's software really delivers and write a chip profile."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wanka.cli.common import console, err_console, handle_errors, print_json, print_table
from wanka.errors import ConfigError
from wanka.profile import dump_profile, run_profile
from wanka.report.profile import kernels_table

__all__ = ["profile_cmd", "register"]


def register(root: typer.Typer) -> None:
    """Attach `wanka profile` to the root app."""
    root.command("profile")(profile_cmd)


@handle_errors
def profile_cmd(
    backend: Annotated[
        str,
        typer.Option(
            "--backend",
            help="numpy (CPU, always available) or torch (whatever device PyTorch sees).",
        ),
    ] = "numpy",
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the profile YAML.")
    ] = Path("wanka-profile.yaml"),
    accelerator: Annotated[
        str | None,
        typer.Option(
            "--accelerator", help="Catalog id: compute fractions against this chip's peaks."
        ),
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="A tiny sweep (about a second).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the profile as JSON.")] = False,
) -> None:
    """Run GEMM, attention, memory and collective micro-benchmarks; write a `wanka-profile/1` file.

    `predict`, `search` and `plan` take it with `--profile FILE`: its measured fractions replace the
    catalog's software_efficiency for that chip.
    """
    if backend not in ("numpy", "torch"):
        raise ConfigError(f"unknown backend {backend!r}; choose numpy or torch")
    if out.exists() and out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give a file name")
    if not out.parent.exists():
        raise ConfigError(f"--out {out}: the directory {out.parent} does not exist")
    progress = (
        None
        if as_json
        else (lambda msg: err_console.print(f"  {msg}", highlight=False, markup=False))
    )
    prof = run_profile(backend=backend, accelerator_id=accelerator, quick=quick, progress=progress)
    dump_profile(prof, out)
    if as_json:
        d = prof.to_dict()
        d["path"] = str(out)
        print_json(d)
        return
    se = prof.software_efficiency
    print_table(kernels_table(prof, width=console.width))
    console.print(
        f"software_efficiency: gemm {se.gemm:.3f}, attention {se.attention:.3f}, "
        f"memory_bw {se.memory_bw:.3f}, collective "
        f"{'not measured' if se.collective is None else f'{se.collective:.3f}'}",
        highlight=False,
    )
    console.print(f"wrote {out}", highlight=False)
