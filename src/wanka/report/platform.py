"""`wanka platform` renderer: records the service returns (jobs, quotas, usage, pools, tenants) as a
table, one row per record."""

from __future__ import annotations

from typing import Any

from rich.table import Table

__all__ = ["records_table"]


def _cell(v: Any) -> str:
    if v is None:
        return ""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def records_table(data: Any, columns: list[str], title: str) -> Table:
    """One record or a list of them, `columns` in order (None shows empty, floats to 4 digits)."""
    rows = data if isinstance(data, list) else [data]
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*(_cell(r.get(c)) for c in columns))
    return t
