"""Time of one serving-engine iteration (continuous batching, chunked prefill), vectorised.

One iteration runs `n_dec` decode tokens (one per decoding sequence, each reading its whole KV cache) and
`n_pre` prefill tokens (chunks of prompts) through the model in one forward pass, so the weights are read
once for both (Sarathi-Serve, Agrawal et al. OSDI'24; vLLM/TensorRT-LLM in-flight batching).

Per layer, every operator costs the larger of its compute and its memory time (roofline per kernel;
compute and memory overlap inside a kernel, not across kernels):

    GEMM (M x N x K)   max(2MNK / (rate * shape_eff), (N*K*w + 2(M*K + M*N)) / bw)   w = weight bytes
    MoE experts        max(2 * rows * ng*h*fe / (rate * grouped * shape_eff), active * ng*h*fe*w / bw)
                       active = experts per rank * (1 - (1 - k/E)^M)  (distinct experts hit by M tokens)
    decode attention   max(2 * ctx * a_loc * (dq + dv) / attn_rate, ctx * kv_bytes_per_token / bw)
    prefill attention  2 * pairs * a_loc * (dq + dv) / attn_rate      (pairs = query-key pairs, causal)
    TP                 2 all-reduces of M*h bf16 per layer  (`topology.collective` via `perf.comm`)
    EP                 dispatch + combine all-to-all of M*k*h/tp bf16 per MoE layer (wide EP: see
                       `_layer_comm`; overlapped with the other micro-batch's compute)

`rate` = bf16 peak x achieved low-precision speed-up (`perf.Calibration.lowp_gemm_speedup`, capped at the
peak ratio) x `software_efficiency.gemm` x `ServeCalibration.gemm_efficiency_scale`; `shape_eff` is the
training model's `perf.layer.gemm_efficiency` (M below one tile: see `_token_rows`). `bw` = HBM x `memory_bw` x
`ServeCalibration.stream_bw_efficiency`. Pipeline parallelism: `pp` micro-batches in flight; one cycle in
which every sequence gains a token takes  L * G(M/pp) + (L/pp) * A(all) + pp * (head + p2p)  (G: the
per-layer GEMM/element-wise/TP time of one micro-batch, A: attention over all sequences).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wanka.hardware import Accelerator
from wanka.perf.comm import collective_s, members_per_domain, scaleup_domain_size
from wanka.perf.layer import gemm_efficiency
from wanka.perf.params import Calibration, default_calibration
from wanka.serve.model import ModelShape, WeightFormat
from wanka.serve.params import ServeCalibration

__all__ = [
    "Rates",
    "StepTimes",
    "attention_coeffs",
    "iteration_time",
    "rates",
    "shape_calibration",
]

F64 = NDArray[np.float64]
BF16 = 2.0
MMA_M = 16.0  # rows of one tensor-core MMA instruction (m16n8k16, Ampere/Hopper/Blackwell)
# ops:byte ratio of the chips the shape curve was fitted on: H100 SXM, dense bf16 989.4 TFLOP/s over
# 3.35 TB/s HBM (catalog peaks); see `shape_calibration`
REF_BALANCE = 989.4e12 / 3.35e12


@dataclass(frozen=True, slots=True, kw_only=True)
class Rates:
    """Achievable rates of one chip for one weight format (FLOP/s, bytes/s)."""

    gemm: float
    bf16_gemm: float
    attention: float
    memory: float
    domain: int
    """Accelerators in one scale-up domain (TP/EP groups inside it ride the scale-up links)."""
    moe_imbalance: float
    """Busiest EP rank's routed tokens over the mean (`ServeCalibration.moe_ep_imbalance`)."""
    moe_expert_half_dim: float = 0.0
    """Grouped expert GEMMs' width penalty (`ServeCalibration.moe_expert_half_dim`)."""


def rates(
    acc: Accelerator,
    wf: WeightFormat,
    peak_ratio: float,
    cal: Calibration,
    scal: ServeCalibration,
    head_dim: float,
) -> Rates:
    """The rates of the step model, from the same software-efficiency profile as training."""
    se = acc.software_efficiency
    bf16 = acc.peak_flops.get("bf16") or acc.peak_flops.get("fp16") or 0.0
    speed = 1.0
    if wf.speedup_key is not None:
        speed = min(cal.lowp_gemm_speedup.get(wf.speedup_key, peak_ratio), peak_ratio)
    # Flash-attention head-dim curve d/(d+c), normalised at d = 128, as in the training model.
    c = cal.attention_head_dim_half
    hd = (head_dim / (head_dim + c)) / (128.0 / (128.0 + c))
    gemm_eff = se.gemm * scal.gemm_efficiency_scale
    return Rates(
        gemm=bf16 * speed * gemm_eff,
        bf16_gemm=bf16 * gemm_eff,
        attention=bf16 * se.attention * scal.attention_efficiency_scale * hd,
        memory=max(acc.hbm_bw_bytes_per_s, 1.0) * se.memory_bw * scal.stream_bw_efficiency,
        domain=scaleup_domain_size(acc, acc.gpus_per_node),
        moe_imbalance=scal.moe_ep_imbalance,
        moe_expert_half_dim=scal.moe_expert_half_dim,
    )


def balance(acc: Accelerator) -> float:
    """The chip's ops:byte ratio: dense bf16 (or fp16) peak FLOP/s over HBM bytes/s."""
    peak = acc.peak_flops.get("bf16") or acc.peak_flops.get("fp16") or 0.0
    return peak / max(acc.hbm_bw_bytes_per_s, 1.0) if peak > 0 else REF_BALANCE


def shape_calibration(acc: Accelerator, cal: Calibration, scal: ServeCalibration) -> Calibration:
    """The GEMM shape curve of serving on this chip (`perf.layer.gemm_efficiency`'s parameters).

    Tile: `ServeCalibration.gemm_tile`. Half-dimension: the training fit's `gemm_half_dim` times the
    chip's ops:byte ratio over H100's. The curve's small-dimension penalty x / (x + c) stands for
    tiles with too little work to keep the tensor cores fed; a tile stops being bandwidth-limited
    when its arithmetic intensity, which grows with its smallest dimension, passes the chip's
    ops:byte ratio (the roofline's ridge point, Williams, Waterman and Patterson, CACM 2009; NVIDIA
    Deep Learning Performance Guide, "GPU Performance Background"), so c scales with that ratio. It
    matters where few tokens meet a compute-poor chip: an H20 (148 TFLOP/s over 4.0 TB/s, ratio 37
    against H100's 295) would otherwise run a batch-1 decode of an 8B model at 21 ms, compute-bound,
    where reading its weights takes 5 ms.
    """
    return replace(
        cal, gemm_tile=scal.gemm_tile, gemm_half_dim=cal.gemm_half_dim * balance(acc) / REF_BALANCE
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class StepTimes:
    """Seconds of one iteration and its parts (arrays of the broadcast shape)."""

    total_s: F64
    gemm_s: F64
    """Block GEMMs, experts, LM head and element-wise work (the part that grows with tokens)."""
    attention_s: F64
    comm_s: F64
    """TP all-reduces, EP all-to-alls and pipeline send/recv (all on the critical path)."""
    overhead_s: F64
    draft_s: F64
    """Speculative decoding's draft passes (included in `total_s`; zero without speculation)."""


def _token_rows(m: F64, tile: float) -> tuple[F64, F64]:
    """(rows computed, shape-curve M) of a GEMM whose M dimension is `m` tokens.

    M >= tile: the training model's shape curve on M itself. M < tile: decode kernels swap A and B so
    the tokens ride the narrow side of the MMA instruction (CUTLASS/TensorRT-LLM "swap AB"): rows are
    padded to a multiple of 16 (the m16n8k16 MMA) and the efficiency is that of one full tile.
    """
    m = np.maximum(m, 1.0)
    small = m < tile
    rows = np.where(small, np.ceil(m / MMA_M) * MMA_M, m)
    return rows, np.where(small, tile, m)


def _gemm(m: F64, n: Any, k: Any, rate: float, w: float, bw: float, cal: Calibration) -> F64:
    """Roofline time of an M x N x K GEMM with K x N weights of `w` bytes per element."""
    rows, m_eff = _token_rows(m, float(cal.gemm_tile))
    t_c = 2.0 * rows * n * k / (rate * gemm_efficiency(m_eff, n, k, cal))
    t_m = (n * k * w + BF16 * (m * k + m * n)) / bw
    return np.where(m > 0, np.maximum(t_c, t_m), 0.0)


def _moe(
    m: F64, s: ModelShape, tp: F64, ep: F64, r: Rates, w: float, cal: Calibration, imbalance: float
) -> F64:
    """Routed experts of one MoE layer on the busiest rank for M tokens."""
    ng = 2.0 if s.gated else 1.0
    etp = np.maximum(tp / ep, 1.0)
    fe = s.expert_ffn / etp
    e_loc = np.ceil(s.experts / ep)  # an EP width not dividing the experts: EPLB's redundant slots
    imb = np.where(ep > 1, imbalance, 1.0)
    rows = m * s.top_k / ep * imb  # routed token copies reaching this rank's experts
    # expected distinct experts hit by M tokens of top-k uniform routing, per rank
    active = e_loc * (1.0 - (1.0 - s.top_k / s.experts) ** np.maximum(m, 0.0))
    per_exp = rows / np.maximum(active, 1e-9)
    pr, p_eff = _token_rows(per_exp, float(cal.gemm_tile))
    flops = 2.0 * (pr / np.maximum(per_exp, 1.0)) * rows * s.hidden * fe * (ng + 1.0)
    width = fe / (fe + r.moe_expert_half_dim)  # narrow experts: small per-expert problems
    eff = cal.moe_grouped_gemm * gemm_efficiency(p_eff, ng * fe, s.hidden, cal) * width
    t_c = flops / (r.gemm * eff)
    t_m = (
        active * (ng + 1.0) * s.hidden * fe * w + BF16 * rows * (2 * s.hidden + ng * fe)
    ) / r.memory
    return np.where(m > 0, np.maximum(t_c, t_m), 0.0)


def _layer_gemm(
    m: F64, s: ModelShape, tp: F64, ep: F64, tpa: F64, r: Rates, w: float, cal: Calibration
) -> tuple[F64, F64]:
    """(dense layer, MoE layer) seconds of GEMMs + element-wise work on one GPU.

    `m` = tokens of the instance's micro-batch; attention and dense MLPs run `tpa`-way tensor parallel
    on m * tpa / tp tokens (attention data parallelism when tpa < tp); the experts see all m tokens.
    """
    h, a, g = s.hidden, s.heads, s.kv_heads
    ng = 2.0 if s.gated else 1.0
    ma = m * tpa / tp  # tokens through this GPU's attention and dense MLP
    # attention projections: weights = attn_params / tpa, as one GEMM of that size (QKV + O, MLA ranks)
    t_attn = _gemm(ma, s.attn_params / (tpa * h), h, r.gemm, w, r.memory, cal)
    t_mlp = _gemm(ma, ng * s.ffn / tpa, h, r.gemm, w, r.memory, cal) + _gemm(
        ma, h, s.ffn / tpa, r.gemm, w, r.memory, cal
    )
    # element-wise: 2 norms + 2 residual adds (~10h elements), RoPE on q/k, activation (ng+1)*f
    elem_tok = 10.0 * h + 2.0 * (a + 2.0 * g) * s.dq / tpa
    dense = t_attn + t_mlp + (elem_tok + (ng + 1.0) * s.ffn / tpa) * BF16 * ma / r.memory
    if not s.moe_layers:
        return dense, np.zeros_like(dense)
    t_router = _gemm(ma, s.experts, h, r.bf16_gemm, BF16, r.memory, cal)
    t_shared = np.zeros_like(m)
    if s.shared_ffn:
        t_shared = _gemm(ma, ng * s.shared_ffn / tpa, h, r.gemm, w, r.memory, cal) + _gemm(
            ma, h, s.shared_ffn / tpa, r.gemm, w, r.memory, cal
        )
    elem_moe = (elem_tok + 6.0 * s.experts / tpa + 5.0 * h * s.top_k) * BF16 * ma / r.memory
    moe = t_attn + _moe(m, s, tp, ep, r, w, cal, r.moe_imbalance) + t_router + t_shared + elem_moe
    return dense, moe


def _wide_ep(ep: F64, r: Rates) -> NDArray[np.bool_]:
    """EP groups spanning more than one scale-up domain (wide expert parallelism)."""
    return ep > r.domain


def _wide_copies(s: ModelShape, nodes: F64, pre_share: F64) -> F64:
    """Routed copies per token that cross the scale-out network in a wide-EP all-to-all, over top_k.

    DeepEP's normal (prefill) kernels send a token once per destination node over RDMA and forward
    it over NVLink there (DeepEP README; DeepSeek-V3 report sec. 3.2): with uniform top-k routing over
    n nodes, (n - 1)(1 - (1 - 1/n)^k) distinct remote nodes against k (n - 1)/n remote copies. Its
    low-latency (decode) kernels send every copy directly. `pre_share`: prefill share of the tokens.
    """
    k = max(s.top_k, 1.0)
    n = np.maximum(nodes, 1.0)
    dedup = np.where(n > 1.0, n * (1.0 - (1.0 - 1.0 / n) ** k) / k, 1.0)
    return pre_share * dedup + (1.0 - pre_share)


def _layer_comm(
    m: F64,
    s: ModelShape,
    tp: F64,
    ep: F64,
    tpa: F64,
    acc: Accelerator,
    r: Rates,
    fabric: Any,
    *,
    w: float = BF16,
    pre_share: Any = 0.0,
) -> tuple[F64, F64]:
    """(dense layer, MoE layer) seconds of TP all-reduces and EP all-to-alls.

    TP: two all-reduces of the attention-group's activations per layer (after attention and after the
    MLP). EP: dispatch + combine all-to-all of each rank's routed copies (m * tpa / tp tokens x top_k),
    both in bf16. A wide-EP group (spanning several scale-up domains) dispatches in the weight format
    (DeepEP fp8 dispatch, TensorRT-LLM's NVFP4 all-to-all; combine in bf16) and sends prefill tokens
    once per node (`_wide_copies`).
    """
    one = np.ones_like(tp)
    tp_rpn = members_per_domain(tpa, one, r.domain)
    ma = m * tpa / tp
    ar = 2.0 * collective_s("all-reduce", ma * s.hidden * BF16, tpa, tp_rpn, acc, fabric=fabric)
    if not s.moe_layers:
        return ar, np.zeros_like(ar)
    ep_rpn = members_per_domain(ep, np.maximum(tp / ep, 1.0), r.domain)
    wide = _wide_ep(ep, r)
    copies = np.where(wide, _wide_copies(s, ep / ep_rpn, np.asarray(pre_share)), 1.0)
    tok_bytes = ma * s.top_k * copies * s.hidden / tpa
    send = np.where(wide, min(w, BF16), BF16)
    a2a = collective_s("all-to-all", tok_bytes * send, ep, ep_rpn, acc, fabric=fabric)
    a2a = a2a + collective_s("all-to-all", tok_bytes * BF16, ep, ep_rpn, acc, fabric=fabric)
    # under attention DP the MoE block needs no all-reduce: the combine returns each rank's tokens
    moe = np.where(tpa < tp, a2a, ar + a2a)
    return ar, moe


def attention_coeffs(
    s: ModelShape,
    r: Rates,
    tp: F64,
    pp: F64,
    tpa: F64,
    kv_bytes_per_token_layer: Any,
    queries: Any = 1.0,
) -> tuple[F64, F64]:
    """Seconds per unit of decode context (one cached token read) and of prefill query-key pairs, for
    one iteration cycle (all of one stage's attention layers, all sequences; linear in both).

    `queries`: query tokens per decoding sequence (1 + drafted tokens when verifying a speculation):
    they multiply the decode FLOPs, not the KV bytes, which one kernel reads once for all of them."""
    dpa = tp / tpa  # attention data-parallel ranks: each holds 1/dpa of the sequences
    a_loc = s.heads / tpa
    attn_flop = 2.0 * a_loc * (s.dq + s.dv)
    # MLA decode runs absorbed: every head attends over the shared latent (DeepSeek-V2 sec. 2.1.3)
    dec_flop = (2.0 * a_loc * 2.0 * s.mla_latent if s.mla_latent else attn_flop) * queries
    dec = np.maximum(dec_flop / r.attention, np.asarray(kv_bytes_per_token_layer) / r.memory)
    layers = np.ceil(s.attn_layers / pp)
    return layers * dec / dpa, layers * attn_flop / r.attention / dpa


def iteration_time(
    s: ModelShape,
    acc: Accelerator,
    wf: WeightFormat,
    r: Rates,
    *,
    tp: Any,
    pp: Any,
    ep: Any,
    attention_dp: Any = False,
    kv_bytes_per_token_layer: Any,
    n_dec: Any,
    ctx_dec: Any,
    n_pre: Any = 0.0,
    pre_pairs: Any = 0.0,
    n_out: Any = None,
    draft_tokens: Any = 0.0,
    scal: ServeCalibration,
    cal: Calibration | None = None,
    fabric: Any = None,
) -> StepTimes:
    """Seconds of one iteration of one instance (all arrays broadcast together).

    Args:
        s, acc, wf, r: model shape, chip, weight format and its rates (`rates`).
        tp, pp, ep: layout of the instance; attention_dp: attention (and dense MLPs) run data parallel
            over the tp GPUs, each on its own sequences, with experts split over ep (TensorRT-LLM
            `enable_attention_dp`, SGLang `--enable-dp-attention`).
        kv_bytes_per_token_layer: KV bytes one token adds on one GPU per attention layer.
        n_dec: decoding sequences (one token each); ctx_dec: the sum of their context lengths.
        n_pre: prefill tokens in this iteration; pre_pairs: sum over them of the keys each attends to.
        n_out: rows through the LM head (default: the decode rows; prefill rows only emit at their
            last chunk).
        draft_tokens: speculative decoding, k tokens drafted per decoding sequence: the pass verifies
            1 + k tokens of each (GEMM rows, LM-head rows and attention queries; the KV read once),
            and k draft passes of one layer plus the LM head follow (`_draft`).
    """
    cal = cal or default_calibration()
    tp, pp, ep = (np.atleast_1d(np.asarray(x, dtype=np.float64)) for x in (tp, pp, ep))
    n_dec, ctx_dec, n_pre, pre_pairs = (
        np.asarray(x, dtype=np.float64) for x in (n_dec, ctx_dec, n_pre, pre_pairs)
    )
    k = np.asarray(draft_tokens, dtype=np.float64)
    rows_dec = n_dec * (1.0 + k)  # tokens the decoding sequences put through the model
    n_out = rows_dec if n_out is None else np.asarray(n_out, dtype=np.float64)
    w = wf.bytes_per_param
    mb = (rows_dec + n_pre) / pp  # tokens of one micro-batch
    tpa = np.where(np.asarray(attention_dp, dtype=bool), 1.0, tp)
    dpa = tp / tpa  # attention data-parallel ranks: each holds 1/dpa of the sequences
    g_dense, g_moe = _layer_gemm(mb, s, tp, ep, tpa, r, w, cal)
    pre_share = n_pre / np.maximum(n_dec + n_pre, 1e-9)
    c_dense, c_moe = _layer_comm(mb, s, tp, ep, tpa, acc, r, fabric, w=w, pre_share=pre_share)
    # wide EP overlaps the all-to-all of one micro-batch with the other's compute (DeepSeek's dual
    # micro-batch overlap, SGLang two-batch overlap): only what exceeds the compute stays exposed
    c_moe = np.where(_wide_ep(ep, r), np.maximum(c_moe - g_moe, 0.0), c_moe)
    per_layer_gemm = s.dense_layers * g_dense + s.moe_layers * g_moe
    per_layer_comm = s.dense_layers * c_dense + s.moe_layers * c_moe
    head = _head(n_out / pp / dpa, s, tpa, r, cal)
    a_dec, a_pre = attention_coeffs(s, r, tp, pp, tpa, kv_bytes_per_token_layer, 1.0 + k)
    attention = a_dec * ctx_dec + a_pre * pre_pairs
    # stage-to-stage activations: one send-recv of the micro-batch per boundary (scale-up inside a domain)
    p2p = np.where(
        pp > 1,
        collective_s(
            "send-recv", mb * s.hidden * BF16, np.where(pp > 1, 2.0, 1.0), 2.0, acc, fabric=fabric
        ),
        0.0,
    )
    gemm = (per_layer_gemm * np.ceil(s.layers / pp) / s.layers) * pp + pp * head
    comm = (per_layer_comm * np.ceil(s.layers / pp) / s.layers) * pp + pp * p2p
    overhead = scal.step_overhead_s * pp  # the engine schedules each micro-batch
    draft = np.zeros_like(overhead + gemm)
    if np.any(k > 0):
        one = _draft(s, acc, r, cal, fabric, tp=tp, ep=ep, tpa=tpa, w=w, n_dec=n_dec)
        a_one, _ = attention_coeffs(s, r, tp, np.ones_like(pp), tpa, kv_bytes_per_token_layer)
        draft = k * (one + a_one / max(s.attn_layers, 1.0) * ctx_dec)
    total = gemm + attention + comm + overhead + draft
    return StepTimes(
        total_s=total, gemm_s=gemm, attention_s=attention, comm_s=comm, overhead_s=overhead,
        draft_s=draft,
    )  # fmt: skip


def _draft(
    s: ModelShape, acc: Accelerator, r: Rates, cal: Calibration, fabric: Any, *, tp: F64, ep: F64,
    tpa: F64, w: float, n_dec: F64,
) -> F64:  # fmt: skip
    """One draft pass over the decoding sequences, without its attention: one decoder layer (the MoE
    block for an MoE model: DeepSeek-V3's MTP module is a full transformer block, its report sec.
    2.2; EAGLE's draft head is one decoder layer, Li et al. ICML 2024) with its TP/EP communication,
    and the LM head it shares with the model."""
    g_dense, g_moe = _layer_gemm(n_dec, s, tp, ep, tpa, r, w, cal)
    c_dense, c_moe = _layer_comm(n_dec, s, tp, ep, tpa, acc, r, fabric, w=w)
    layer = g_moe + c_moe if s.moe_layers else g_dense + c_dense
    return layer + _head(n_dec / (tp / tpa), s, tpa, r, cal)


def _head(rows: F64, s: ModelShape, tpa: F64, r: Rates, cal: Calibration) -> F64:
    """LM head on the last stage for `rows` output rows: vocab-parallel over the attention TP, bf16."""
    return _gemm(rows, s.vocab / tpa, s.hidden, r.bf16_gemm, BF16, r.memory, cal)
