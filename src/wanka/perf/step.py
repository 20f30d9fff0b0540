"""The training step model: time, memory and throughput of candidate parallel plans, vectorised.

`evaluate(model, accelerator, plans, ...)` takes one model, one accelerator type and size, one global batch
and precision, and a `PlanArrays` of N candidate layouts; every quantity is an array of N. The scalar
path (`perf.predict`) calls the same function on a 1-row PlanArrays, so the two cannot drift.

Step composition (per optimizer step, seconds; the slowest pipeline stage sets the pace):

    t_mb   = compute(fwd + bwd) + recompute + exposed TP + exposed CP + exposed EP + exposed PP p2p
             + per-micro-batch framework overhead                     (one micro-batch on that stage)
    step   = m * t_mb                                                 (m = G / (b * dp) micro-batches)
           + bubble = (pp - 1) / vpp * t_mb                           (Narayanan et al. 2021, eq. 1 and
                                                                       section 2.2.2, interleaved 1F1B)
           + exposed DP/FSDP communication + optimizer step + per-step overhead

Each term is a small function over the same arrays (`perf.context.StepContext`): compute per layer in
`perf.layer`, the pipeline stages in `perf.stages`, the TP/CP/EP/PP/DP communication and its overlap
and the optimizer step in `perf.exposed`, memory in `perf.memory`. Layout validity is
`wanka.parallel.layout_problems`. Formulas and their sources are in docs/perf-model.md and next to
each term.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wanka.hardware import Accelerator
from wanka.parallel import layout_problems, layout_reasons, layout_valid
from wanka.perf.context import F64, step_context
from wanka.perf.exposed import cp_layer, dp_exposed, ep_layer, optimizer_s, pp_microbatch, tp_layer
from wanka.perf.layer import layer_times
from wanka.perf.memory import memory
from wanka.perf.params import DEFAULT_OVERLAP, Calibration, OverlapPolicy, default_calibration
from wanka.perf.plans import PlanArrays
from wanka.perf.stages import LayerComm, slowest_stage, stage_layers, stage_params, stage_times
from wanka.workload.counts import flops_per_step
from wanka.workload.model import ModelSpec

__all__ = ["StepArrays", "evaluate", "plan_problems"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StepArrays:
    """Per-candidate results of `evaluate` (all arrays of equal length; SI units)."""

    valid: NDArray[np.bool_]
    """Plan is well formed for this model and size (degrees multiply to count, divisibility)."""
    fits: NDArray[np.bool_]
    """Valid and the peak stage's memory fits HBM minus the allocator margin."""
    step_time_s: F64
    tokens_per_s_per_gpu: F64
    model_tflops_per_gpu: F64
    """Megatron-accounted model FLOP/s per GPU, in TFLOP/s (1e12)."""
    mfu: F64
    """Model FLOP/s over the dense peak of the run's precision."""
    compute_s: F64
    recompute_s: F64
    bubble_s: F64
    exposed_tp_s: F64
    exposed_cp_s: F64
    exposed_ep_s: F64
    exposed_pp_s: F64
    exposed_dp_s: F64
    optimizer_s: F64
    overhead_s: F64
    """Framework overhead (per micro-batch and per step) from the calibration."""
    peak_memory_bytes: F64
    weights_bytes: F64
    grads_bytes: F64
    optimizer_bytes: F64
    activations_bytes: F64
    buffers_bytes: F64
    microbatches: F64

    def __len__(self) -> int:
        return int(self.step_time_s.shape[0])

    def row(self, i: int) -> dict[str, Any]:
        """Row `i` as plain Python scalars."""
        return {f.name: getattr(self, f.name)[i].item() for f in fields(self)}


def plan_problems(
    model: ModelSpec,
    plans: PlanArrays,
    i: int,
    *,
    count: int,
    global_batch_size: int,
    seq_len: int,
    strict_experts: bool = True,
) -> list[str]:
    """Why row `i` of `plans` is not valid (empty when it is): `wanka.parallel.layout_problems`."""
    problems = layout_problems(
        model,
        plans.take([i]),
        count=count,
        global_batch_size=global_batch_size,
        seq_len=seq_len,
        strict_experts=strict_experts,
    )
    return layout_reasons(problems, 0, fatal=True)


def pipeline_bubble(schedule: str, pp: F64, vpp: F64, t_mb: F64, t_bwd: F64) -> F64:
    """Pipeline bubble of one step, seconds (DeepSeek-V3 report, arXiv 2412.19437, Table 2, with F + B
    the micro-batch time `t_mb` and B its backward `t_bwd`, whose weight-gradient half is W = B / 2:
    the input- and weight-gradient GEMMs of a layer do equal FLOPs):
    1f1b (PP-1)(F+B), divided by vpp when interleaved (Narayanan et al. 2021, section 2.2.1);
    zb-h1 (PP-1)(F+B-2W) (Qi et al. 2024, zero bubble H1);
    dualpipe (PP/2-1)(F&B+B-3W), F&B = F+B (one forward and one backward chunk run together)."""
    if schedule == "zb-h1":
        return (pp - 1.0) * (t_mb - t_bwd)
    if schedule == "dualpipe":
        return np.maximum(pp / 2.0 - 1.0, 0.0) * (t_mb - 0.5 * t_bwd)
    return (pp - 1.0) / vpp * t_mb


def evaluate(
    model: ModelSpec,
    accelerator: Accelerator,
    plans: PlanArrays,
    *,
    count: int,
    gpus_per_node: int,
    global_batch_size: int,
    seq_len: int,
    precision: str,
    overlap: OverlapPolicy = DEFAULT_OVERLAP,
    fabric: Any = None,
    calibration: Calibration | None = None,
    strict_experts: bool = True,
) -> StepArrays:
    """Step time, throughput and per-stage memory of every plan in `plans` (arrays of len(plans)).

    Args:
        model: the architecture (one per call).
        accelerator: the chip, with its peaks and `software_efficiency`.
        plans: N candidate layouts.
        count: accelerators in the job; gpus_per_node: accelerators per server.
        global_batch_size: sequences per optimizer step; seq_len: tokens per sequence.
        precision: bf16 | fp16 | fp8 | fp8-blockwise | mxfp8 | nvfp4 (GEMMs of the transformer blocks).
        overlap: which communication hides behind compute (`OverlapPolicy`, defaults documented there).
        fabric: passed through to `wanka.topology.collective.collective_time`.
        calibration: efficiency constants; default the shipped `calibration.yaml`.
        strict_experts: require `ep * etp` to divide `tp * cp * dp` (Megatron-LM's rule); `predict` relaxes
            it for published runs that state such a layout (experts are then spread over ep ranks).

    Invalid plans (see `plan_problems`) come back with `valid == False`, `fits == False` and NaN times.
    """
    cal = calibration or default_calibration()
    problems = layout_problems(
        model,
        plans,
        count=count,
        global_batch_size=global_batch_size,
        seq_len=seq_len,
        strict_experts=strict_experts,
    )
    c = step_context(
        model,
        accelerator,
        plans,
        layout_valid(problems, len(plans)),
        count=count,
        gpus_per_node=gpus_per_node,
        global_batch_size=global_batch_size,
        seq_len=seq_len,
        precision=precision,
        overlap=overlap,
        fabric=fabric,
        cal=cal,
    )
    lt = layer_times(c)  # compute per layer
    comm = LayerComm(tp=tp_layer(c), cp=cp_layer(c, lt), ep=ep_layer(c, lt))
    sl = stage_layers(c)
    slow = slowest_stage(c, *stage_times(c, lt, comm, sl))
    pp_mb = pp_microbatch(c)
    compute_mb = slow["fwd"] + slow["bwd"]
    overhead_mb = cal.microbatch_overhead_s
    t_mb = compute_mb + slow["rc"] + slow["tp"] + slow["cp"] + slow["ep"] + pp_mb + overhead_mb
    bubble = pipeline_bubble(c.overlap.pp_schedule, c.pp, c.vpp, t_mb, slow["bwd"])
    par = stage_params(c, sl)
    t_dp = dp_exposed(c, par, slow, np.maximum(sl.n_first, sl.n_last), cal.main_grad_bytes)
    t_opt = optimizer_s(c, par)
    m = c.m
    step = m * t_mb + bubble + t_dp + t_opt + cal.step_overhead_s
    tokens = c.G * c.s / (step * count)
    tflops = float(flops_per_step(model, global_batch_size, seq_len)) / (step * count) / 1e12
    mem = memory(c, lt, sl, par)
    nan = np.where(c.valid, 1.0, np.nan)
    return StepArrays(
        valid=c.valid,
        fits=mem.fits,
        step_time_s=step * nan,
        tokens_per_s_per_gpu=tokens * nan,
        model_tflops_per_gpu=tflops * nan,
        mfu=tflops * 1e12 / c.peak_prec * nan,
        compute_s=m * compute_mb * nan,
        recompute_s=m * slow["rc"] * nan,
        bubble_s=bubble * nan,
        exposed_tp_s=m * slow["tp"] * nan,
        exposed_cp_s=m * slow["cp"] * nan,
        exposed_ep_s=m * slow["ep"] * nan,
        exposed_pp_s=m * pp_mb * nan,
        exposed_dp_s=t_dp * nan,
        optimizer_s=t_opt * nan,
        overhead_s=(m * overhead_mb + cal.step_overhead_s) * nan,
        peak_memory_bytes=mem.peak * nan,
        weights_bytes=mem.weights * nan,
        grads_bytes=mem.grads * nan,
        optimizer_bytes=mem.optimizer * nan,
        activations_bytes=mem.activations * nan,
        buffers_bytes=mem.buffers * nan,
        microbatches=m * nan,
    )
