"""The example searches whose top 10 plans the export tests and benchmarks/framework_exports.py write
as framework configurations (one home for both)."""

from __future__ import annotations

from typing import Any

from wanka.catalogs import get_accelerator
from wanka.search import search
from wanka.search.export import export_plan, framework_dims
from wanka.search.models import load_model

#: dense, MoE (MLA, shared experts, uneven pipeline), long context (CP), FP8 — as in examples/.
CASES = {
    "dense": ("llama3-70b", "h100-sxm", 1024, 1024, 8192, "bf16"),
    "moe": ("deepseek-v3", "h800", 1024, 8192, 4096, "fp8-blockwise"),
    "cp": ("llama3-70b", "h100-sxm", 256, 64, 131072, "bf16"),
    "fp8": ("llama3-70b", "h100-sxm", 64, 256, 8192, "fp8"),
}


def top10(case: tuple, fmt: str) -> tuple[Any, Any, dict[str, Any]]:
    """(model, accelerator, search result dict) of the top 10 plans framework `fmt` can run at all.

    torchtitan's float8 recipes are rowwise, so a block-wise fp8 example is searched at fp8 for it.
    """
    model, acc_id, count, gbs, seq, prec = case
    if fmt == "torchtitan" and prec == "fp8-blockwise":
        prec = "fp8"
    m, acc = load_model(model, seq), get_accelerator(acc_id)
    res = search(
        m, acc, count=count, global_batch_size=gbs, seq_len=seq, precisions=(prec,), top_k=10,
        dim_overrides=framework_dims(fmt),
    ).to_dict()  # fmt: skip
    return m, acc, res


def export_row(plan: Any, fmt: str, model: Any, acc: Any, row: dict, res: dict) -> str:
    """One top-list row of `res` written as framework `fmt`'s configuration."""
    return export_plan(
        plan, fmt, model=model, accelerator=acc, precision=row["precision"],
        gpus_per_node=res["gpus_per_node"],
    )  # fmt: skip
