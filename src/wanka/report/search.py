"""`wanka search` renderer: the summary line, the best layouts, why #1 wins, the Pareto front and
the published layout, from one `SearchResult.to_dict()`."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.table import Table

__all__ = ["fmt_value", "layout_text", "search_report"]


def fmt_value(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}" if abs(v) < 1e4 else f"{v:,.0f}"
    return str(v)


def layout_text(p: dict[str, Any]) -> str:
    par = p["parallelism"]
    s = f"tp{par['tp']} pp{par['pp']}"
    if par["vpp"] > 1:
        s += f"x{par['vpp']}"
    s += f" cp{par['cp']} dp{par['dp']}"
    if par["ep"] > 1 or par["etp"] > 1:
        s += f" ep{par['ep']} etp{par['etp']}"
    s += f" mbs{par['micro_batch_size']}"
    flags = []
    if par["fsdp"] != "none":
        flags.append(f"fsdp={par['fsdp']}")
    if par["distributed_optimizer"]:
        flags.append("dist-opt")
    if par["sequence_parallel"]:
        flags.append("sp")
    if par["recompute"] != "none":
        flags.append(f"rc={par['recompute']}")
    return s + (" " + ",".join(flags) if flags else "")


def search_report(res: dict[str, Any]) -> list[RenderableType]:
    """The report of one search result dict (`SearchResult.to_dict()`): lines (rich markup) and
    tables, in order; the caller prints each (strings without highlighting)."""
    out: list[RenderableType] = [_summary(res)]
    if res.get("infeasible"):
        return [*out, _infeasible(res["infeasible"])]
    out.append(_top_table(res))
    if res.get("explanation"):
        out.append(_why_table(res))
    if res.get("pareto"):
        out.append(_pareto_table(res))
    pub = res.get("published")
    if pub:
        pp = pub["plan"]
        out.append(
            f"published layout {layout_text(pp)}: {fmt_value(pp.get('tokens_per_s_per_gpu'), 1)} "
            f"tokens/s/GPU (in space: {pub['in_space']}; fits: {pub.get('fits')}); best is "
            f"{'the same' if pub['same_as_best'] else 'different'}, "
            f"gain x{fmt_value(pub.get('gain'), 3)}",
        )
        if pub.get("memory_note"):
            out.append(f"note: {pub['memory_note']}")
    return out


def _summary(res: dict[str, Any]) -> str:
    rate = res["evaluated"] / res["seconds"] if res["seconds"] else 0.0
    return (
        f"[bold]{res['model']}[/] on {res['count']} x {res['accelerator']}, global batch "
        f"{res['global_batch_size']} x {res['seq_len']} tokens: space {res['space']:,}, "
        f"pruned {res['pruned']['divisibility']:,} (divisibility) + "
        f"{res['pruned']['memory_bound']:,} (memory bound), evaluated {res['evaluated']:,}, "
        f"feasible {res['feasible']:,} in {res['seconds']:.2f} s ({rate:,.0f}/s)"
    )


def _infeasible(inf: dict[str, Any]) -> str:
    msg = (
        f"[bold red]no feasible layout[/]: binding constraint {inf['binding_constraint']}: "
        f"{inf['reason']}"
    )
    if inf.get("short_by_gib"):
        msg += (
            f"; the smallest layout needs {inf['min_peak_memory_gib']:.1f} GiB per accelerator, "
            f"{inf['short_by_gib']:.1f} GiB more than the {inf['hbm_gib']:.0f} GiB available"
        )
    return msg


def _top_table(res: dict[str, Any]) -> Table:
    multi = len(res.get("precisions") or []) > 1
    t = Table(title="best layouts (tokens/s per accelerator)")
    for c in ("#", "layout", "precision", "tokens/s/GPU", "step (s)", "MFU", "peak mem (GiB)"):
        if c == "precision" and not multi:
            continue
        t.add_column(
            c,
            justify="left" if c in ("layout", "precision") else "right",
            ratio=3 if c == "layout" else None,
            overflow="fold" if c == "layout" else "ellipsis",  # a long option folds, never cut
        )
    for i, p in enumerate(res["top"], 1):
        cells = (
            [str(i), layout_text(p)]
            + ([p["precision"]] if multi else [])
            + [
                fmt_value(p.get("tokens_per_s_per_gpu"), 1),
                fmt_value(p.get("step_time_s")),
                fmt_value(p.get("mfu")),
                fmt_value(p.get("peak_memory_gib"), 1),
            ]
        )
        t.add_row(*cells)
    return t


def _why_table(res: dict[str, Any]) -> Table:
    ru = res.get("runner_up")
    e = Table(title=f"why #1 wins: against the runner-up ({layout_text(ru) if ru else '-'})")
    for c in ("term", "winner", "runner-up", "runner-up - winner"):
        e.add_column(c, justify="left" if c == "term" else "right")
    for r in res["explanation"]:
        if r["best"] == 0 and r["runner_up"] == 0:
            continue
        e.add_row(
            r["term"],
            fmt_value(r["best"], 4),
            fmt_value(r["runner_up"], 4),
            fmt_value(r["delta"], 4),
        )
    return e


def _pareto_table(res: dict[str, Any]) -> Table:
    f = Table(
        title="Pareto front: tokens/s/GPU vs peak memory"
        + (" vs accelerators" if res.get("counts") else "")
    )
    for c in ("layout", "accelerators", "tokens/s/GPU", "peak mem (GiB)"):
        f.add_column(c, justify="left" if c == "layout" else "right")
    for p in res["pareto"][:12]:
        f.add_row(
            layout_text(p),
            str(p.get("count")),
            fmt_value(p.get("tokens_per_s_per_gpu"), 1),
            fmt_value(p.get("peak_memory_gib"), 1),
        )
    return f
