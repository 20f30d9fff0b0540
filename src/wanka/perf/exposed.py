"""Communication terms of the step model and how much of each overlap hides: TP, CP, EP per layer,
PP per micro-batch, DP/FSDP per step, and the optimizer step.

Every collective is priced by `perf.comm.collective_s` (the one collective model,
`wanka.topology.collective`); group placement (members per scale-up domain) follows Megatron's rank
order tp-cp-ep-dp-pp (`perf.comm`). What hides behind compute is `OverlapPolicy` plus the calibrated
shares (`Calibration.tp_comm_hidden`, `ep_a2a_hidden`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wanka.perf.comm import collective_s, members_per_domain
from wanka.perf.context import BF16_BYTES, F64, StepContext
from wanka.perf.layer import LayerTimes

__all__ = [
    "FSDP_REDUCE_BYTES",
    "OPTIMIZER_BYTES_PER_PARAM",
    "PARAM_GATHER_BYTES",
    "StageParams",
    "cp_layer",
    "ddp_exposed_s",
    "dp_exposed",
    "ep_layer",
    "optimizer_s",
    "pp_microbatch",
    "tp_layer",
]

FSDP_REDUCE_BYTES = (
    2.0  # PyTorch FSDP MixedPrecision(reduce_dtype=bf16), the llm-foundry/torchtitan default
)
# Bytes per parameter of the distributed-optimizer / FSDP parameter all-gather (fp8_param_gather gathers fp8)
PARAM_GATHER_BYTES = {"fp8": 1.0, "mxfp8": 1.0 + 1.0 / 32}
OPTIMIZER_BYTES_PER_PARAM = 40.0  # Adam step per fp32 param: read grad 4, read+write master/m/v 24,
#                                   write bf16 param 2, grad-norm read 4, zero grad write 4, scale ~2


@dataclass(frozen=True, slots=True, kw_only=True)
class StageParams:
    """Parameters per GPU on the first and last pipeline stages: dense (TP-split), expert (EP x ETP)."""

    pd_first: F64
    pe_first: F64
    pd_last: F64
    pe_last: F64
    pd: F64
    """Dense parameters of the heavier stage."""
    pe: F64
    """Expert parameters of that stage."""


def _coll(c: StepContext, op: str, nbytes: Any, ranks: Any, rpn: Any) -> F64:
    return collective_s(op, nbytes, ranks, rpn, c.acc, fabric=c.fabric)


def tp_layer(c: StepContext) -> F64:
    """Exposed TP/SP collectives of one layer, forward and backward, one micro-batch."""
    tp, sp, cal = c.tp, c.sp, c.cal
    tp_rpn = members_per_domain(tp, c.one, c.D)
    act = c.act_bytes
    n_tp_fwd = np.where(c.rc == 2, 2.0, 1.0)  # full recompute repeats the forward collectives
    t_tp_sp = 2 * (
        _coll(c, "all-gather", act, tp, tp_rpn) + _coll(c, "reduce-scatter", act, tp, tp_rpn)
    )
    t_tp_ar = 2 * _coll(c, "all-reduce", act, tp, tp_rpn)
    t_tp_dir = np.where(sp, t_tp_sp, t_tp_ar)  # one direction (fwd or bwd), one layer
    # TE userbuffer TP overlap needs sequence parallelism (Megatron-core asserts `tp_comm_overlap` ->
    # `sequence_parallel`) and a TP group inside one NVLink domain (userbuffers use CUDA multicast/IPC
    # handles: "comm+GEMM overlap is currently only possible with single-node tensor-parallelism",
    # NVIDIA/TransformerEngine#1071; multi-node NVLink since TE PR #1470). So the calibrated share applies to
    # SP plans whose TP group fits the scale-up domain; an explicit policy is taken as is.
    tp_in_domain = tp_rpn >= tp
    tp_hidden = (
        np.where(sp & tp_in_domain, cal.tp_comm_hidden, 0.0)
        if c.overlap.tp_hidden is None
        else c.overlap.tp_hidden
    )
    return (1.0 - tp_hidden) * t_tp_dir * (1.0 + n_tp_fwd)


def cp_layer(c: StepContext, lt: LayerTimes) -> F64:
    """Exposed CP ring (K/V send-recv, forward and backward) of one attention layer."""
    cp = c.cp
    cp_in = members_per_domain(cp, c.tp, c.D) >= cp
    cp_rpn = np.where(cp_in, 2.0, 1.0)
    kv_chunk = c.T * lt.kv_bytes_per_token
    pair = np.where(cp > 1, 2.0, 1.0)
    t_cp_f = (cp - 1) * _coll(c, "send-recv", kv_chunk, pair, cp_rpn)
    t_cp_b = (cp - 1) * _coll(c, "send-recv", 2 * kv_chunk, pair, cp_rpn)
    if c.overlap.cp_overlap:
        out = np.maximum(0.0, t_cp_f - lt.t_attn_fwd) + np.maximum(0.0, t_cp_b - lt.t_attn_bwd)
    else:
        out = t_cp_f + t_cp_b
    return out * np.where(c.rc == 2, 1.5, 1.0)  # recomputed forward repeats the ring


def ep_layer(c: StepContext, lt: LayerTimes) -> F64:
    """Exposed MoE all-to-all (dispatch + combine, forward and backward) of one MoE layer."""
    if c.model.moe is None:
        return np.zeros_like(c.T)
    ep_rpn = members_per_domain(c.ep, c.etp, c.D)
    a2a_bytes = (c.T / c.spd) * float(c.model.moe.top_k) * c.h * BF16_BYTES * lt.imbalance
    t_a2a = _coll(c, "all-to-all", a2a_bytes, c.ep, ep_rpn)
    cal = c.cal
    if c.overlap.ep_hidden is not None:
        ep_hidden: Any = c.overlap.ep_hidden
    elif cal.ep_a2a_hidden_mnnvl is not None and c.D > c.gpn:
        # EP group inside a multi-node NVLink domain: HybridEP (see Calibration.ep_a2a_hidden_mnnvl)
        ep_hidden = np.where(ep_rpn >= c.ep, cal.ep_a2a_hidden_mnnvl, cal.ep_a2a_hidden)
    else:
        ep_hidden = cal.ep_a2a_hidden
    return (1.0 - ep_hidden) * t_a2a * (4.0 + np.where(c.rc == 2, 2.0, 0.0))


def pp_microbatch(c: StepContext) -> F64:
    """Exposed pipeline p2p per micro-batch: activation forward and gradient backward at every chunk
    boundary (vpp chunks per rank)."""
    pp = c.pp
    pp_stride = c.tp * c.cp * c.dp
    pp_rpn = np.where(members_per_domain(pp, pp_stride, c.D) >= 2, 2.0, 1.0)
    p2p = _coll(c, "send-recv", c.act_bytes / c.spd, np.where(pp > 1, 2.0, 1.0), pp_rpn)
    return np.where(pp > 1, (1.0 - c.overlap.pp_hidden) * 2.0 * c.vpp * p2p, 0.0)


def _dp_groups(c: StepContext) -> tuple[F64, F64, F64, F64]:
    """(dense gradient group DP x CP, expert-DP size, their members per scale-up domain)."""
    dpc = c.dp * c.cp
    edp = c.tp * c.cp * c.dp / (c.ep * c.etp)
    return dpc, edp, members_per_domain(dpc, c.tp, c.D), members_per_domain(edp, c.ep * c.etp, c.D)


def dp_exposed(
    c: StepContext,
    par: StageParams,
    slow: dict[str, F64],
    n_stage_layers: F64,
    main_grad_bytes: float,
) -> F64:
    """Exposed DP/FSDP communication per step, after the overlap with backward (and forward)."""
    dpc, edp, dp_rpn, edp_rpn = _dp_groups(c)
    pd, pe, ov, fsdp, m = par.pd, par.pe, c.overlap, c.fsdp, c.m
    grad_b = np.where(fsdp > 0, FSDP_REDUCE_BYTES, main_grad_bytes)
    ag_b = PARAM_GATHER_BYTES.get(c.precision, BF16_BYTES)

    def coll(op: str, per_param_bytes: Any, dense_mult: Any = 1.0) -> F64:
        return _coll(c, op, pd * per_param_bytes * dense_mult, dpc, dp_rpn) + _coll(
            c, op, pe * per_param_bytes * dense_mult, edp, edp_rpn
        )

    t_ar = coll("all-reduce", grad_b)
    t_rs = coll("reduce-scatter", grad_b)
    t_ag = coll("all-gather", ag_b)
    bwd_window = slow["bwd"] + slow["rc"]
    fwd_window = slow["fwd"]
    ddp_exposed = ddp_exposed_s(
        t_ar, t_rs, t_ag, c.dist_opt, ov, pd + pe, bwd_window=bwd_window, fwd_window=fwd_window
    )
    per_layer = 1.0 / np.maximum(n_stage_layers, 1.0)
    if ov.fsdp_overlap:
        # full: gather params before forward and again before backward, reduce-scatter grads, every micro-batch
        full_mb = np.maximum(t_ag * per_layer, t_ag - fwd_window) + np.maximum(
            (t_ag + t_rs) * per_layer, t_ag + t_rs - bwd_window
        )
        gradop_mb = np.maximum(t_rs * per_layer, t_rs - bwd_window)
    else:
        full_mb = 2 * t_ag + t_rs
        gradop_mb = t_rs
    return np.where(fsdp == 2, m * full_mb, np.where(fsdp == 1, m * gradop_mb + t_ag, ddp_exposed))


def ddp_exposed_s(
    t_ar: Any,
    t_rs: Any,
    t_ag: Any,
    dist_opt: Any,
    ov: Any,
    params: Any,
    *,
    bwd_window: Any,
    fwd_window: Any,
) -> Any:
    """Exposed data-parallel gradient (and, with the distributed optimizer, parameter) traffic of one
    stage holding `params` parameters. With `ov.dp_overlap` (Megatron `--overlap-grad-reduce` and
    `--overlap-param-gather`) the reduce(-scatter) hides behind the last micro-batch's backward
    (`bwd_window`) except the last bucket of `ov.dp_bucket_params`, the gather behind the first
    forward (`fwd_window`); without it the whole collective is exposed. The heterogeneous model
    (`perf.hetero`) prices its per-stage reductions with this same function."""
    bucket = np.minimum(1.0, ov.dp_bucket_params / np.maximum(params, 1.0))
    if ov.dp_overlap:
        return np.where(
            dist_opt,
            np.maximum(t_rs * bucket, t_rs - bwd_window)
            + np.maximum(t_ag * bucket, t_ag - fwd_window),
            np.maximum(t_ar * bucket, t_ar - bwd_window),
        )
    return np.where(dist_opt, t_rs + t_ag, t_ar)


def optimizer_s(c: StepContext, par: StageParams) -> F64:
    """The optimizer step (memory bound): Adam over the parameters this GPU updates."""
    dpc, edp, _, _ = _dp_groups(c)
    shard = np.where(c.dist_opt, 1.0, 0.0)
    local_params = par.pd / np.where(shard > 0, dpc, 1.0) + par.pe / np.where(shard > 0, edp, 1.0)
    return local_params * OPTIMIZER_BYTES_PER_PARAM / c.mem_rate
