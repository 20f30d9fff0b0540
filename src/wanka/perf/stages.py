"""Pipeline stages: layers per stage (embedding on the first, head + loss on the last), the time of one
micro-batch through each stage, the slowest stage that sets the pace, and the parameters per stage.

Layers split as evenly as Megatron does: stages 0..rem-1 take one extra layer. Hybrid models (a
`layer_pattern`) count each kind of layer per stage from the pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wanka.perf.context import BF16_BYTES, F64, StepContext
from wanka.perf.exposed import StageParams
from wanka.perf.layer import LayerTimes, gemm_s
from wanka.workload.counts import hybrid_layer_split, layer_split

__all__ = [
    "CE_BYTES_PER_LOGIT",
    "LayerComm",
    "StageLayers",
    "slowest_stage",
    "stage_layers",
    "stage_params",
    "stage_times",
]

CE_BYTES_PER_LOGIT = (
    12.0  # vocab-parallel cross-entropy fwd+bwd: read bf16 logits, fp32 softmax, grad
)


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerComm:
    """Exposed communication of one layer per micro-batch (forward + backward)."""

    tp: F64
    cp: F64
    ep: F64


@dataclass(frozen=True, slots=True, kw_only=True)
class StageLayers:
    """Layers on the first, last and a middle stage; leading dense-MLP layers on the first and last."""

    n_first: F64
    n_last: F64
    n_mid: F64
    k_first: F64
    k_last: F64
    counts: tuple[dict[str, F64], ...] | None
    """Hybrid models: layers of each kind ('M', '*', '-', 'E') on the first, last and middle stage."""


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


def stage_layers(c: StepContext) -> StageLayers:
    """Layers per pipeline stage of every plan."""
    L, pp = c.model.layers, c.pp
    n_hi = np.ceil(L / pp)
    n_lo = np.floor(L / pp)
    rem = L - n_lo * pp  # stages 0..rem-1 take one extra layer
    n_first = np.where(rem > 0, n_hi, n_lo)
    n_last = np.where(pp == 1, float(L), np.where(rem > 0, n_lo, n_hi))
    n_mid = np.where(rem > 1, n_hi, n_lo)
    n_dense_layers = float(c.model.dense_mlp_layers)  # leading dense-MLP layers (DeepSeek style)
    counts = None
    if c.model.layer_pattern is not None:
        counts = _hybrid_stage_counts(c.model.layer_pattern, n_first, n_last, n_mid)
    return StageLayers(
        n_first=n_first,
        n_last=n_last,
        n_mid=n_mid,
        k_first=np.minimum(n_dense_layers, n_first),
        k_last=np.where(pp == 1, n_dense_layers, np.maximum(0.0, n_dense_layers - (L - n_last))),
        counts=counts,
    )


def _head_and_embedding(c: StepContext) -> tuple[F64, F64, F64]:
    """(head forward, head backward, embedding) seconds per micro-batch."""
    T, h, V, tp, spd = c.T, c.h, c.V, c.tp, c.spd
    head_gemm = gemm_s(T, np.ceil(V / (128 * tp)) * 128, h, c.bf16_rate, c.cal)  # vocab padded
    head_mem = (
        CE_BYTES_PER_LOGIT * T * V / tp + 4 * h * BF16_BYTES * T / spd
    ) / c.mem_rate  # CE + final norm
    head_fwd = head_gemm + head_mem / 2
    head_bwd = 2 * head_gemm + head_mem / 2
    emb = 3 * T * h * BF16_BYTES / spd / c.mem_rate  # lookup write + fp32 grad scatter-add
    return head_fwd, head_bwd, emb


def _hybrid_kinds(c: StepContext, lt: LayerTimes, moe_host: float) -> dict[str, tuple[F64, ...]]:
    """Per-kind (forward, backward, recompute) seconds of one hybrid layer."""
    T, mem_rate, rc = c.T, c.mem_rate, c.rc
    t_mem_attn = lt.elem_attn * BF16_BYTES * T / mem_rate
    t_mem_dense = lt.elem_dense_mlp * BF16_BYTES * T / mem_rate
    t_mem_moe = lt.elem_moe_mlp * BF16_BYTES * T / mem_rate
    attn_f, attn_b = (
        lt.t_proj + lt.t_attn_fwd + t_mem_attn,
        2.0 * lt.t_proj + lt.t_attn_bwd + 2.0 * t_mem_attn,
    )
    dmlp_f, dmlp_b = lt.t_dense_mlp + t_mem_dense, 2.0 * lt.t_dense_mlp + 2.0 * t_mem_dense
    emlp_f, emlp_b = lt.t_moe_mlp + t_mem_moe, 2.0 * lt.t_moe_mlp + 2.0 * t_mem_moe
    full = rc == 2
    return {  # symbol: (fwd, bwd, recompute)
        "M": (lt.mamba_fwd, lt.mamba_bwd, np.where(full, lt.mamba_fwd, 0.0)),
        "*": (attn_f, attn_b, np.where(full, attn_f, np.where(rc == 1, lt.t_attn_fwd, 0.0))),
        "-": (dmlp_f, dmlp_b, np.where(full, dmlp_f, 0.0)),
        "E": (emlp_f, emlp_b + moe_host, np.where(full, emlp_f, 0.0)),
    }


def stage_times(
    c: StepContext, lt: LayerTimes, comm: LayerComm, sl: StageLayers
) -> tuple[dict[str, F64], ...]:
    """(first, last, middle) stage: fwd, bwd, rc, tp, cp, ep seconds of one micro-batch."""
    moe_host = c.cal.moe_layer_overhead_s if c.model.moe is not None else 0.0

    def stage(n: F64, k_d: F64) -> dict[str, F64]:
        n_m = n - k_d
        return {
            "fwd": k_d * lt.dense_fwd + n_m * lt.moe_fwd,
            "bwd": k_d * lt.dense_bwd + n_m * (lt.moe_bwd + moe_host),
            "rc": k_d * lt.dense_rc + n_m * lt.moe_rc,
            "tp": n * comm.tp,
            "cp": n * comm.cp,
            "ep": n_m * comm.ep,
        }

    if sl.counts is not None:
        # Hybrid: each layer is one block. Per-kind per-layer times; TP collectives once per block (half of
        # a transformer layer's two); CP ring only on attention; all-to-all only on MoE layers.
        kinds = _hybrid_kinds(c, lt, moe_host)

        def hstage(cnt: dict[str, F64], n: F64) -> dict[str, Any]:
            return {
                "fwd": sum(cnt[k] * kinds[k][0] for k in kinds),
                "bwd": sum(cnt[k] * kinds[k][1] for k in kinds),
                "rc": sum(cnt[k] * kinds[k][2] for k in kinds),
                "tp": n * comm.tp / 2.0,
                "cp": cnt["*"] * comm.cp,
                "ep": cnt["E"] * comm.ep,
            }

        cnt_first, cnt_last, cnt_mid = sl.counts
        first, last, mid = (
            hstage(cnt_first, sl.n_first),
            hstage(cnt_last, sl.n_last),
            hstage(cnt_mid, sl.n_mid),
        )
    else:
        first = stage(sl.n_first, sl.k_first)
        last = stage(sl.n_last, sl.k_last)
        mid = stage(sl.n_mid, np.zeros_like(sl.n_mid))
    head_fwd, head_bwd, emb = _head_and_embedding(c)
    first["fwd"] = first["fwd"] + emb / 3
    first["bwd"] = first["bwd"] + 2 * emb / 3
    last["fwd"] = last["fwd"] + head_fwd
    last["bwd"] = last["bwd"] + head_bwd
    if c.model.mtp_layers:
        last["fwd"] = last["fwd"] + c.model.mtp_layers * (lt.moe_fwd + head_fwd)
        last["bwd"] = last["bwd"] + c.model.mtp_layers * (lt.moe_bwd + head_bwd)
    return first, last, mid


def slowest_stage(
    c: StepContext, first: dict[str, F64], last: dict[str, F64], mid: dict[str, F64]
) -> dict[str, F64]:
    """The stage whose micro-batch takes longest (it sets the pace of the pipeline), per plan."""

    def total(st: dict[str, F64]) -> F64:
        return st["fwd"] + st["bwd"] + st["rc"] + st["tp"] + st["cp"] + st["ep"]

    t_first, t_last, t_mid = total(first), total(last), np.where(c.pp > 2, total(mid), 0.0)
    use_last = t_last > t_first
    slow = {k2: np.where(use_last, last[k2], first[k2]) for k2 in first}
    use_mid = t_mid > np.maximum(t_first, t_last)
    return {k2: np.where(use_mid, mid[k2], slow[k2]) for k2 in slow}


def stage_params(c: StepContext, sl: StageLayers) -> StageParams:
    """Parameters per GPU on the first and last stage (embedding first, head and final norm last)."""
    model, h, V, pp, tp = c.model, c.h, c.V, c.pp, c.tp
    split = layer_split(model)
    p_emb = V * h
    head_params = 0.0 if (model.tied_embeddings) else p_emb
    if model.learned_positions:
        p_emb += c.s * h
    ends = np.where(pp > 1, p_emb if model.tied_embeddings else head_params, head_params) + h
    expert_split = c.ep * c.etp

    def one(n: F64, k_d: F64, first_stage: Any, last_stage: Any) -> tuple[F64, F64]:
        n_m = n - k_d
        dense = (
            n * split.attention
            + k_d * split.dense_mlp
            + n_m * split.moe_replicated
            + np.where(first_stage, p_emb, 0.0)
            + np.where(last_stage, ends, 0.0)
        )
        return dense / tp, n_m * split.experts / expert_split  # TP-split dense, EP x ETP experts

    if sl.counts is not None:
        hp = hybrid_layer_split(model)

        def hone(cnt: dict[str, F64], first_stage: Any, last_stage: Any) -> tuple[F64, F64]:
            dense = (
                sum(cnt[k] * hp[k] for k in "M*-E")
                + np.where(first_stage, p_emb, 0.0)
                + np.where(last_stage, ends, 0.0)
            )
            return dense / tp, cnt["E"] * split.experts / expert_split

        pd_first, pe_first = hone(sl.counts[0], True, pp == 1)
        pd_last, pe_last = hone(sl.counts[1], pp == 1, True)
    else:
        pd_first, pe_first = one(sl.n_first, sl.k_first, True, pp == 1)
        pd_last, pe_last = one(sl.n_last, sl.k_last, pp == 1, True)
    return StageParams(
        pd_first=pd_first,
        pe_first=pe_first,
        pd_last=pd_last,
        pe_last=pe_last,
        pd=np.maximum(pd_first, pd_last),
        pe=np.where(pd_first >= pd_last, pe_first, pe_last),
    )
