"""Rendering of a mixed-fleet search (`wanka search --accelerator kind:count,...`)."""

from __future__ import annotations

import shutil
from typing import Any

from rich.console import Group

from wanka.report.table import Col, fit_table

__all__ = ["render_hetero"]


def _stage_rows(best: dict[str, Any]) -> list[list[str]]:
    rows, plan = [], best["plan"]["parallelism"]["stages"]
    for i, (st, spec) in enumerate(zip(best["stages"], plan, strict=True)):
        if "replicas" in spec:
            kinds: dict[str, int] = {}
            for r in spec["replicas"]:
                kinds[r["group"]] = kinds.get(r["group"], 0) + 1
            layout = ", ".join(f"{n} x tp{spec['replicas'][0]['tp']} {g}" for g, n in kinds.items())
        else:
            layout = f"{spec['dp']} x tp{spec['tp']} {spec['group']}"
        rows.append(
            [
                str(i),
                str(st["layers"]),
                layout,
                f"{st['time_s']:.2f}",
                f"{st['peak_memory_gib']:.1f}",
                "yes" if st["fits"] else "NO",
            ]
        )
    return rows


def render_hetero(res: dict[str, Any], *, wide: bool = False) -> Group:
    """The best plan's stages and the three references, as rich renderables."""
    width = shutil.get_terminal_size((80, 24)).columns
    best, ref = res["best"], res["references"]
    fleet = " + ".join(f"{f['count']} x {f['accelerator']}" for f in res["fleet"])
    cols = [
        Col("stage"),
        Col("layers"),
        Col("replicas", justify="left", wrap=True),
        Col("time (s)"),
        Col("mem\n(GiB)", keep=1),
        Col("fits", keep=2),
    ]
    stages = fit_table(
        cols,
        _stage_rows(best),
        width=width,
        wide=wide,
        title=f"{res['model']} on {fleet}: best plan ({best['family']}), "
        f"{best['tokens_per_s']:,.0f} tokens/s, step {best['step_time_s']:.2f} s"
        + "".join(
            f", {k} {best['plan']['parallelism'][k]}"
            for k in ("vpp", "cp")
            if best["plan"]["parallelism"].get(k, 1) > 1
        ),
    )

    def r(x: Any) -> str:
        return "-" if x is None else f"{x:,.0f}"

    refs = [
        ["best plan", r(best["tokens_per_s"]), "1.00"],
        [
            f"best homogeneous subset ({ref['best_homogeneous_accelerator']})",
            r(ref["best_homogeneous_tokens_per_s"]),
            f"{res['speedup_vs_best_homogeneous'] or 0:.2f}",
        ],
        [
            "naive equal split",
            r(ref["equal_split_tokens_per_s"]),
            f"{res['speedup_vs_equal_split'] or 0:.2f}",
        ],
        ["sum of parts (bound)", r(ref["sum_of_parts_tokens_per_s"]), ""],
    ]
    eff = res.get("sum_of_parts_efficiency")
    table = fit_table(
        [Col("reference", justify="left", wrap=True), Col("tokens/s"), Col("best\nover it")],
        refs,
        width=width,
        wide=wide,
        caption=f"sum-of-parts efficiency {eff:.1%}; {res['evaluated']:,} layouts scored, "
        f"{res['confirmed_by_predict']} re-evaluated by predict, {res['seconds']:.1f} s"
        if eff
        else None,
    )
    return Group(stages, table)
