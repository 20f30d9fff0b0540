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

Glossary: T = b * s / cp tokens of one micro-batch on one GPU; spd = tp when sequence parallel (the
replicated, per-token work is split over TP ranks), else 1; "layer" = one transformer block.
Formulas and their sources are in docs/perf-model.md and next to each term below.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wanka.hardware import Accelerator
from wanka.parallel import layout_problems, layout_reasons, layout_valid
from wanka.perf.comm import collective_s, members_per_domain, scaleup_domain_size
from wanka.perf.params import Calibration, OverlapPolicy, default_calibration
from wanka.perf.plans import PlanArrays
from wanka.workload.counts import flops_per_step, hybrid_layer_split, layer_split
from wanka.workload.model import ModelSpec

__all__ = [
    "StepArrays",
    "activation_bytes_per_token",
    "evaluate",
    "gemm_efficiency",
    "hybrid_activation_bytes_per_token",
    "plan_problems",
]

F64 = NDArray[np.float64]
BF16_BYTES = 2.0
FP32_BYTES = 4.0
ADAM_STATE_BYTES = (
    12.0  # fp32 master weight + 2 fp32 Adam moments (Rajbhandari et al. 2020, ZeRO sec. 3)
)
ADAM_MOMENT_BYTES = 8.0  # the two fp32 Adam moments alone (FSDP: the fp32 flat param is the master)
FSDP_PARAM_SHARD_BYTES = 4.0  # PyTorch FSDP keeps the sharded flat param in fp32 (MixedPrecision
#                                  casts a bf16 copy per all-gather); its sharded gradient has that dtype
FSDP_REDUCE_BYTES = (
    2.0  # PyTorch FSDP MixedPrecision(reduce_dtype=bf16), the llm-foundry/torchtitan default
)
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
# Bytes per parameter of the distributed-optimizer / FSDP parameter all-gather (fp8_param_gather gathers fp8)
PARAM_GATHER_BYTES = {"fp8": 1.0, "mxfp8": 1.0 + 1.0 / 32}
OPTIMIZER_BYTES_PER_PARAM = 40.0  # Adam step per fp32 param: read grad 4, read+write master/m/v 24,
#                                   write bf16 param 2, grad-norm read 4, zero grad write 4, scale ~2
CE_BYTES_PER_LOGIT = (
    12.0  # vocab-parallel cross-entropy fwd+bwd: read bf16 logits, fp32 softmax, grad
)


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


# --------------------------------------------------------------------------------------------- shapes
def gemm_efficiency(m: Any, n: Any, k: Any, cal: Calibration) -> F64:
    """Shape factor of a GEMM (M x K) @ (K x N), in (0, 1]; multiplies software_efficiency.gemm.

    Tile quantisation: each dimension is padded to a multiple of `gemm_tile` (work on the padding is
    wasted; NVIDIA Deep Learning Performance Guide, "Matrix Multiplication Background", tile/wave
    quantisation). Small-GEMM penalty: each dimension x scales throughput by x / (x + gemm_half_dim)
    (too little work per tile to hide load latency; a saturating fit of the same guide's curves).
    """
    out = np.ones(np.broadcast_shapes(np.shape(m), np.shape(n), np.shape(k)))
    c, tile = cal.gemm_half_dim, float(cal.gemm_tile)
    for x in (m, n, k):
        x = np.maximum(np.asarray(x, dtype=np.float64), 1.0)
        out = out * (x / (np.ceil(x / tile) * tile)) * (x / (x + c))
    return out


def _gemm_s(m: Any, n: Any, k: Any, rate: float, cal: Calibration, factor: float = 1.0) -> F64:
    """Seconds of a GEMM of M x N x K at `rate` FLOP/s (already times software efficiency)."""
    return 2.0 * m * n * k / (rate * factor * gemm_efficiency(m, n, k, cal))


# --------------------------------------------------------------------------------------------- memory
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


def _hybrid_stage_counts(
    pattern: str, n_first: F64, n_last: F64, n_mid: F64
) -> tuple[dict[str, F64], ...]:
    """Layers of each kind on the first, last and second (a middle) pipeline stage, pattern order."""
    L = len(pattern)
    cum = {
        c: np.concatenate([[0.0], np.cumsum([ch == c for ch in pattern], dtype=np.float64)])
        for c in "M*-E"
    }

    def at(i: F64) -> F64:
        return np.clip(i, 0, L).astype(np.int64)

    first = {c: cum[c][at(n_first)] for c in cum}
    last = {c: cum[c][L] - cum[c][at(L - n_last)] for c in cum}
    mid = {c: cum[c][at(n_first + n_mid)] - cum[c][at(n_first)] for c in cum}
    return first, last, mid


# --------------------------------------------------------------------------------------------- validity
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


def _plan_floats(plans: PlanArrays) -> dict[str, F64]:
    f = np.float64
    return {
        "tp": plans.tp.astype(f),
        "pp": plans.pp.astype(f),
        "vpp": plans.vpp.astype(f),
        "cp": plans.cp.astype(f),
        "ep": plans.ep.astype(f),
        "etp": plans.etp.astype(f),
        "dp": plans.dp.astype(f),
        "b": plans.micro_batch_size.astype(f),
    }


# --------------------------------------------------------------------------------------------- evaluate
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
    overlap: OverlapPolicy = OverlapPolicy(),
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
    acc = accelerator
    se = acc.software_efficiency
    G, s = float(global_batch_size), float(seq_len)
    L = model.layers
    h, a, V = float(model.hidden), float(model.heads), float(model.vocab)
    ng = 2.0 if model.gated else 1.0  # fc1 output width multiplier (gate + up)

    # ---- rates -----------------------------------------------------------------------------------
    peak_bf16 = acc.peak("bf16")
    peak_prec = acc.peak(precision)
    lowp = precision not in ("bf16", "fp16")
    speedup = (
        min(cal.lowp_gemm_speedup.get(precision, peak_prec / peak_bf16), peak_prec / peak_bf16)
        if lowp
        else 1.0
    )
    block_rate = (
        peak_prec if not lowp else peak_bf16 * speedup
    ) * se.gemm  # transformer-block GEMMs
    bf16_rate = peak_bf16 * se.gemm  # router, LM head: kept in bf16 (TE default)
    attn_rate = peak_bf16 * se.attention  # flash attention runs bf16 (fp8 DPA off by default)
    mem_rate = max(acc.hbm_bw_bytes_per_s, 1.0) * se.memory_bw
    D = scaleup_domain_size(acc, gpus_per_node)

    # ---- plans, validity --------------------------------------------------------------------------
    p = _plan_floats(plans)
    problems = layout_problems(
        model,
        plans,
        count=count,
        global_batch_size=global_batch_size,
        seq_len=seq_len,
        strict_experts=strict_experts,
    )
    valid = layout_valid(problems, len(plans))
    one = np.ones(len(plans))
    tp, pp, vpp, cp, ep, etp, dp, b = (
        np.where(valid, p[k], one) for k in ("tp", "pp", "vpp", "cp", "ep", "etp", "dp", "b")
    )
    sp = plans.sequence_parallel & (tp > 1)
    spd = np.where(sp, tp, 1.0)
    fsdp, rc = plans.fsdp, plans.recompute
    dist_opt = plans.distributed_optimizer | (fsdp > 0)
    m = G / (b * dp)  # micro-batches per step
    T = b * s / cp  # tokens of one micro-batch on one GPU

    # ---- attention block, per layer, forward, one micro-batch -----------------------------------
    if model.mla is not None:
        ml = model.mla
        dq, dv = float(ml.qk_nope_head_dim + ml.qk_rope_head_dim), float(ml.v_head_dim)
        if ml.q_lora_rank:
            t_q = (
                _gemm_s(T, ml.q_lora_rank, h, block_rate, cal)  # q down (replicated)
                + _gemm_s(T, a * dq / tp, ml.q_lora_rank, block_rate, cal)
            )  # q up
        else:
            t_q = _gemm_s(T, a * dq / tp, h, block_rate, cal)
        t_kv = (
            _gemm_s(
                T, ml.kv_lora_rank + ml.qk_rope_head_dim, h, block_rate, cal
            )  # kv down (replicated)
            + _gemm_s(T, a * (ml.qk_nope_head_dim + dv) / tp, ml.kv_lora_rank, block_rate, cal)
        )
        t_proj = t_q + t_kv + _gemm_s(T, h, a * dv / tp, block_rate, cal)
        kv_bytes_per_token = a * (dq + dv) * BF16_BYTES / tp  # CP ring payload
        rope_elems = 2 * (a + 1) * ml.qk_rope_head_dim / tp
    else:
        d = float(model.d_head)
        dq = dv = d
        kvh = float(model.kv_heads)
        t_proj = (
            _gemm_s(T, (a + 2 * kvh) * d / tp, h, block_rate, cal)  # QKV
            + _gemm_s(T, h, a * d / tp, block_rate, cal)
        )  # output projection
        kv_bytes_per_token = 2 * kvh * d * BF16_BYTES / tp
        rope_elems = 2 * (a + kvh) * d / tp
    # Flash attention, causal: each of the T local queries sees s/2 keys on average (load-balanced CP).
    hd = cal.attention_head_dim_half
    hd_factor = (dq / (dq + hd)) / (128.0 / (128.0 + hd))
    attn_fwd_flops = 2.0 * T * (s / 2.0) * (a / tp) * (dq + dv)  # QK^T + AV
    t_attn_fwd = attn_fwd_flops / (attn_rate * hd_factor)
    t_attn_bwd = 2.5 * t_attn_fwd  # flash backward: 5 matmuls (incl. recomputed QK^T) vs 2 forward

    # memory-bound elementwise work per token (elements; x2 bytes): norms, residuals, rotary, casts
    elem_attn = (
        2 * h + 3 * h
    ) / spd + rope_elems  # LN1 read+write; residual add (2 in, 1 out); RoPE
    elem_mlp_common = (2 * h + 3 * h) / spd  # LN2; residual add
    if lowp:  # quantise GEMM inputs (read 2 B, write 1 B = 1.5 element-equivalents)
        elem_attn = elem_attn + 1.5 * (h / spd + a * dv / tp)
        elem_mlp_common = elem_mlp_common + 1.5 * h / spd

    # ---- MLP, per layer, forward ---------------------------------------------------------------
    f = float(model.ffn_hidden)
    t_dense_mlp = _gemm_s(T, ng * f / tp, h, block_rate, cal) + _gemm_s(
        T, h, f / tp, block_rate, cal
    )
    elem_dense_mlp = elem_mlp_common + (ng + 1) * f / tp + (1.5 * f / tp if lowp else 0.0)
    if model.moe is not None:
        moe = model.moe
        E, k = float(moe.experts), float(moe.top_k)
        imb = (
            cal.moe_load_imbalance
            if moe.capacity_factor is None
            else min(cal.moe_load_imbalance, moe.capacity_factor)
        )
        routed = k * etp / tp * imb  # routed token copies per local token (busiest rank)
        m_tot = T * routed  # rows through this GPU's experts
        m_exp = m_tot / (E / ep)  # rows per local expert (grouped GEMM)
        fe = moe.expert_ffn / etp
        t_experts = 2 * m_tot * ng * fe * h / (
            block_rate * cal.moe_grouped_gemm * gemm_efficiency(m_exp, ng * fe, h, cal)
        ) + 2 * m_tot * h * fe / (
            block_rate * cal.moe_grouped_gemm * gemm_efficiency(m_exp, h, fe, cal)
        )
        t_router = _gemm_s(T / spd, E, h, bf16_rate, cal)
        t_shared = 0.0
        elem_shared = 0.0
        if moe.shared_experts:
            fs = float(moe.shared_experts * moe.shared_ffn)
            t_shared = _gemm_s(T, ng * fs / tp, h, block_rate, cal) + _gemm_s(
                T, h, fs / tp, block_rate, cal
            )
            elem_shared = (ng + 1) * fs / tp
        t_moe_mlp = t_experts + t_router + t_shared
        elem_moe_mlp = (
            elem_mlp_common
            + 6 * E / spd  # router softmax/top-k (fp32)
            + routed
            * (5 * h + (ng + 1) * fe + (1.5 * (h + fe) if lowp else 0.0))  # (un)permute, act
            + elem_shared
        )
    else:
        t_moe_mlp = np.zeros_like(T)
        elem_moe_mlp = np.zeros_like(T)
        routed = np.zeros_like(T)

    # ---- Mamba-2 mixer (hybrid 'M' layers), per layer, forward ------------------------------------
    # Megatron-core MambaMixer: in_proj column-parallel (z, x, B, C, dt split over TP: heads and groups),
    # causal depthwise conv1d + SiLU on x, B, C, SSD chunked scan, gated RMSNorm, out_proj row-parallel.
    if model.mamba is not None:
        mb = model.mamba
        di, nh, gn = float(mb.d_inner), float(mb.heads), float(mb.groups * mb.state_size)
        t_mamba_gemm = (
            _gemm_s(T, mb.in_proj_width / tp, h, block_rate, cal)  # in_proj
            + _gemm_s(T, h, di / tp, block_rate, cal)
        )  # out_proj
        # SSD forward FLOPs per token (Dao & Gu 2024, section 6, chunk Q): C B^T per group (Q*N), the masked
        # (C B^T) X per head (Q*P), chunk states B^T X and state-to-output C h per head (2*N*P); x2 fma.
        q_c, n_st, p_hd = float(mb.chunk_size), float(mb.state_size), float(mb.head_dim)
        ssd_flops = 2.0 * T * (mb.groups * q_c * n_st + nh * (q_c * p_hd + 2.0 * n_st * p_hd)) / tp
        ssd_elems = (
            2.0 * di + 2.0 * gn + nh
        ) / tp + 2.0 * nh / tp  # read x, B, C, dt, write y; fp32 dA
        t_ssd = np.maximum(
            ssd_flops / (attn_rate * cal.ssd_efficiency), ssd_elems * BF16_BYTES * T / mem_rate
        )
        elem_mamba = (
            (2 * h + 3 * h) / spd  # pre-norm; residual add
            + 2.0 * (di + 2.0 * gn) / tp  # conv1d + SiLU read/write
            + 4.0 * di / tp
        )  # gated norm: read y, z; write
        if lowp:
            elem_mamba = elem_mamba + 1.5 * (h / spd + di / tp)  # quantise GEMM inputs
        t_mamba_mem = elem_mamba * BF16_BYTES * T / mem_rate
        mamba_fwd = t_mamba_gemm + t_ssd + t_mamba_mem
        mamba_bwd = (
            2.0 * t_mamba_gemm + 2.5 * t_ssd + 2.0 * t_mamba_mem
        )  # SSD backward: as flash, 2.5x
    else:
        mamba_fwd = mamba_bwd = np.zeros_like(T)

    # ---- per-layer times (forward; backward = 2x GEMMs, 2.5x attention, 2x elementwise) ----------
    def fwd_bwd(t_gemm: F64, elems: F64) -> tuple[F64, F64]:
        t_mem = elems * BF16_BYTES * T / mem_rate
        fwd = t_gemm + t_mem + t_attn_fwd
        bwd = 2.0 * t_gemm + 2.0 * t_mem + t_attn_bwd
        return fwd, bwd

    dense_fwd, dense_bwd = fwd_bwd(t_proj + t_dense_mlp, elem_attn + elem_dense_mlp)
    moe_fwd, moe_bwd = fwd_bwd(t_proj + t_moe_mlp, elem_attn + elem_moe_mlp)
    # recompute: full = the whole forward again; selective = core attention forward (Korthikanti sec. 5)
    dense_rc = np.where(rc == 2, dense_fwd, np.where(rc == 1, t_attn_fwd, 0.0))
    moe_rc = np.where(rc == 2, moe_fwd, np.where(rc == 1, t_attn_fwd, 0.0))

    # ---- communication per layer per micro-batch -------------------------------------------------
    tp_rpn = members_per_domain(tp, one, D)
    act_bytes = T * h * BF16_BYTES  # one [b, s/cp, h] activation, full buffer
    n_tp_fwd = np.where(rc == 2, 2.0, 1.0)  # full recompute repeats the forward collectives
    t_tp_sp = 2 * (
        collective_s("all-gather", act_bytes, tp, tp_rpn, acc, fabric=fabric)
        + collective_s("reduce-scatter", act_bytes, tp, tp_rpn, acc, fabric=fabric)
    )
    t_tp_ar = 2 * collective_s("all-reduce", act_bytes, tp, tp_rpn, acc, fabric=fabric)
    t_tp_dir = np.where(sp, t_tp_sp, t_tp_ar)  # one direction (fwd or bwd), one layer
    # TE userbuffer TP overlap needs sequence parallelism (Megatron-core asserts `tp_comm_overlap` ->
    # `sequence_parallel`) and a TP group inside one NVLink domain (userbuffers use CUDA multicast/IPC
    # handles: "comm+GEMM overlap is currently only possible with single-node tensor-parallelism",
    # NVIDIA/TransformerEngine#1071; multi-node NVLink since TE PR #1470). So the calibrated share applies to
    # SP plans whose TP group fits the scale-up domain; an explicit policy is taken as is.
    tp_in_domain = tp_rpn >= tp
    tp_hidden = (
        np.where(sp & tp_in_domain, cal.tp_comm_hidden, 0.0)
        if overlap.tp_hidden is None
        else overlap.tp_hidden
    )
    tp_layer = (1.0 - tp_hidden) * t_tp_dir * (1.0 + n_tp_fwd)

    cp_in = members_per_domain(cp, tp, D) >= cp
    cp_rpn = np.where(cp_in, 2.0, 1.0)
    kv_chunk = T * kv_bytes_per_token
    t_cp_f = (cp - 1) * collective_s(
        "send-recv", kv_chunk, np.where(cp > 1, 2.0, 1.0), cp_rpn, acc, fabric=fabric
    )
    t_cp_b = (cp - 1) * collective_s(
        "send-recv", 2 * kv_chunk, np.where(cp > 1, 2.0, 1.0), cp_rpn, acc, fabric=fabric
    )
    if overlap.cp_overlap:
        cp_layer = np.maximum(0.0, t_cp_f - t_attn_fwd) + np.maximum(0.0, t_cp_b - t_attn_bwd)
    else:
        cp_layer = t_cp_f + t_cp_b
    cp_layer = cp_layer * np.where(rc == 2, 1.5, 1.0)  # recomputed forward repeats the ring

    if model.moe is not None:
        ep_rpn = members_per_domain(ep, etp, D)
        a2a_bytes = (T / spd) * float(model.moe.top_k) * h * BF16_BYTES * imb
        t_a2a = collective_s("all-to-all", a2a_bytes, ep, ep_rpn, acc, fabric=fabric)
        ep_hidden = cal.ep_a2a_hidden if overlap.ep_hidden is None else overlap.ep_hidden
        ep_layer = (
            (1.0 - ep_hidden) * t_a2a * (4.0 + np.where(rc == 2, 2.0, 0.0))
        )  # dispatch+combine, fwd+bwd
    else:
        ep_layer = np.zeros_like(T)

    # ---- pipeline stages: layers, embedding on the first, head + loss on the last ----------------
    n_hi = np.ceil(L / pp)
    n_lo = np.floor(L / pp)
    rem = L - n_lo * pp  # stages 0..rem-1 take one extra layer
    n_first = np.where(rem > 0, n_hi, n_lo)
    n_last = np.where(pp == 1, float(L), np.where(rem > 0, n_lo, n_hi))
    n_mid = np.where(rem > 1, n_hi, n_lo)
    n_dense_layers = float(model.dense_mlp_layers)  # leading dense-MLP layers (DeepSeek style)
    k_first = np.minimum(n_dense_layers, n_first)
    k_last = np.where(pp == 1, n_dense_layers, np.maximum(0.0, n_dense_layers - (L - n_last)))

    head_gemm = _gemm_s(
        T, np.ceil(V / (128 * tp)) * 128, h, bf16_rate, cal
    )  # vocab padded to 128*tp
    head_mem = (
        CE_BYTES_PER_LOGIT * T * V / tp + 4 * h * BF16_BYTES * T / spd
    ) / mem_rate  # CE + final norm
    head_fwd = head_gemm + head_mem / 2
    head_bwd = 2 * head_gemm + head_mem / 2
    emb = 3 * T * h * BF16_BYTES / spd / mem_rate  # lookup write + fp32 grad scatter-add

    moe_host = cal.moe_layer_overhead_s if model.moe is not None else 0.0

    def stage(n: F64, k_d: F64) -> dict[str, F64]:
        n_m = n - k_d
        return {
            "fwd": k_d * dense_fwd + n_m * moe_fwd,
            "bwd": k_d * dense_bwd + n_m * (moe_bwd + moe_host),
            "rc": k_d * dense_rc + n_m * moe_rc,
            "tp": n * tp_layer,
            "cp": n * cp_layer,
            "ep": n_m * ep_layer,
        }

    if model.layer_pattern is not None:
        # Hybrid: each layer is one block. Per-kind per-layer times; TP collectives once per block (half of
        # a transformer layer's two); CP ring only on attention; all-to-all only on MoE layers.
        cnt_first, cnt_last, cnt_mid = _hybrid_stage_counts(
            model.layer_pattern, n_first, n_last, n_mid
        )
        t_mem_attn = elem_attn * BF16_BYTES * T / mem_rate
        t_mem_dense = elem_dense_mlp * BF16_BYTES * T / mem_rate
        t_mem_moe = elem_moe_mlp * BF16_BYTES * T / mem_rate
        attn_f, attn_b = (
            t_proj + t_attn_fwd + t_mem_attn,
            2.0 * t_proj + t_attn_bwd + 2.0 * t_mem_attn,
        )
        dmlp_f, dmlp_b = t_dense_mlp + t_mem_dense, 2.0 * t_dense_mlp + 2.0 * t_mem_dense
        emlp_f, emlp_b = t_moe_mlp + t_mem_moe, 2.0 * t_moe_mlp + 2.0 * t_mem_moe
        full = rc == 2
        kinds = {  # symbol: (fwd, bwd, recompute)
            "M": (mamba_fwd, mamba_bwd, np.where(full, mamba_fwd, 0.0)),
            "*": (attn_f, attn_b, np.where(full, attn_f, np.where(rc == 1, t_attn_fwd, 0.0))),
            "-": (dmlp_f, dmlp_b, np.where(full, dmlp_f, 0.0)),
            "E": (emlp_f, emlp_b + moe_host, np.where(full, emlp_f, 0.0)),
        }

        def hstage(cnt: dict[str, F64], n: F64) -> dict[str, F64]:
            return {
                "fwd": sum(cnt[c] * kinds[c][0] for c in kinds),
                "bwd": sum(cnt[c] * kinds[c][1] for c in kinds),
                "rc": sum(cnt[c] * kinds[c][2] for c in kinds),
                "tp": n * tp_layer / 2.0,
                "cp": cnt["*"] * cp_layer,
                "ep": cnt["E"] * ep_layer,
            }

        first, last, mid = (
            hstage(cnt_first, n_first),
            hstage(cnt_last, n_last),
            hstage(cnt_mid, n_mid),
        )
    else:
        first = stage(n_first, k_first)
        last = stage(n_last, k_last)
        mid = stage(n_mid, np.zeros_like(n_mid))
    first["fwd"] = first["fwd"] + emb / 3
    first["bwd"] = first["bwd"] + 2 * emb / 3
    last["fwd"] = last["fwd"] + head_fwd
    last["bwd"] = last["bwd"] + head_bwd
    if model.mtp_layers:
        last["fwd"] = last["fwd"] + model.mtp_layers * (moe_fwd + head_fwd)
        last["bwd"] = last["bwd"] + model.mtp_layers * (moe_bwd + head_bwd)

    def total(st: dict[str, F64]) -> F64:
        return st["fwd"] + st["bwd"] + st["rc"] + st["tp"] + st["cp"] + st["ep"]

    t_first, t_last, t_mid = total(first), total(last), np.where(pp > 2, total(mid), 0.0)
    use_last = t_last > t_first
    slow = {k2: np.where(use_last, last[k2], first[k2]) for k2 in first}
    use_mid = t_mid > np.maximum(t_first, t_last)
    slow = {k2: np.where(use_mid, mid[k2], slow[k2]) for k2 in slow}

    # pipeline p2p: forward activation and backward gradient at every chunk boundary
    pp_stride = tp * cp * dp
    pp_rpn = np.where(members_per_domain(pp, pp_stride, D) >= 2, 2.0, 1.0)
    p2p = collective_s(
        "send-recv", act_bytes / spd, np.where(pp > 1, 2.0, 1.0), pp_rpn, acc, fabric=fabric
    )
    pp_mb = np.where(pp > 1, (1.0 - overlap.pp_hidden) * 2.0 * vpp * p2p, 0.0)

    compute_mb = slow["fwd"] + slow["bwd"]
    overhead_mb = cal.microbatch_overhead_s
    t_mb = compute_mb + slow["rc"] + slow["tp"] + slow["cp"] + slow["ep"] + pp_mb + overhead_mb
    bubble = (pp - 1.0) / vpp * t_mb  # 1F1B: (p-1) t_mb; interleaved: /vpp

    # ---- parameters per GPU on the heaviest stage ------------------------------------------------
    split = layer_split(model)
    p_attn, p_dense_mlp, p_shared, p_experts = (
        split.attention,
        split.dense_mlp,
        split.moe_replicated,
        split.experts,
    )
    p_emb = V * h
    head_params = 0.0 if (model.tied_embeddings) else p_emb
    if model.learned_positions:
        p_emb += s * h

    def stage_params(n: F64, k_d: F64, first_stage: Any, last_stage: Any) -> tuple[F64, F64]:
        n_m = n - k_d
        dense = (
            n * p_attn
            + k_d * p_dense_mlp
            + n_m * p_shared
            + np.where(first_stage, p_emb, 0.0)
            + np.where(
                last_stage,
                np.where(pp > 1, p_emb if model.tied_embeddings else head_params, head_params) + h,
                0.0,
            )
        )
        expert = n_m * p_experts
        return dense / tp, expert / (ep * etp)  # per-GPU dense (TP-split), expert (EP x ETP split)

    if model.layer_pattern is not None:
        hp = hybrid_layer_split(model)

        def hstage_params(
            cnt: dict[str, F64], first_stage: Any, last_stage: Any
        ) -> tuple[F64, F64]:
            dense = (
                sum(cnt[c] * hp[c] for c in "M*-E")
                + np.where(first_stage, p_emb, 0.0)
                + np.where(
                    last_stage,
                    np.where(pp > 1, p_emb if model.tied_embeddings else head_params, head_params)
                    + h,
                    0.0,
                )
            )
            return dense / tp, cnt["E"] * p_experts / (ep * etp)

        pd_first, pe_first = hstage_params(cnt_first, True, pp == 1)
        pd_last, pe_last = hstage_params(cnt_last, pp == 1, True)
    else:
        pd_first, pe_first = stage_params(n_first, k_first, True, pp == 1)
        pd_last, pe_last = stage_params(n_last, k_last, pp == 1, True)
    pd = np.maximum(pd_first, pd_last)
    pe = np.where(pd_first >= pd_last, pe_first, pe_last)

    # ---- data parallel / FSDP communication ------------------------------------------------------
    dpc = dp * cp  # dense gradient group (DP x CP)
    edp = tp * cp * dp / (ep * etp)  # expert data-parallel size
    dp_rpn = members_per_domain(dpc, tp, D)
    edp_rpn = members_per_domain(edp, ep * etp, D)
    grad_b = np.where(fsdp > 0, FSDP_REDUCE_BYTES, cal.main_grad_bytes)
    ag_b = PARAM_GATHER_BYTES.get(precision, BF16_BYTES)

    def coll(op: str, per_param_bytes: Any, dense_mult: Any = 1.0) -> F64:
        return collective_s(
            op, pd * per_param_bytes * dense_mult, dpc, dp_rpn, acc, fabric=fabric
        ) + collective_s(op, pe * per_param_bytes * dense_mult, edp, edp_rpn, acc, fabric=fabric)

    t_ar = coll("all-reduce", grad_b)
    t_rs = coll("reduce-scatter", grad_b)
    t_ag = coll("all-gather", ag_b)
    n_stage_layers = np.maximum(n_first, n_last)
    bwd_window = slow["bwd"] + slow["rc"]
    fwd_window = slow["fwd"]
    bucket = np.minimum(1.0, overlap.dp_bucket_params / np.maximum(pd + pe, 1.0))
    if overlap.dp_overlap:
        ddp_exposed = np.where(
            dist_opt,
            np.maximum(t_rs * bucket, t_rs - bwd_window)
            + np.maximum(t_ag * bucket, t_ag - fwd_window),
            np.maximum(t_ar * bucket, t_ar - bwd_window),
        )
    else:
        ddp_exposed = np.where(dist_opt, t_rs + t_ag, t_ar)
    per_layer = 1.0 / np.maximum(n_stage_layers, 1.0)
    if overlap.fsdp_overlap:
        # full: gather params before forward and again before backward, reduce-scatter grads, every micro-batch
        full_mb = np.maximum(t_ag * per_layer, t_ag - fwd_window) + np.maximum(
            (t_ag + t_rs) * per_layer, t_ag + t_rs - bwd_window
        )
        gradop_mb = np.maximum(t_rs * per_layer, t_rs - bwd_window)
    else:
        full_mb = 2 * t_ag + t_rs
        gradop_mb = t_rs
    dp_exposed = np.where(
        fsdp == 2, m * full_mb, np.where(fsdp == 1, m * gradop_mb + t_ag, ddp_exposed)
    )

    # ---- optimizer step (memory bound) -----------------------------------------------------------
    shard = np.where(dist_opt, 1.0, 0.0)
    local_params = pd / np.where(shard > 0, dpc, 1.0) + pe / np.where(shard > 0, edp, 1.0)
    t_opt = local_params * OPTIMIZER_BYTES_PER_PARAM / mem_rate

    # ---- step ------------------------------------------------------------------------------------
    overhead = m * overhead_mb + cal.step_overhead_s
    step = m * t_mb + bubble + dp_exposed + t_opt + cal.step_overhead_s
    tokens = G * s / (step * count)
    flops = float(flops_per_step(model, global_batch_size, seq_len))
    tflops = flops / (step * count) / 1e12
    mfu = tflops * 1e12 / peak_prec

    # ---- memory per GPU: first (in-flight activations) and last (logits) stage --------------------
    # Model states. DDP / distributed optimizer (Megatron-core): weights PARAM_BYTES[precision], grads
    # cal.main_grad_bytes, optimizer 12 B (fp32 master + m + v), the latter sharded over DP x CP (experts:
    # expert-DP) with the distributed optimizer. FSDP full (ZeRO-3; PyTorch FSDP as in llm-foundry): the
    # sharded fp32 flat param (4 B, it is the master), its fp32 sharded grad (4 B) and the Adam moments (8 B)
    # all divide by the sharding group: 16 B / dp (Megatron-FSDP: bf16 param 2 + grad 2 + fp32 master and
    # moments 12 = the same 16 B / dp). FSDP grad_op (ZeRO-2): unsharded weights, sharded grads and states.
    full_shard = fsdp == 2
    w_per = np.where(full_shard, FSDP_PARAM_SHARD_BYTES, PARAM_BYTES.get(precision, BF16_BYTES))
    g_per = np.where(fsdp > 0, FSDP_PARAM_SHARD_BYTES, cal.main_grad_bytes)
    o_per = np.where(full_shard, ADAM_MOMENT_BYTES, ADAM_STATE_BYTES)
    dense_shard = np.where(full_shard, dpc, 1.0)
    exp_shard = np.where(full_shard, edp, 1.0)
    grad_dense_shard = np.where(fsdp > 0, dpc, 1.0)
    grad_exp_shard = np.where(fsdp > 0, edp, 1.0)
    opt_dense_shard = np.where(dist_opt, dpc, 1.0)
    opt_exp_shard = np.where(dist_opt, edp, 1.0)

    def state_bytes(pd_: F64, pe_: F64) -> tuple[F64, F64, F64]:
        w = w_per * (pd_ / dense_shard + pe_ / exp_shard)
        g = g_per * (pd_ / grad_dense_shard + pe_ / grad_exp_shard)
        o = o_per * (pd_ / opt_dense_shard + pe_ / opt_exp_shard)
        return w, g, o

    gib = 1.0 if lowp else BF16_BYTES  # TE saves the quantised GEMM inputs
    act_dense = activation_bytes_per_token(model, tp, spd, moe_layer=False, gemm_input_bytes=gib)
    act_moe = (
        activation_bytes_per_token(
            model, tp, spd, moe_layer=True, routed_tokens=routed, etp=etp, gemm_input_bytes=gib
        )
        if model.moe is not None
        else act_dense
    )
    ckpt = 2 * h / spd  # full recompute keeps each layer's input
    # Micro-batches in flight (in units of one micro-batch through the whole stage), from Megatron-core's
    # schedules (`get_pp_rank_microbatches`): 1F1B rank r runs pp - r - 1 warm-up forwards, so it holds
    # pp - r (stage 0: pp, last stage: 1); the interleaved schedule warms up (pp - r - 1) * 2 + (vpp - 1) *
    # pp model chunks (microbatch_group_size_per_vp_stage = pp), each 1/vpp of the stage, plus the one in
    # progress: stage 0 holds pp + (pp - 1)/vpp (= Korthikanti et al. 2022 sec. 4.2.3, pp (1 + (pp-1)/(pp v))),
    # the last stage pp - (pp - 1)/vpp. Both are capped by the m vpp chunks of the step.
    chunks_first = np.minimum(m * vpp, 2.0 * (pp - 1.0) + (vpp - 1.0) * pp + 1.0) / vpp
    chunks_last = np.minimum(m * vpp, (vpp - 1.0) * pp + 1.0) / vpp
    in_flight_first = np.where(vpp > 1, chunks_first, np.minimum(m, pp))
    in_flight_last = np.where(pp > 1, np.where(vpp > 1, chunks_last, 1.0), in_flight_first)

    def acts(n: F64, k_d: F64, in_flight: F64) -> F64:
        per_mb = (k_d * act_dense + (n - k_d) * act_moe) * T
        one_layer = np.maximum(act_dense, act_moe) * T
        # selective recompute with flash attention stores what `none` stores (Q, K, V are kept for the
        # recomputation); the 5as/h softmax term it removes does not exist with flash attention.
        # Full recompute keeps each layer's input per micro-batch in flight plus one layer's working set.
        full = np.minimum(per_mb * in_flight, n * ckpt * T * in_flight + one_layer)
        return np.where(rc == 2, full, per_mb * in_flight)

    if model.layer_pattern is not None:
        act_kind = hybrid_activation_bytes_per_token(
            model, tp, spd, routed_tokens=routed, etp=etp, gemm_input_bytes=gib
        )

        def hacts(cnt: dict[str, F64], n: F64, in_flight: F64) -> F64:
            per_mb = sum(cnt[c] * act_kind[c] for c in act_kind) * T
            one_layer = (
                np.maximum.reduce([np.broadcast_to(act_kind[c], T.shape) for c in act_kind]) * T
            )
            full_rc = np.minimum(per_mb * in_flight, n * ckpt * T * in_flight + one_layer)
            return np.where(rc == 2, full_rc, per_mb * in_flight)

        act_first = hacts(cnt_first, n_first, in_flight_first) + 2 * h / spd * T * in_flight_first
        act_last_layers = hacts(cnt_last, n_last, in_flight_last)
    else:
        act_first = (
            acts(n_first, k_first, in_flight_first) + 2 * h / spd * T * in_flight_first
        )  # + embedding out
        act_last_layers = acts(n_last, k_last, in_flight_last)
    logits = (
        T * V / tp * (BF16_BYTES + FP32_BYTES)
    )  # bf16 logits + fp32 loss grad (one micro-batch)
    act_last = act_last_layers + logits
    act_first = act_first + np.where(pp == 1, logits, 0.0)  # one stage holds both ends

    w_f, g_f, o_f = state_bytes(pd_first, pe_first)
    w_l, g_l, o_l = state_bytes(pd_last, pe_last)
    # FSDP: two unsharded layers (the current one and the prefetched next, `limit_all_gathers`), each with
    # its bf16 gathered params and, in backward, its unsharded bf16 gradient before the reduce-scatter
    fsdp_buf = np.where(
        full_shard, 2 * (pd + pe) * per_layer * (BF16_BYTES + FSDP_REDUCE_BYTES), 0.0
    )
    tp_buf = np.where(tp > 1, 2 * act_bytes, 0.0)  # all-gather output buffers (SP)
    buffers = cal.runtime_reserved_bytes + tp_buf + fsdp_buf
    tot_first = w_f + g_f + o_f + act_first + buffers
    tot_last = w_l + g_l + o_l + act_last + buffers
    use_l = tot_last > tot_first
    pick = lambda x, y: np.where(use_l, y, x)
    peak = np.maximum(tot_first, tot_last)
    fits = valid & (peak <= acc.hbm_bytes * (1.0 - cal.allocator_margin))

    nan = np.where(valid, 1.0, np.nan)
    return StepArrays(
        valid=valid,
        fits=fits,
        step_time_s=step * nan,
        tokens_per_s_per_gpu=tokens * nan,
        model_tflops_per_gpu=tflops * nan,
        mfu=mfu * nan,
        compute_s=m * compute_mb * nan,
        recompute_s=m * slow["rc"] * nan,
        bubble_s=bubble * nan,
        exposed_tp_s=m * slow["tp"] * nan,
        exposed_cp_s=m * slow["cp"] * nan,
        exposed_ep_s=m * slow["ep"] * nan,
        exposed_pp_s=m * pp_mb * nan,
        exposed_dp_s=dp_exposed * nan,
        optimizer_s=t_opt * nan,
        overhead_s=overhead * nan,
        peak_memory_bytes=peak * nan,
        weights_bytes=pick(w_f, w_l) * nan,
        grads_bytes=pick(g_f, g_l) * nan,
        optimizer_bytes=pick(o_f, o_l) * nan,
        activations_bytes=pick(act_first, act_last) * nan,
        buffers_bytes=buffers * nan,
        microbatches=m * nan,
    )
