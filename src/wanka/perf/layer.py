"""Compute term of the step model: seconds of one layer, forward and backward, one micro-batch.

Per layer: GEMMs at the block rate times a shape factor (`gemm_efficiency`), flash attention at the
attention rate, memory-bound elementwise work (norms, residuals, rotary, casts) at the HBM rate.
Backward = 2x the GEMMs and the elementwise work, 2.5x attention. Sources next to each term and in
docs/perf-model.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wanka.perf.context import BF16_BYTES, F64, StepContext
from wanka.perf.params import Calibration

__all__ = ["LayerTimes", "gemm_efficiency", "gemm_s", "layer_times"]


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


def gemm_s(m: Any, n: Any, k: Any, rate: float, cal: Calibration, factor: float = 1.0) -> F64:
    """Seconds of a GEMM of M x N x K at `rate` FLOP/s (already times software efficiency)."""
    return 2.0 * m * n * k / (rate * factor * gemm_efficiency(m, n, k, cal))


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerTimes:
    """Per-layer, per-micro-batch seconds (forward unless named) and elementwise element counts."""

    t_proj: F64
    """Attention projections (QKV / MLA down-up, output)."""
    t_attn_fwd: F64
    t_attn_bwd: F64
    kv_bytes_per_token: Any
    """K and V bytes per token on one TP rank (the CP ring's payload)."""
    elem_attn: F64
    t_dense_mlp: F64
    elem_dense_mlp: F64
    t_moe_mlp: F64
    elem_moe_mlp: F64
    routed: Any
    """Routed token copies per local token on the busiest expert rank (0 for dense models)."""
    imbalance: float
    mamba_fwd: F64
    mamba_bwd: F64
    dense_fwd: F64
    dense_bwd: F64
    moe_fwd: F64
    moe_bwd: F64
    dense_rc: F64
    """Recompute seconds of a dense layer: full = the forward again; selective = core attention."""
    moe_rc: F64


def _attention(c: StepContext) -> dict[str, Any]:
    """Attention block, per layer, forward, one micro-batch: projections, flash attention, elementwise."""
    cal, T, tp, h, a, s, rate = c.cal, c.T, c.tp, c.h, c.a, c.s, c.block_rate
    if c.model.mla is not None:
        ml = c.model.mla
        dq, dv = float(ml.qk_nope_head_dim + ml.qk_rope_head_dim), float(ml.v_head_dim)
        if ml.q_lora_rank:
            t_q = (
                gemm_s(T, ml.q_lora_rank, h, rate, cal)  # q down (replicated)
                + gemm_s(T, a * dq / tp, ml.q_lora_rank, rate, cal)
            )  # q up
        else:
            t_q = gemm_s(T, a * dq / tp, h, rate, cal)
        t_kv = (
            gemm_s(T, ml.kv_lora_rank + ml.qk_rope_head_dim, h, rate, cal)  # kv down (replicated)
            + gemm_s(T, a * (ml.qk_nope_head_dim + dv) / tp, ml.kv_lora_rank, rate, cal)
        )
        t_proj = t_q + t_kv + gemm_s(T, h, a * dv / tp, rate, cal)
        kv_bytes_per_token = a * (dq + dv) * BF16_BYTES / tp  # CP ring payload
        rope_elems = 2 * (a + 1) * ml.qk_rope_head_dim / tp
    else:
        d = float(c.model.d_head)
        dq = dv = d
        kvh = float(c.model.kv_heads)
        t_proj = (
            gemm_s(T, (a + 2 * kvh) * d / tp, h, rate, cal)  # QKV
            + gemm_s(T, h, a * d / tp, rate, cal)
        )  # output projection
        kv_bytes_per_token = 2 * kvh * d * BF16_BYTES / tp
        rope_elems = 2 * (a + kvh) * d / tp
    # Flash attention, causal: each of the T local queries sees s/2 keys on average (load-balanced CP).
    hd = cal.attention_head_dim_half
    hd_factor = (dq / (dq + hd)) / (128.0 / (128.0 + hd))
    attn_fwd_flops = 2.0 * T * (s / 2.0) * (a / tp) * (dq + dv)  # QK^T + AV
    t_attn_fwd = attn_fwd_flops / (c.attn_rate * hd_factor)
    t_attn_bwd = 2.5 * t_attn_fwd  # flash backward: 5 matmuls (incl. recomputed QK^T) vs 2 forward
    # memory-bound elementwise work per token (elements; x2 bytes): norms, residuals, rotary, casts
    spd = c.spd
    elem_attn = (
        2 * h + 3 * h
    ) / spd + rope_elems  # LN1 read+write; residual add (2 in, 1 out); RoPE
    elem_mlp_common = (2 * h + 3 * h) / spd  # LN2; residual add
    if c.lowp:  # quantise GEMM inputs (read 2 B, write 1 B = 1.5 element-equivalents)
        elem_attn = elem_attn + 1.5 * (h / spd + a * dv / tp)
        elem_mlp_common = elem_mlp_common + 1.5 * h / spd
    return {
        "t_proj": t_proj,
        "t_attn_fwd": t_attn_fwd,
        "t_attn_bwd": t_attn_bwd,
        "kv_bytes_per_token": kv_bytes_per_token,
        "elem_attn": elem_attn,
        "elem_mlp_common": elem_mlp_common,
    }


def _moe(c: StepContext, elem_mlp_common: F64) -> dict[str, Any]:
    """MoE MLP, per layer, forward: grouped expert GEMMs on the busiest rank, router, shared experts."""
    cal, T, tp, h, ng, etp, spd, rate = c.cal, c.T, c.tp, c.h, c.ng, c.etp, c.spd, c.block_rate
    moe = c.model.moe
    if moe is None:
        return {
            "t_moe_mlp": np.zeros_like(T),
            "elem_moe_mlp": np.zeros_like(T),
            "routed": np.zeros_like(T),
            "imbalance": 1.0,
        }
    E, k = float(moe.experts), float(moe.top_k)
    imb = (
        cal.moe_load_imbalance
        if moe.capacity_factor is None
        else min(cal.moe_load_imbalance, moe.capacity_factor)
    )
    routed = k * etp / tp * imb  # routed token copies per local token (busiest rank)
    m_tot = T * routed  # rows through this GPU's experts
    m_exp = m_tot / (E / c.ep)  # rows per local expert (grouped GEMM)
    fe = moe.expert_ffn / etp
    t_experts = 2 * m_tot * ng * fe * h / (
        rate * cal.moe_grouped_gemm * gemm_efficiency(m_exp, ng * fe, h, cal)
    ) + 2 * m_tot * h * fe / (rate * cal.moe_grouped_gemm * gemm_efficiency(m_exp, h, fe, cal))
    # each local expert's group in the two forward grouped GEMMs (fc1, fc2; backward 2x via fwd_bwd)
    t_experts = t_experts + 2.0 * (E / c.ep) * cal.moe_expert_gemm_s
    t_router = gemm_s(T / spd, E, h, c.bf16_rate, cal)
    t_shared: Any = 0.0
    elem_shared: Any = 0.0
    if moe.shared_experts:
        fs = float(moe.shared_experts * moe.shared_ffn)
        t_shared = gemm_s(T, ng * fs / tp, h, rate, cal) + gemm_s(T, h, fs / tp, rate, cal)
        elem_shared = (ng + 1) * fs / tp
    elem_moe_mlp = (
        elem_mlp_common
        + 6 * E / spd  # router softmax/top-k (fp32)
        + routed * (5 * h + (ng + 1) * fe + (1.5 * (h + fe) if c.lowp else 0.0))  # (un)permute, act
        + elem_shared
    )
    return {
        "t_moe_mlp": t_experts + t_router + t_shared,
        "elem_moe_mlp": elem_moe_mlp,
        "routed": routed,
        "imbalance": imb,
    }


def _mamba(c: StepContext) -> tuple[F64, F64]:
    """Mamba-2 mixer (hybrid 'M' layers), per layer: (forward, backward) seconds.

    Megatron-core MambaMixer: in_proj column-parallel (z, x, B, C, dt split over TP: heads and groups),
    causal depthwise conv1d + SiLU on x, B, C, SSD chunked scan, gated RMSNorm, out_proj row-parallel.
    """
    if c.model.mamba is None:
        return np.zeros_like(c.T), np.zeros_like(c.T)
    cal, T, tp, h, spd = c.cal, c.T, c.tp, c.h, c.spd
    mb = c.model.mamba
    di, nh, gn = float(mb.d_inner), float(mb.heads), float(mb.groups * mb.state_size)
    t_mamba_gemm = (
        gemm_s(T, mb.in_proj_width / tp, h, c.block_rate, cal)  # in_proj
        + gemm_s(T, h, di / tp, c.block_rate, cal)
    )  # out_proj
    # SSD forward FLOPs per token (Dao & Gu 2024, section 6, chunk Q): C B^T per group (Q*N), the masked
    # (C B^T) X per head (Q*P), chunk states B^T X and state-to-output C h per head (2*N*P); x2 fma.
    q_c, n_st, p_hd = float(mb.chunk_size), float(mb.state_size), float(mb.head_dim)
    ssd_flops = 2.0 * T * (mb.groups * q_c * n_st + nh * (q_c * p_hd + 2.0 * n_st * p_hd)) / tp
    ssd_elems = (
        2.0 * di + 2.0 * gn + nh
    ) / tp + 2.0 * nh / tp  # read x, B, C, dt, write y; fp32 dA
    t_ssd = np.maximum(
        ssd_flops / (c.attn_rate * cal.ssd_efficiency), ssd_elems * BF16_BYTES * T / c.mem_rate
    )
    elem_mamba = (
        (2 * h + 3 * h) / spd  # pre-norm; residual add
        + 2.0 * (di + 2.0 * gn) / tp  # conv1d + SiLU read/write
        + 4.0 * di / tp
    )  # gated norm: read y, z; write
    if c.lowp:
        elem_mamba = elem_mamba + 1.5 * (h / spd + di / tp)  # quantise GEMM inputs
    t_mamba_mem = elem_mamba * BF16_BYTES * T / c.mem_rate
    mamba_fwd = t_mamba_gemm + t_ssd + t_mamba_mem
    mamba_bwd = 2.0 * t_mamba_gemm + 2.5 * t_ssd + 2.0 * t_mamba_mem  # SSD backward: as flash, 2.5x
    return mamba_fwd, mamba_bwd


def layer_times(c: StepContext) -> LayerTimes:
    """Every per-layer compute time of the plans in `c`."""
    att = _attention(c)
    cal, T, tp, h, ng = c.cal, c.T, c.tp, c.h, c.ng
    # MLP, per layer, forward
    f = float(c.model.ffn_hidden)
    t_dense_mlp = gemm_s(T, ng * f / tp, h, c.block_rate, cal) + gemm_s(
        T, h, f / tp, c.block_rate, cal
    )
    elem_dense_mlp = att["elem_mlp_common"] + (ng + 1) * f / tp + (1.5 * f / tp if c.lowp else 0.0)
    moe = _moe(c, att["elem_mlp_common"])
    mamba_fwd, mamba_bwd = _mamba(c)
    t_attn_fwd, t_attn_bwd = att["t_attn_fwd"], att["t_attn_bwd"]

    def fwd_bwd(t_gemm: F64, elems: F64) -> tuple[F64, F64]:
        t_mem = elems * BF16_BYTES * T / c.mem_rate
        fwd = t_gemm + t_mem + t_attn_fwd
        bwd = 2.0 * t_gemm + 2.0 * t_mem + t_attn_bwd
        return fwd, bwd

    dense_fwd, dense_bwd = fwd_bwd(att["t_proj"] + t_dense_mlp, att["elem_attn"] + elem_dense_mlp)
    moe_fwd, moe_bwd = fwd_bwd(
        att["t_proj"] + moe["t_moe_mlp"], att["elem_attn"] + moe["elem_moe_mlp"]
    )
    # recompute: full = the whole forward again; selective = core attention forward (Korthikanti sec. 5)
    rc = c.rc
    return LayerTimes(
        t_proj=att["t_proj"],
        t_attn_fwd=t_attn_fwd,
        t_attn_bwd=t_attn_bwd,
        kv_bytes_per_token=att["kv_bytes_per_token"],
        elem_attn=att["elem_attn"],
        t_dense_mlp=t_dense_mlp,
        elem_dense_mlp=elem_dense_mlp,
        t_moe_mlp=moe["t_moe_mlp"],
        elem_moe_mlp=moe["elem_moe_mlp"],
        routed=moe["routed"],
        imbalance=moe["imbalance"],
        mamba_fwd=mamba_fwd,
        mamba_bwd=mamba_bwd,
        dense_fwd=dense_fwd,
        dense_bwd=dense_bwd,
        moe_fwd=moe_fwd,
        moe_bwd=moe_bwd,
        dense_rc=np.where(rc == 2, dense_fwd, np.where(rc == 1, t_attn_fwd, 0.0)),
        moe_rc=np.where(rc == 2, moe_fwd, np.where(rc == 1, t_attn_fwd, 0.0)),
    )
