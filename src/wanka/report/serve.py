"""Rich renderers for `wanka serve predict|plan|validate` (pure: results in, renderables out)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table

__all__ = ["render_serve_plan", "render_serve_prediction", "render_serve_validation"]


def render_serve_prediction(res: dict[str, Any]) -> Group | Table:
    """One `serve predict` record (or its error) as a table plus its assumptions."""
    rid = res.get("id") or "(no id)"
    if "error" in res:
        t = Table(title=f"{rid}: error", show_header=False, title_justify="left")
        t.add_row(res["error"])
        return t
    t = Table(title=f"{rid}", title_justify="left")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_row("output tokens/s per GPU", f"{res['output_tokens_per_s_per_gpu']:,.1f}")
    t.add_row("input+output tokens/s per GPU", f"{res['total_tokens_per_s_per_gpu']:,.1f}")
    t.add_row("TTFT p50 / p99 (ms)", f"{res['ttft_ms']['p50']:,.0f} / {res['ttft_ms']['p99']:,.0f}")
    t.add_row("TPOT p50 / p99 (ms)", f"{res['tpot_ms']['p50']:,.1f} / {res['tpot_ms']['p99']:,.1f}")
    t.add_row("max batch per instance", f"{res['max_batch']:,}")
    t.add_row("KV cache per GPU (GiB = 2^30 B)", f"{res['kv_cache_gib']:.1f}")
    lay = res.get("layout", {})
    t.add_row("layout", " ".join(f"{k}={v}" for k, v in lay.items()))
    if res.get("meets_slo") is not None:
        t.add_row("meets latency limits", "yes" if res["meets_slo"] else "NO")
    for k in ("prefill_tokens_per_s_per_gpu", "decode_output_tokens_per_s_per_gpu"):
        if k in res:
            t.add_row(k.replace("_", " "), f"{res[k]:,.1f}")
    notes = Table(show_header=False, box=None, pad_edge=False)
    notes.add_column("assumption")
    for a in res.get("assumptions", []):
        notes.add_row(f"- {a}")
    return Group(t, "assumptions", notes)


def render_serve_plan(plans: list[dict[str, Any]], notes: list[str], stats: str) -> Group:
    """Ranked deployments, cheapest first."""
    t = Table(title="serving plans, cheapest first", title_justify="left")
    for c in ("chip", "count", "layout", "TTFT p99 ms", "TPOT p99 ms", "$/M out tok"):
        t.add_column(c, justify="left" if c in ("chip", "layout") else "right")
    for p in plans:
        lay = p["layout"]
        desc = f"tp{lay['tp']} pp{lay['pp']} dp{lay['dp']}"
        if lay["ep"] > 1:
            desc += f" ep{lay['ep']}"
        if lay.get("attention_dp"):
            desc += " attn-DP"
        if lay["disaggregated"]:
            desc += f" P:D {lay['prefill_decode']}"
        t.add_row(
            f"{p['accelerator']} {p['precision']}", str(p["count"]), desc,
            f"{p['ttft_ms_p99']:,.0f}", f"{p['tpot_ms_p99']:,.0f}",
            f"{p['cost_per_million_tokens_usd']:.3f}",
        )  # fmt: skip
    return Group(t, stats, *[f"- {n}" for n in notes])


def _row(t: Table, name: str, st: dict[str, Any]) -> None:
    if not st.get("n"):
        t.add_row(name, "0", "-", "-", "-")
        return
    t.add_row(name, str(st["n"]), f"{st['median_abs']:.1%}", f"{st['p90_abs']:.1%}",
              f"{st['median_signed']:+.1%}")  # fmt: skip


def render_serve_validation(report: dict[str, Any]) -> Group:
    """Summary tables of `validate_serving`."""
    s = report["summary"]
    parts: list[Any] = [
        (
            "output tokens/s/GPU (total where only the total is measured) error = predicted / "
            f"measured - 1; split: {s['split_rule']}; "
            f"{s['predicted']} of {s['cases']} cases predicted"
        )
    ]

    def table(title: str) -> Table:
        t = Table(title=title, title_justify="left")
        for c in ("group", "cases", "median |err|", "p90 |err|", "bias"):
            t.add_column(c, justify="left" if c == "group" else "right")
        return t

    t = table("throughput")
    for k in ("held_out", "train", "all"):
        _row(t, k.replace("_", "-"), s["throughput"][k])
    parts.append(t)
    lt = table("latency, where measured")
    for k, st in s["latency"].items():
        _row(lt, k, st)
    for k, st in s.get("latency_at_rate", {}).items():
        if st.get("n"):
            _row(lt, f"{k} at rate", st)
    parts.append(lt)
    for key in ("by_family", "by_accelerator", "by_scenario"):
        tt = table(f"whole file, {key.replace('by_', 'by ')}")
        for name, st in s["all"][key].items():
            _row(tt, name, st)
        parts.append(tt)
    failed = [c for c in report["cases"] if "error" in c]
    for c in failed:
        parts.append(f"not predicted: {c['id']}: {c['error']}")
    return Group(*parts)
