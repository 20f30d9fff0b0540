"""`wanka predict` renderer: one table per run (throughput, the step-time breakdown, memory per GPU)
and every assumption made for a null field."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table

__all__ = ["render_prediction"]


def _s(x: float) -> str:
    return f"{x:.3f}" if x < 100 else f"{x:,.1f}"


def render_prediction(res: dict[str, Any]) -> Group | Table:
    """A rich renderable for one prediction (or its error)."""
    rid = res.get("id") or "(no id)"
    if "error" in res:
        t = Table(title=f"run {rid}: error", show_header=False, title_justify="left")
        t.add_row("[red]" + res["error"] + "[/]")
        return t
    b = res["breakdown"]
    step = res["step_time_s"]
    t = Table(title=f"run {rid}", title_justify="left", show_lines=False)
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_column("share of step", justify="right")
    t.add_row("tokens/s per GPU", f"{res['tokens_per_s_per_gpu']:,.0f}", "")
    t.add_row("step time (s)", _s(step), "100%")
    t.add_row("model TFLOP/s per GPU (1e12)", f"{res['model_tflops_per_gpu']:,.1f}", "")
    t.add_row("MFU (of the precision's dense peak)", f"{res['mfu']:.1%}", "")
    rows = [
        ("compute (fwd + bwd)", b["compute_s"]),
        ("recompute", b["recompute_s"]),
        ("pipeline bubble", b["bubble_s"]),
    ]
    rows += [(f"exposed {k.upper()} communication", v) for k, v in b["exposed_comm_s"].items()]
    rows += [("optimizer step", b["optimizer_s"]), ("framework overhead", b.get("overhead_s", 0.0))]
    for name, v in rows:
        t.add_row(f"  {name} (s)", _s(v), f"{v / step:.1%}")
    mem = res.get("memory_gib", {})
    fits = "[green]fits[/]" if res["fits"] else "[red]does NOT fit[/]"
    t.add_row("peak memory per GPU (GiB = 2^30 B)", f"{res['peak_memory_gib']:.1f}", fits)
    for k, v in mem.items():
        t.add_row(f"  {k} (GiB)", f"{v:.1f}", "")
    notes = Table(show_header=False, box=None, pad_edge=False)
    notes.add_column("assumption")
    for a in res.get("assumptions", []):
        notes.add_row(f"- {a}")
    return Group(t, "[bold]assumptions[/]", notes)
