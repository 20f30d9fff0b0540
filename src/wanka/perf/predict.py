"""`predict`: the docs/design.md output contract for one run spec, through the vectorised `evaluate`.

A run is evaluated as a 1-row `PlanArrays` (the single code path shared with the search), and the row
is turned into the contract object:

    {"id", "tokens_per_s_per_gpu", "step_time_s", "model_tflops_per_gpu", "mfu", "peak_memory_gib", "fits",
     "breakdown": {"compute_s", "recompute_s", "bubble_s",
                   "exposed_comm_s": {"tp", "cp", "ep", "pp", "dp"}, "optimizer_s", "overhead_s"},
     "memory_gib": {"weights", "grads", "optimizer", "activations", "buffers"},
     "assumptions": [...]}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields, replace
from typing import Any

import numpy as np

from wanka.errors import InfeasiblePlan, WankaError
from wanka.perf.params import DEFAULT_OVERLAP, Calibration, OverlapPolicy, default_calibration
from wanka.perf.plans import PlanArrays
from wanka.perf.step import StepArrays, evaluate, plan_problems
from wanka.units import GiB
from wanka.workload.frameworks import attention_factor, get_framework

__all__ = [
    "MODEL_ASSUMPTIONS",
    "evaluate_run",
    "framework_accelerator",
    "predict",
    "predict_runs",
    "resolve_run",
    "resolved_plan",
    "run_overlap",
]

MODEL_ASSUMPTIONS = (
    "flash attention (no s^2 activations), no dropout; attention kernels run in bf16",
    (
        "Megatron rank order tp-cp-ep-dp-pp; bf16 gradient buffers and reduction (Megatron-core "
        "grad_reduce_in_fp32=False, as in the Megatron-Bridge performance recipes; "
        "FSDP: bf16 reduce, fp32 shards)"
    ),
    "weights: fp8/mxfp8 runs keep fp8 params (fp8_param_gather, Megatron-Bridge mixed-precision recipes)",
    (
        "overlap: DP grad reduce-scatter with backward except the last bucket; FSDP gathers "
        "prefetched; TP (userbuffers, frameworks that overlap TP) and EP all-to-all partly hidden "
        "(calibrated shares); PP send/recv exposed"
    ),
)


def run_overlap(run: Any, overlap: OverlapPolicy = DEFAULT_OVERLAP) -> OverlapPolicy:
    """The overlap policy for a run: the TP-communication overlap credit (`Calibration.tp_comm_hidden`,
    fitted on NeMo/Megatron-Bridge runs with Transformer Engine userbuffers) only for frameworks that
    overlap TP communication by default (`wanka.workload.frameworks`) or whose run states
    `parallelism.tp_comm_overlap: true`; an explicit `tp_hidden` wins."""
    name = getattr(run, "framework", None)
    stated = getattr(run, "tp_comm_overlap", None)
    if name is None and stated is None:  # a RunSpec built in code: the step model's own defaults
        return overlap
    fw = get_framework(str(name)) if name is not None else None
    on = stated if stated is not None else bool(fw and fw.tp_comm_overlap)
    if overlap.tp_hidden is None and not on:
        overlap = replace(overlap, tp_hidden=0.0)
    if fw is not None and overlap.loss_grad_bytes == DEFAULT_OVERLAP.loss_grad_bytes:
        overlap = replace(overlap, loss_grad_bytes=fw.loss_grad_bytes)
    schedule = getattr(run, "pipeline_schedule", None) or (fw.pipeline_schedule if fw else "1f1b")
    if schedule != overlap.pp_schedule and overlap.pp_schedule == DEFAULT_OVERLAP.pp_schedule:
        overlap = replace(overlap, pp_schedule=schedule)
    if overlap.pp_schedule == "dualpipe" and overlap.ep_hidden is None:
        # DualPipe overlaps a forward and a backward chunk so that the all-to-all and the pipeline
        # send/recv run under computation (DeepSeek-V3 report, section 3.2.1)
        overlap = replace(overlap, ep_hidden=1.0, pp_hidden=1.0)
    return overlap


def framework_accelerator(run: Any, accelerator: Any = None) -> Any:
    """The run's accelerator (or `accelerator`) with its framework's attention kernel speed
    (`workload.frameworks.attention_factor`); `search --run` times every candidate on it too."""
    acc = accelerator or run.hardware.accelerator
    fa = attention_factor(getattr(run, "framework", None), acc.id)
    if fa == 1.0:
        return acc
    se = acc.software_efficiency
    return replace(acc, software_efficiency=replace(se, attention=se.attention * fa))


def resolve_run(run: Any, **kwargs: Any) -> tuple[StepArrays, list[str]]:
    """Evaluate the run's plan with its framework's semantics: a 1-row StepArrays and the notes.

    When the run leaves recompute unstated and its plan does not fit without it, the framework's
    recipes recompute (`Framework.infer_recompute`, least first): the first that fits is used (all are
    evaluated in one vectorised call) and noted. Keywords as `evaluate_run`.
    """
    res, notes, _ = _resolve(run, **kwargs)
    return res, notes


def _resolve(
    run: Any,
    *,
    overlap: OverlapPolicy = DEFAULT_OVERLAP,
    fabric: Any = None,
    calibration: Calibration | None = None,
    accelerator: Any = None,
) -> tuple[StepArrays, list[str], Any]:
    plan = run.parallelism
    name = getattr(run, "framework", None)
    fw = get_framework(name) if name is not None else None
    infer = fw is not None and not getattr(run, "recompute_stated", True)
    infer = infer and plan.recompute == "none"
    extra = fw.infer_recompute if (infer and fw is not None) else ()
    kinds = [r for r in extra if r != "block"]
    if "block" in extra and "full" not in kinds:
        kinds.append("full")  # the other end of the interpolation; not itself an inferred option
    options = [plan] + [replace(plan, recompute=r) for r in kinds]
    acc = framework_accelerator(run, accelerator)
    cal = calibration or default_calibration()
    if fw is not None and fw.expert_gemm == "fused" and cal.moe_expert_gemm_s:
        cal = replace(cal, moe_expert_gemm_s=0.0)  # one grouped-matmul kernel: no per-expert launch
    res = evaluate(
        run.model,
        acc,
        PlanArrays.from_plans(options),
        count=run.hardware.count,
        gpus_per_node=run.hardware.gpus_per_node,
        global_batch_size=plan.global_batch_size,
        seq_len=run.model.seq_len,
        precision=run.precision,
        overlap=run_overlap(run, overlap),
        fabric=fabric,
        calibration=cal,
        strict_experts=False,
    )
    fsdp_note = _fsdp_inferred(fw, plan, res, acc, cal)
    if fsdp_note:
        sharded = replace(run, parallelism=replace(plan, fsdp="full", distributed_optimizer=False))
        kw = {"overlap": overlap, "fabric": fabric, "calibration": calibration}
        res2, notes2, plan2 = _resolve(sharded, accelerator=accelerator, **kw)
        return res2, [fsdp_note, *notes2], plan2
    notes = _loss_notes(fw)
    if len(options) == 1 or bool(res.fits[0]):
        return (_row_of(res, 0) if len(options) > 1 else res), notes, plan
    label = fw.label if fw else "the"
    for r in extra:
        if r == "block":
            row = _block_recompute(run, res, kinds.index("full") + 1, acc, cal, notes, label)
            if row is not None:
                return row, notes, options[kinds.index("full") + 1]
            continue
        i = kinds.index(r) + 1
        if bool(res.fits[i]):
            notes.append(
                f"recompute inferred: {r} (the stated layout does not fit without it; {label} "
                "recipes recompute when needed)"
            )
            return _row_of(res, i), notes, options[i]
    return _row_of(res, 0), notes, plan


def _fsdp_inferred(fw: Any, plan: Any, res: StepArrays, acc: Any, cal: Calibration) -> str | None:
    """The note when the framework shards unsharded layouts that cannot hold their model states
    (`Framework.infer_fsdp`) and this stated layout is one: valid, `fsdp: none`, and its weights,
    gradients and optimizer states alone exceed HBM minus the allocator margin; else None."""
    if fw is None or not fw.infer_fsdp or plan.fsdp != "none" or not bool(res.valid[0]):
        return None
    states = float(res.weights_bytes[0] + res.grads_bytes[0] + res.optimizer_bytes[0])
    if states <= acc.hbm_bytes * (1.0 - cal.allocator_margin):
        return None
    return (
        f"parallelism.fsdp none: full inferred (unsharded, the weights, gradients and optimizer "
        f"states alone take {states / GiB:.0f} GiB of {acc.hbm_bytes / GiB:.0f} GiB; {fw.label} "
        "recipes shard such layouts with FSDP)"
    )


def _loss_notes(fw: Any) -> list[str]:
    """The run's loss semantics when its framework's differ from the fp32 cross-entropy default."""
    if fw is None or fw.loss_grad_bytes == DEFAULT_OVERLAP.loss_grad_bytes:
        return []
    return [
        f"loss: {fw.label} computes the cross-entropy with a fused kernel on the bf16 logits "
        f"({fw.loss_grad_bytes:g} B per logit of loss gradient, no fp32 copy)"
    ]


def _block_recompute(
    run: Any, res: StepArrays, i_full: int, acc: Any, cal: Calibration, notes: list[str], label: str
) -> StepArrays | None:
    """Full recompute of the fewest layers per pipeline stage that makes the plan fit (Megatron-core
    `recompute_granularity=full, recompute_method=block, recompute_num_layers=N`: the first N layers of
    each stage keep only their input, the others everything). Activation memory and recompute time are
    sums over layers, so both are the no-recompute row plus N/L of the way to the full-recompute row;
    None when even full recompute does not fit."""
    limit = acc.hbm_bytes * (1.0 - cal.allocator_margin)
    p0, p1 = float(res.peak_memory_bytes[0]), float(res.peak_memory_bytes[i_full])
    if not bool(res.valid[0]) or p1 > limit or p0 <= p1:
        return None
    per_stage = max(1, -(-run.model.layers // max(run.parallelism.pp, 1)))
    n = min(per_stage, int(np.ceil((p0 - limit) / (p0 - p1) * per_stage - 1e-9)))
    f = n / per_stage
    row = {}
    for fl in fields(res):
        a, b = getattr(res, fl.name)[0:1], getattr(res, fl.name)[i_full : i_full + 1]
        row[fl.name] = a + f * (b - a) if a.dtype.kind == "f" else a
    step = row["step_time_s"]
    scale = res.step_time_s[0:1] / step
    for k in ("tokens_per_s_per_gpu", "model_tflops_per_gpu", "mfu"):
        row[k] = getattr(res, k)[0:1] * scale
    row["fits"] = res.valid[0:1] & (row["peak_memory_bytes"] <= limit)
    notes.append(
        f"recompute inferred: full recompute of {n} of {per_stage} layers per pipeline stage "
        f"(recompute_method block; the stated layout does not fit without it; {label} recipes "
        "recompute when needed)"
    )
    return StepArrays(**row)


def _row_of(res: StepArrays, i: int) -> StepArrays:
    return StepArrays(**{f.name: getattr(res, f.name)[i : i + 1] for f in fields(res)})


def resolved_plan(run: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """The run's plan as the predictor times it (recompute inferred when needed to fit) and the notes."""
    _, notes, plan = _resolve(run, **kwargs)
    return plan, notes


def evaluate_run(
    run: Any,
    *,
    overlap: OverlapPolicy = DEFAULT_OVERLAP,
    fabric: Any = None,
    calibration: Calibration | None = None,
    accelerator: Any = None,
) -> StepArrays:
    """`evaluate` on the run's single plan with its framework's semantics (a 1-row StepArrays)."""
    return resolve_run(
        run, overlap=overlap, fabric=fabric, calibration=calibration, accelerator=accelerator
    )[0]


def predict(
    run: Any,
    *,
    overlap: OverlapPolicy = DEFAULT_OVERLAP,
    fabric: Any = None,
    calibration: Calibration | None = None,
    accelerator: Any = None,
) -> dict[str, Any]:
    """The docs/design.md `predict --json` object for one `RunSpec`.

    Raises `InfeasiblePlan` naming the reasons when the plan is not valid for the model and size.
    `accelerator` overrides the run's (e.g. after applying a measured profile).
    """
    res, notes = resolve_run(
        run, overlap=overlap, fabric=fabric, calibration=calibration, accelerator=accelerator
    )
    if not bool(res.valid[0]):
        reasons = plan_problems(
            run.model,
            PlanArrays.from_plans([run.parallelism]),
            0,
            count=run.hardware.count,
            global_batch_size=run.parallelism.global_batch_size,
            seq_len=run.model.seq_len,
            strict_experts=False,
        )
        raise InfeasiblePlan("; ".join(reasons) or "plan is not valid for this model")
    r = res.row(0)
    cal = calibration or default_calibration()
    return {
        "id": run.id,
        "tokens_per_s_per_gpu": r["tokens_per_s_per_gpu"],
        "step_time_s": r["step_time_s"],
        "model_tflops_per_gpu": r["model_tflops_per_gpu"],
        "mfu": r["mfu"],
        "peak_memory_gib": r["peak_memory_bytes"] / GiB,
        "fits": bool(r["fits"]),
        "breakdown": {
            "compute_s": r["compute_s"],
            "recompute_s": r["recompute_s"],
            "bubble_s": r["bubble_s"],
            "exposed_comm_s": {
                "tp": r["exposed_tp_s"],
                "cp": r["exposed_cp_s"],
                "ep": r["exposed_ep_s"],
                "pp": r["exposed_pp_s"],
                "dp": r["exposed_dp_s"],
            },
            "optimizer_s": r["optimizer_s"],
            "overhead_s": r["overhead_s"],
        },
        "memory_gib": {
            "weights": r["weights_bytes"] / GiB,
            "grads": r["grads_bytes"] / GiB,
            "optimizer": r["optimizer_bytes"] / GiB,
            "activations": r["activations_bytes"] / GiB,
            "buffers": r["buffers_bytes"] / GiB,
        },
        "microbatches": round(r["microbatches"]),
        "assumptions": list(run.assumptions)
        + notes
        + list(MODEL_ASSUMPTIONS)
        + [f"calibration: {cal.source}"],
    }


def predict_runs(
    runs: Iterable[Any],
    *,
    overlap: OverlapPolicy = DEFAULT_OVERLAP,
    fabric: Any = None,
    calibration: Calibration | None = None,
) -> list[dict[str, Any]]:
    """`predict` every item; `RunError`s and failing runs become `{"id", "error"}` entries, in order."""
    out: list[dict[str, Any]] = []
    for run in runs:
        err = getattr(run, "error", None)
        if err is not None and not hasattr(run, "model"):
            out.append({"id": run.id, "error": err})
            continue
        try:
            if hasattr(run, "groups"):  # heterogeneous run (spec_hetero.HeteroRunSpec)
                from wanka.perf.hetero import predict_hetero

                out.append(predict_hetero(run, calibration=calibration))
                continue
            out.append(predict(run, overlap=overlap, fabric=fabric, calibration=calibration))
        except WankaError as e:
            out.append({"id": run.id, "error": str(e) or type(e).__name__})
    return out
