"""`wanka profile` renderer: one row per measured kernel (report.table rule)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from wanka.report.table import Col, fit_table

__all__ = ["kernels_table"]

_COLS = (
    Col("class", "left"),
    Col("shape", "left", wrap=True, keep=2),
    Col("dtype", "left", keep=1),
    Col("time ms"),
    Col("rate", "left", wrap=True, keep=3),
    Col("fraction\nof peak"),
)


def _rate(k: Any) -> str:
    if k.achieved_flops_per_s is not None:
        return f"{k.achieved_flops_per_s / 1e12:.3f} TFLOP/s"
    return f"{(k.bytes_per_s or 0) / 1e9:.1f} GB/s"


def kernels_table(prof: Any, *, width: int, wide: bool = False) -> Table:
    """Each kernel's shape, time, achieved rate and fraction of the reference peak."""
    rows = [
        [
            k.kernel_class,
            ", ".join(f"{a}={b}" for a, b in k.params.items()),
            k.dtype,
            f"{k.seconds * 1e3:.3f}",
            _rate(k),
            f"{k.fraction_of_peak:.3f}",
        ]
        for k in prof.kernels
    ]
    return fit_table(
        _COLS,
        rows,
        width=width,
        wide=wide,
        title=f"{prof.device} ({prof.backend}); peaks: {prof.peak_reference.source}",
    )
