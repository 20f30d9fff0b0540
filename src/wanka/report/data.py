"""Renderers of the data registry: the `wanka data list` table (80-column rule of
`wanka.report.table`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.table import Table

from wanka.report.table import Col, fit_table

if TYPE_CHECKING:
    from wanka.data.registry import VersionRecord

__all__ = ["human_bytes", "versions_table"]


def human_bytes(n: int) -> str:
    """Bytes in binary units (MiB under a quarter GiB, else GiB, TiB from 1 TiB)."""
    if n >= 2**40:
        return f"{n / 2**40:.2f} TiB"
    return f"{n / 2**30:.2f} GiB" if n >= 2**28 else f"{n / 2**20:.1f} MiB"


def versions_table(recs: Sequence[VersionRecord], *, width: int, wide: bool = False) -> Table:
    """One row per dataset version; estimated token counts end with `~`."""
    cols = [
        Col("dataset", "left"),
        Col("files"),
        Col("size"),
        Col("format", "left", keep=3),
        Col("tokens", keep=4),
        Col("license", "left", keep=2),
        Col("replicas", keep=1),
        Col("manifest", "left", keep=1),
    ]
    rows = [
        [
            r.ref,
            f"{r.files:,}",
            human_bytes(r.bytes),
            r.format,
            "-" if r.tokens is None else f"{r.tokens:,}" + ("~" * r.tokens_estimated),
            r.license or "-",
            str(len(r.replicas)),
            r.manifest_sha256[:12],
        ]
        for r in recs
    ]
    return fit_table(cols, rows, width=width, wide=wide, caption="~: estimated from text bytes")
