"""`wanka sweep` renderer: the best plan of each search, one row per task (report.table rule)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from wanka.report.table import Col, fit_table

__all__ = ["sweep_table"]

_COLS = (
    Col("model", "left"),
    Col("accelerator", "left"),
    Col("count"),
    Col("network", "left", keep=3),
    Col("tokens/s\n/GPU"),
    Col("MFU", keep=4),
    Col("layout", "left", wrap=True, keep=5),
    Col("evaluated", keep=1),
    Col("status", "left", wrap=True),
)


def _layout(r: dict[str, Any]) -> str:
    if r.get("tp") is None:
        return "-"
    return (
        f"tp{r['tp']} pp{r['pp']}"
        + (f"x{r['vpp']}" if r["vpp"] > 1 else "")
        + f" cp{r['cp']}"
        + (f" ep{r['ep']}" if r["ep"] > 1 else "")
        + f" dp{r['dp']} mbs{r['micro_batch_size']}"
        + ("" if r["recompute"] == "none" else f" rc={r['recompute']}")
    )


def _row(r: dict[str, Any]) -> list[str]:
    tps = r.get("tokens_per_s_per_gpu")
    return [
        str(r["model"]),
        str(r["accelerator"]),
        str(r["count"]),
        str(r["network"]),
        "-" if tps is None else f"{tps:,.1f}",
        "-" if r.get("mfu") is None else f"{r['mfu']:.3f}",
        _layout(r),
        "-" if r.get("evaluated") is None else f"{r['evaluated']:,}",
        r["status"] if r["status"] == "ok" else f"{r['status']}: {r.get('error')}",
    ]


def sweep_table(res: dict[str, Any], *, width: int, wide: bool = False) -> Table:
    """The rank-1 row of every task, with the sweep's size and time in the title."""
    rows = [_row(r) for r in res["rows"] if r.get("rank") in (None, 1)]
    return fit_table(
        _COLS,
        rows,
        width=width,
        wide=wide,
        title=f"sweep {res['name']}: {res['tasks']} searches in {res['seconds']:.1f} s "
        f"({res['backend']}, {res['workers'] or 'cluster'} workers)",
    )
