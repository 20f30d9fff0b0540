"""Memory term of the step model: bytes per GPU on the first stage (activations of the micro-batches
in flight) and the last stage (logits), model states (weights, gradients, optimizer) by sharding mode,
and buffers; the peak decides whether a plan fits.

Activation bytes per token generalise Korthikanti et al. 2022 (arXiv 2205.05198, section 4.1, Table 2).
Micro-batches in flight follow Megatron-core's 1F1B and interleaved schedules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wanka.perf.context import BF16_BYTES, F64, StepContext
from wanka.perf.exposed import FSDP_REDUCE_BYTES, StageParams
from wanka.perf.layer import LayerTimes
from wanka.perf.stages import StageLayers
from wanka.workload.model import ModelSpec

__all__ = [
    "ADAM_MOMENT_BYTES",
    "ADAM_STATE_BYTES",
    "FSDP_PARAM_SHARD_BYTES",
    "FSDP_SAVED_QUANT_BYTES",
    "PARAM_BYTES",
    "Memory",
    "in_flight",
    "activation_bytes_per_token",
    "hybrid_activation_bytes_per_token",
    "memory",
]

ADAM_STATE_BYTES = (
    12.0  # fp32 master weight + 2 fp32 Adam moments (Rajbhandari et al. 2020, ZeRO sec. 3)
)
ADAM_MOMENT_BYTES = 8.0  # the two fp32 Adam moments alone (FSDP: the fp32 flat param is the master)
FSDP_PARAM_SHARD_BYTES = 4.0  # PyTorch FSDP keeps the sharded flat param in fp32 (MixedPrecision
#                                  casts a bf16 copy per all-gather); its sharded gradient has that dtype
# Resident bytes per parameter of the model weights by precision (Megatron-core + Transformer Engine):
# bf16/fp16: the bf16 param. fp8 (delayed / tensorwise current scaling) and mxfp8: Megatron-Bridge's
# `bf16_with_fp8_*_mixed()` / `bf16_with_mxfp8_mixed()` set fp8_param_gather=True, so the param *is* the TE
# quantised tensor (Float8Tensor: 1 B data + 1 B cached transpose; MXFP8Tensor: rowwise + columnwise 1 B
# each + one E8M0 scale per 32) and no bf16 copy is kept (the fp32 master lives in the optimizer).
# fp8-blockwise: `bf16_with_fp8_subchannel_scaling_mixed()` sets fp8_param_gather=False: bf16 param + TE's
# cached quantised weight workspace (rowwise + columnwise, 2 B). nvfp4: bf16 param + cached NVFP4
# rowwise + columnwise copies (0.5 B + one fp8 scale per 16 each).
PARAM_BYTES = {
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 2.0,
    "mxfp8": 2.0 + 2.0 / 32,
    "fp8-blockwise": 4.0,
    "nvfp4": 2.0 + 2 * (0.5 + 1.0 / 16),
}

# FSDP full with a bf16 param that Transformer Engine quantises at every forward (nvfp4; fp8-blockwise,
# whose recipe sets no fp8_param_gather): the gathered layer is quantised and its column-wise copy (the
# dgrad GEMM's operand) is saved for the backward (te.pytorch.module.linear `_Linear.forward`:
# weightmat.update_usage(columnwise_usage=True), saved with the activations). TE scatters that copy
# over the FSDP group only when `prepare_te_modules_for_fsdp` injects PyTorch FSDP1's group; otherwise
# every layer of the stage keeps its full copy from its forward to its backward: 0.5 B + one fp8 scale
# per 16 (nvfp4), 1 B + one fp32 scale per 128 x 128 block (fp8-blockwise) per parameter, unsharded.
FSDP_SAVED_QUANT_BYTES = {"nvfp4": 0.5 + 1.0 / 16, "fp8-blockwise": 1.0 + 4.0 / 128**2}


def activation_bytes_per_token(
    model: ModelSpec,
    tp: Any,
    spd: Any,
    *,
    moe_layer: bool,
    routed_tokens: Any = 0.0,
    etp: Any = 1.0,
    flash: bool = True,
    dropout: bool = False,
    seq_len: int | None = None,
    gemm_input_bytes: float = 2.0,
) -> F64:
    """Activation bytes stored per token per layer for the backward pass (no recompute).

    Generalises Korthikanti et al. 2022 (arXiv 2205.05198, section 4.1, Table 2) to GQA/MLA, gated MLPs
    and MoE. For a GPT layer (MHA, ffn = 4h, gelu, dropout) it gives exactly their
    sbh(10 + 24/t + 5as/(ht)) without sequence parallelism and sbh(34/t + 5as/(ht)) with it.
    `spd` divides the per-token replicated terms (= tp with sequence parallelism, else 1).
    `routed_tokens` = routed token copies per local token arriving at this GPU's experts (MoE layers).
    `gemm_input_bytes`: bytes per element of the saved inputs of the block GEMMs (2 for bf16; 1 when
    Transformer Engine keeps the fp8/fp4-quantised copy it already made for the forward GEMM).
    """
    gi = gemm_input_bytes / 2.0
    h, a = model.hidden, model.heads
    tp = np.asarray(tp, dtype=np.float64)
    spd = np.asarray(spd, dtype=np.float64)
    if model.mla is not None:
        dq = model.mla.qk_nope_head_dim + model.mla.qk_rope_head_dim
        dv = model.mla.v_head_dim
        kv_width = a * (dq + dv)  # MLA materialises per-head K and V for attention
    else:
        dq = dv = model.d_head
        kv_width = 2 * model.kv_heads * model.d_head
    repl = 2 * h + 2 * h * gi + 2 * h  # LN1 input, QKV input (LN1 out), LN2 input
    drop = 2 * h if dropout else 0  # attention and MLP dropout masks (1 byte each)
    split = (
        2 * a * dq  # Q
        + 2 * kv_width  # K, V
        + 2 * a * dv  # attention output (saved by flash attention)
        + (2 * a * dv * gi if gi < 1 else 0.0)
    )  # + its quantised copy saved by the projection GEMM
    if flash:
        split += 4 * a  # flash-attention log-sum-exp, fp32 per head
    else:
        split += (
            5 * a * (seq_len or model.seq_len)
        )  # softmax (2as) + dropout mask (as) + dropout out (2as)
    out = (repl + drop) / spd + split / tp
    ng = 2 if model.gated else 1
    if not moe_layer:
        f = model.ffn_hidden
        out = (
            out + 2 * h * gi / spd + (2 * ng * f + 2 * f * gi) / tp
        )  # fc1 input; activation input; fc2 input
        return out
    moe = model.moe
    assert moe is not None
    out = out + 2 * h / spd + 4 * moe.experts / spd  # router input (LN2 out), fp32 router probs
    routed = np.asarray(routed_tokens, dtype=np.float64)
    fe = moe.expert_ffn / np.asarray(etp, dtype=np.float64)
    # per routed copy: expert fc1 input, activation input, fc2 input and the fp32 routing prob. Megatron-core
    # applies the probs inside the expert activation (`activation_func_with_probs`, moe/experts.py), so the
    # un-permute is a plain scatter-add that saves nothing.
    out = out + routed * (2 * h * gi + 2 * ng * fe + 2 * fe * gi + 4)
    if moe.shared_experts:
        fs = moe.shared_experts * moe.shared_ffn
        out = out + (2 * ng * fs + 2 * fs * gi) / tp
    return out


def hybrid_activation_bytes_per_token(
    model: ModelSpec,
    tp: Any,
    spd: Any,
    *,
    routed_tokens: Any = 0.0,
    etp: Any = 1.0,
    gemm_input_bytes: float = 2.0,
) -> dict[str, F64]:
    """Activation bytes stored per token for one layer of each kind of a hybrid model ('M', '*', 'E', '-').

    The transformer terms are `activation_bytes_per_token` split at the block boundary (attention: LN1
    input, QKV input, Q/K/V, attention output, LSE; MLP: LN2 input, fc1 input, ...). A Mamba-2 layer saves
    (Megatron-core MambaMixer with mamba_ssm's fused kernels): its pre-norm input and in_proj input (h each,
    replicated unless sequence parallel), the in_proj output z|x|B|C|dt, the conv1d+SiLU output x|B|C, the
    scan's fp32 dA cumulative sums and dt (one per head each), the scan output y and the gated-norm output
    that feeds out_proj - all split over TP.
    """
    gi = gemm_input_bytes / 2.0
    h = model.hidden
    tp = np.asarray(tp, dtype=np.float64)
    spd = np.asarray(spd, dtype=np.float64)
    dense = activation_bytes_per_token(
        model, tp, spd, moe_layer=False, gemm_input_bytes=gemm_input_bytes
    )
    ng = 2 if model.gated else 1
    f = model.ffn_hidden
    dense_mlp = (
        2 * h / spd + 2 * h * gi / spd + (2 * ng * f + 2 * f * gi) / tp
    )  # LN2 in, fc1 in, act, fc2 in
    attention = dense - dense_mlp
    out: dict[str, F64] = {"*": attention, "-": dense_mlp}
    if model.moe is not None:
        moe_full = activation_bytes_per_token(
            model,
            tp,
            spd,
            moe_layer=True,
            routed_tokens=routed_tokens,
            etp=etp,
            gemm_input_bytes=gemm_input_bytes,
        )
        out["E"] = moe_full - attention  # LN2 and router inputs, routed copies, shared
    else:
        out["E"] = np.zeros_like(attention)
    if model.mamba is not None:
        mb = model.mamba
        out["M"] = (2 * h + 2 * h * gi) / spd + (
            2 * mb.in_proj_width
            + 2 * mb.conv_dim
            + 8 * mb.heads
            + 2 * mb.d_inner
            + 2 * mb.d_inner * gi
        ) / tp
    else:
        out["M"] = np.zeros_like(attention)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Memory:
    """Bytes per GPU of the stage with the larger total (first or last), by kind."""

    weights: F64
    grads: F64
    optimizer: F64
    activations: F64
    buffers: F64
    peak: F64
    fits: Any
    """Valid and the peak fits HBM minus the allocator margin."""


def _states(c: StepContext, pd_: F64, pe_: F64) -> tuple[F64, F64, F64]:
    """(weights, gradients, optimizer) bytes of a stage holding pd_ dense and pe_ expert parameters.

    DDP / distributed optimizer (Megatron-core): weights PARAM_BYTES[precision], grads
    cal.main_grad_bytes, optimizer 12 B (fp32 master + m + v), the latter sharded over DP x CP (experts:
    expert-DP) with the distributed optimizer. FSDP full (ZeRO-3; PyTorch FSDP as in llm-foundry): the
    sharded fp32 flat param (4 B, it is the master), its fp32 sharded grad (4 B) and the Adam moments (8 B)
    all divide by the sharding group: 16 B / dp (Megatron-FSDP: bf16 param 2 + grad 2 + fp32 master and
    moments 12 = the same 16 B / dp). FSDP grad_op (ZeRO-2): unsharded weights, sharded grads and states.
    """
    fsdp, dist_opt = c.fsdp, c.dist_opt
    dpc = c.dp * c.cp  # dense gradient group (DP x CP)
    edp = c.tp * c.cp * c.dp / (c.ep * c.etp)  # expert data-parallel size
    full_shard = fsdp == 2
    w_per = np.where(full_shard, FSDP_PARAM_SHARD_BYTES, PARAM_BYTES.get(c.precision, BF16_BYTES))
    g_per = np.where(fsdp > 0, FSDP_PARAM_SHARD_BYTES, c.cal.main_grad_bytes)
    o_per = np.where(full_shard, ADAM_MOMENT_BYTES, ADAM_STATE_BYTES)
    w = w_per * (pd_ / np.where(full_shard, dpc, 1.0) + pe_ / np.where(full_shard, edp, 1.0))
    g = g_per * (pd_ / np.where(fsdp > 0, dpc, 1.0) + pe_ / np.where(fsdp > 0, edp, 1.0))
    o = o_per * (pd_ / np.where(dist_opt, dpc, 1.0) + pe_ / np.where(dist_opt, edp, 1.0))
    return w, g, o


def _in_flight(c: StepContext) -> tuple[F64, F64]:
    """Micro-batches in flight on the first and last stage (units of one micro-batch through a stage).

    From Megatron-core's schedules (`get_pp_rank_microbatches`): 1F1B rank r runs pp - r - 1 warm-up
    forwards, so it holds pp - r (stage 0: pp, last stage: 1); the interleaved schedule warms up
    (pp - r - 1) * 2 + (vpp - 1) * pp model chunks (microbatch_group_size_per_vp_stage = pp), each 1/vpp of
    the stage, plus the one in progress: stage 0 holds pp + (pp - 1)/vpp (= Korthikanti et al. 2022 sec.
    4.2.3, pp (1 + (pp-1)/(pp v))), the last stage pp - (pp - 1)/vpp. Both are capped by the m vpp chunks
    of the step.
    """
    m, pp, vpp = c.m, c.pp, c.vpp
    in_flight_first = in_flight(m, pp, vpp, 0.0)
    in_flight_last = np.where(pp > 1, in_flight(m, pp, vpp, pp - 1.0), in_flight_first)
    return in_flight_first, in_flight_last


def in_flight(m: Any, pp: Any, vpp: Any, rank: Any) -> Any:
    """Micro-batches of activations pipeline rank `rank` holds at its peak (`_in_flight`): 1F1B
    min(m, pp - rank); interleaved (pp - rank - 1) * 2 + (vpp - 1) * pp + 1 chunks of 1/vpp, capped by
    the m vpp chunks of the step. Arrays broadcast; the heterogeneous model uses it per stage."""
    chunks = np.minimum(m * vpp, 2.0 * (pp - rank - 1.0) + (vpp - 1.0) * pp + 1.0) / vpp
    return np.where(vpp > 1, chunks, np.minimum(m, pp - rank))


def _activations(c: StepContext, lt: LayerTimes, sl: StageLayers) -> tuple[F64, F64]:
    """Activation bytes on the first and last stage (embedding output first, logits last)."""
    model, tp, spd, T, h, rc = c.model, c.tp, c.spd, c.T, c.h, c.rc
    gib = 1.0 if c.lowp else BF16_BYTES  # TE saves the quantised GEMM inputs
    act_dense = activation_bytes_per_token(model, tp, spd, moe_layer=False, gemm_input_bytes=gib)
    act_moe = (
        activation_bytes_per_token(
            model, tp, spd, moe_layer=True, routed_tokens=lt.routed, etp=c.etp, gemm_input_bytes=gib
        )
        if model.moe is not None
        else act_dense
    )
    ckpt = 2 * h / spd  # full recompute keeps each layer's input
    in_flight_first, in_flight_last = _in_flight(c)

    def acts(n: F64, k_d: F64, in_flight: F64) -> F64:
        per_mb = (k_d * act_dense + (n - k_d) * act_moe) * T
        one_layer = np.maximum(act_dense, act_moe) * T
        # selective recompute with flash attention stores what `none` stores (Q, K, V are kept for the
        # recomputation); the 5as/h softmax term it removes does not exist with flash attention.
        # Full recompute keeps each layer's input per micro-batch in flight plus one layer's working set.
        full = np.minimum(per_mb * in_flight, n * ckpt * T * in_flight + one_layer)
        return np.where(rc == 2, full, per_mb * in_flight)

    if sl.counts is not None:
        act_kind = hybrid_activation_bytes_per_token(
            model, tp, spd, routed_tokens=lt.routed, etp=c.etp, gemm_input_bytes=gib
        )

        def hacts(cnt: dict[str, F64], n: F64, in_flight: F64) -> F64:
            per_mb = sum(cnt[k] * act_kind[k] for k in act_kind) * T
            one_layer = (
                np.maximum.reduce([np.broadcast_to(act_kind[k], T.shape) for k in act_kind]) * T
            )
            full_rc = np.minimum(per_mb * in_flight, n * ckpt * T * in_flight + one_layer)
            return np.where(rc == 2, full_rc, per_mb * in_flight)

        act_first = (
            hacts(sl.counts[0], sl.n_first, in_flight_first) + 2 * h / spd * T * in_flight_first
        )
        act_last_layers = hacts(sl.counts[1], sl.n_last, in_flight_last)
    else:
        act_first = (
            acts(sl.n_first, sl.k_first, in_flight_first) + 2 * h / spd * T * in_flight_first
        )  # + embedding out
        act_last_layers = acts(sl.n_last, sl.k_last, in_flight_last)
    # bf16 logits + the loss gradient (fp32, or bf16 with a fused cross-entropy), one micro-batch
    logits = T * c.V / tp * (BF16_BYTES + c.overlap.loss_grad_bytes)
    act_last = act_last_layers + logits
    act_first = act_first + np.where(c.pp == 1, logits, 0.0)  # one stage holds both ends
    return act_first, act_last


def _saved_quantised(c: StepContext, params: F64, layers: F64) -> F64:
    """Bytes of the quantised weight copies a stage of `params` parameters and `layers` layers saves for
    the backward under FSDP full (`FSDP_SAVED_QUANT_BYTES`): every layer's without recompute, the one
    layer being recomputed with full recompute (the checkpointed forward saves nothing)."""
    q = FSDP_SAVED_QUANT_BYTES.get(c.precision, 0.0) * params
    q = np.where(c.rc == 2, q / np.maximum(layers, 1.0), q)
    return np.where(c.fsdp == 2, q, 0.0)


def memory(c: StepContext, lt: LayerTimes, sl: StageLayers, par: StageParams) -> Memory:
    """Peak bytes per GPU and its parts, on the heavier of the first and last stage."""
    act_first, act_last = _activations(c, lt, sl)
    act_first = act_first + _saved_quantised(c, par.pd_first + par.pe_first, sl.n_first)
    act_last = act_last + _saved_quantised(c, par.pd_last + par.pe_last, sl.n_last)
    w_f, g_f, o_f = _states(c, par.pd_first, par.pe_first)
    w_l, g_l, o_l = _states(c, par.pd_last, par.pe_last)
    # FSDP: two unsharded layers (the current one and the prefetched next, `limit_all_gathers`), each with
    # its bf16 gathered params and, in backward, its unsharded bf16 gradient before the reduce-scatter
    per_layer = 1.0 / np.maximum(np.maximum(sl.n_first, sl.n_last), 1.0)
    fsdp_buf = np.where(
        c.fsdp == 2, 2 * (par.pd + par.pe) * per_layer * (BF16_BYTES + FSDP_REDUCE_BYTES), 0.0
    )
    tp_buf = np.where(c.tp > 1, 2 * c.act_bytes, 0.0)  # all-gather output buffers (SP)
    buffers = c.cal.runtime_reserved_bytes + tp_buf + fsdp_buf
    tot_first = w_f + g_f + o_f + act_first + buffers
    tot_last = w_l + g_l + o_l + act_last + buffers
    use_l = tot_last > tot_first
    peak = np.maximum(tot_first, tot_last)
    return Memory(
        weights=np.where(use_l, w_l, w_f),
        grads=np.where(use_l, g_l, g_f),
        optimizer=np.where(use_l, o_l, o_f),
        activations=np.where(use_l, act_last, act_first),
        buffers=buffers,
        peak=peak,
        fits=c.valid & (peak <= c.acc.hbm_bytes * (1.0 - c.cal.allocator_margin)),
    )
