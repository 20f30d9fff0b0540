"""`wanka collective` renderer: time, algbw and busbw of one collective, as nccl-tests reports them."""

from __future__ import annotations

from typing import Any

from rich.table import Table

__all__ = ["collective_table"]


def collective_table(out: dict[str, Any]) -> Table:
    """The table of one `wanka collective --json` object."""
    table = Table(
        title=f"{out['op']}, {out['bytes']:,} bytes on {out['gpus']} x {out['accelerator']} "
        f"({out['gpus_per_domain']} per scale-up domain)"
    )
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("time", f"{out['time_s'] * 1e6:,.1f} us")
    table.add_row("algbw (GB/s = 1e9 B/s)", f"{out['algbw_gb_s']:,.1f}")
    table.add_row("busbw (GB/s = 1e9 B/s)", f"{out['busbw_gb_s']:,.1f}")
    table.add_row("algorithm / protocol", f"{out['algorithm']} / {out['protocol']}")
    table.add_row("tier", f"{out['tier']} ({out['topology']})")
    return table
