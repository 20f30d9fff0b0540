"""Model-FLOP counts of a `ModelSpec` (Megatron-LM accounting), as plain Python numbers.

FLOPs follow Megatron-LM's `num_floating_point_operations` term for term (see `flops_per_step`), so that
our "model TFLOP/s" and MFU mean what NVIDIA's published numbers mean. Parameter counts are in
`wanka.workload.counts` (which re-exports these names: one home for counting, in `workload`).

Glossary (Megatron-LM names): B global batch (samples), s sequence length, L layers, h hidden, a query
heads, g key/value heads (GQA groups), d head dim, f dense MLP width, V vocabulary, E experts, k top-k.
"""

from __future__ import annotations

from dataclasses import dataclass

from wanka.errors import ConfigError
from wanka.workload.model import ModelSpec

__all__ = ["FlopsTerms", "flops_per_step", "flops_per_token", "flops_per_token_terms"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FlopsTerms:
    """Megatron-LM model FLOPs per token of one sequence of length `seq_len`, split by kind.

    Every field is a forward-pass count (2 FLOPs per multiply-add) per token; training costs
    `fwd_bwd_factor` (3: forward, backward data-gradient, backward weight-gradient) times the sum.
    Summed over the layers of the model (MTP layers included).
    """

    seq_len: int
    attention_proj: float
    """Q/K/V/O (or MLA down/up) projection GEMMs."""
    attention_core: float
    """QK^T and softmax(QK^T)V, with Megatron's causal halving when `causal`."""
    attention_core_windowed: float
    """The same, counting only the keys a sliding-window layer really attends to (hardware FLOPs, not
    Megatron's model FLOPs; equal to `attention_core` without sliding windows)."""
    mlp_dense: float
    """Dense-layer MLPs."""
    moe_routed: float
    """Top-k routed experts."""
    moe_shared: float
    """Shared experts."""
    mtp_proj: float
    """MTP `eh_proj` GEMM and norms (Megatron's `3h + 2h^2` term)."""
    logits: float
    """Output head, once per prediction (1 + mtp_layers heads)."""
    fwd_bwd_factor: int = 3
    mamba_proj: float = 0.0
    """Mamba-2 in_proj and out_proj GEMMs (hybrid models), as Megatron counts them (d_inner = 2h)."""
    mamba_scan: float = 0.0
    """Mamba-2 selective scan, Megatron's `7 * d_inner * state` per token (hybrid models)."""

    @property
    def gemm(self) -> float:
        """Forward weight-GEMM FLOPs per token other than the logits."""
        return (
            self.attention_proj
            + self.mlp_dense
            + self.moe_routed
            + self.moe_shared
            + self.mtp_proj
            + self.mamba_proj
        )

    @property
    def forward(self) -> float:
        """All forward model FLOPs per token."""
        return self.gemm + self.attention_core + self.mamba_scan + self.logits

    @property
    def training(self) -> float:
        """Forward + backward model FLOPs per token (Megatron-LM accounting)."""
        return self.fwd_bwd_factor * self.forward


def _layer_kinds(model: ModelSpec) -> tuple[int, int, int]:
    """(dense MLP layers, MoE layers, MTP layers), mapped as Megatron's `moe_layer_freq` list would be."""
    mtp = model.mtp_layers
    if model.moe is None:
        return model.layers + mtp, 0, mtp
    last_is_moe = (
        1 if model.moe_layers > 0 else 0
    )  # Megatron: MTP layers copy the last layer's kind
    return (
        model.dense_mlp_layers + (1 - last_is_moe) * mtp,
        model.moe_layers + last_is_moe * mtp,
        mtp,
    )


def flops_per_token_terms(
    model: ModelSpec, seq_len: int | None = None, *, causal: bool = True
) -> FlopsTerms:
    """Megatron-LM model FLOPs per token, split into the pieces a performance model times separately.

    Args:
        model: the architecture.
        seq_len: tokens per sequence (the attention span); null = `model.seq_len`.
        causal: halve the attention-score and attention-over-value FLOPs (only half of the causal mask is
            non-zero), as Megatron-LM has done since 2025. False counts the full s x s matrix, as Megatron-LM
            did before and as Narayanan et al. 2021 eq. 3 does.

    Returns:
        Forward FLOPs per token by kind; `.training` is Megatron's per-token count (x3 fwd+bwd).
    """
    if model.type == "moe-hybrid" and model.layer_pattern is None:
        raise ConfigError(
            f"model {model.name!r} is a hybrid Mamba/attention model; its FLOPs need the "
            "layer pattern: give model.layer_pattern and model.mamba (or a preset that has them)"
        )
    s = int(seq_len if seq_len is not None else model.seq_len)
    if s <= 0:
        raise ConfigError(f"seq_len must be positive, got {s}")
    if model.layer_pattern is not None:
        return _hybrid_flops_terms(model, s, causal)
    h, a = model.hidden, model.heads
    mask = 0.5 if causal else 1.0  # causal mask: only half of QK^T is non-zero
    fma = 2  # a multiply-add is 2 FLOPs
    ffn_matrices = 3 if model.gated else 2  # SwiGLU: h->2f and f->h GEMMs; else h->f, f->h
    dense, moe_layers, mtp = _layer_kinds(model)
    attn_layers = model.layers + mtp  # every layer (and MTP block) has attention

    if model.mla is not None:
        m = model.mla
        qk, rope, dv = m.qk_nope_head_dim, m.qk_rope_head_dim, m.v_head_dim
        if m.q_lora_rank is None:
            q_term = h * a * (qk + rope)  # q proj
        else:
            q_term = m.q_lora_rank * (h + a * (qk + rope) + 1)  # q down + q up + q norm
        proj = (
            q_term
            + m.kv_lora_rank * (h + a * (qk + dv) + 1)  # kv down + kv up + kv norm
            + h * rope  # shared rope key projection
            + a * dv * h
        )  # o proj
        core_per_key = a * (qk + rope) + a * dv  # QK^T over (d_nope+d_rope), AV over d_v
    else:
        d = model.d_head
        q_size, kv_size = d * a, d * model.kv_heads  # query / key (= value) projection sizes
        proj = h * (q_size + 2 * kv_size) + q_size * h  # qkv proj + out proj
        core_per_key = 2 * q_size  # QK^T and (QK^T)V
    attention_proj = fma * proj * attn_layers
    attention_core = fma * core_per_key * s * mask * attn_layers
    windows = list(model.sliding_layers) + [False] * mtp
    windowed = 0.0
    for sliding in windows:
        if sliding and model.sliding_window is not None and model.sliding_window < s:
            w = model.sliding_window  # mean keys per query under a causal window
            span = (w * (w + 1) / 2 + (s - w) * w) / s if causal else float(w)
            windowed += fma * core_per_key * span
        else:
            windowed += fma * core_per_key * s * mask

    mlp_dense = fma * h * model.ffn_hidden * ffn_matrices * dense
    moe_routed: float
    moe_shared: float
    if model.moe is not None:
        moe = model.moe
        moe_routed = fma * h * moe.expert_ffn * moe.top_k * ffn_matrices * moe_layers
        # Megatron's --moe-shared-expert-intermediate-size is the summed width of all shared experts.
        moe_shared = fma * h * moe.shared_experts * moe.shared_ffn * ffn_matrices * moe_layers
    else:
        moe_routed = moe_shared = 0.0
    mtp_proj = fma * mtp * (3 * h + 2 * h * h)  # MTP eh norm + final norm, eh proj (2h -> h)
    logits = fma * h * model.vocab * (mtp + 1)  # final logits + one per MTP head
    return FlopsTerms(
        seq_len=s,
        attention_proj=float(attention_proj),
        attention_core=float(attention_core),
        attention_core_windowed=float(windowed),
        mlp_dense=float(mlp_dense),
        moe_routed=float(moe_routed),
        moe_shared=float(moe_shared),
        mtp_proj=float(mtp_proj),
        logits=float(logits),
    )


def _hybrid_flops_terms(model: ModelSpec, s: int, causal: bool) -> FlopsTerms:
    """Megatron-LM's hybrid branch of `num_floating_point_operations` (`hybrid_flops`), per token.

    Source: NVIDIA/Megatron-LM megatron/training/training.py at commit
    001b00c2734d8f0fad096fe48a382fedf755d321, `attn_layer_flops`, `mlp_layer_flops`, `moe_layer_flops`,
    `mamba_layer_flops`, `hybrid_flops`; layer counts from the pattern (`get_hybrid_layer_counts`).
    Per token and layer, forward (fwd+bwd = 3x):

        attention ('*'): 4*h*p*(h + h*g/a + s/2),  p = d*a/h   (= 2*(2adh + 2gdh) + 2ads, causal)
        dense MLP ('-'): 4*f*h*(3/2 if swiglu else 1)
        MoE ('E'):       4*h*f_moe*k*(3/2 if swiglu else 1) + 4*h*f_shared*(3/2 if swiglu else 1)
        Mamba ('M'):     2*h*(2*d_in + 2*G*N + n_heads) + 7*d_in*N + 2*d_in*h,  d_in = 2*h
        logits:          2*h*V

    Megatron's Mamba term takes d_in = 2h (Mamba's default expand = 2) whatever the head count; it is
    reproduced as is (Nemotron 3 Nano: 64 heads x 64 = 4096 inner channels, but d_in = 2 * 2688 = 5376),
    so model FLOPs and MFU match Megatron's logs. The step-time model uses the real d_inner.
    """
    h, a, d, g = model.hidden, model.heads, model.d_head, model.kv_heads
    fma = 2
    mask = 0.5 if causal else 1.0
    ffn_matrices = 3 if model.gated else 2
    n_attn, n_mlp, n_moe, n_mamba = (
        model.attention_layers,
        model.dense_mlp_layers,
        model.moe_layers,
        model.mamba_layers,
    )
    proj = h * (a * d + 2 * g * d) + a * d * h  # 4*h*p*(h + h*g/a) / fma
    core = 2 * a * d * s * mask  # 4*h*p*s/2 / fma
    attention_proj = fma * proj * n_attn
    attention_core = fma * core * n_attn
    mlp_dense = fma * h * model.ffn_hidden * ffn_matrices * n_mlp
    moe_routed: float
    moe_shared: float
    if model.moe is not None:
        moe = model.moe
        moe_routed = fma * h * moe.expert_ffn * moe.top_k * ffn_matrices * n_moe
        moe_shared = fma * h * moe.shared_experts * moe.shared_ffn * ffn_matrices * n_moe
    else:
        moe_routed = moe_shared = 0.0
    mamba_proj: float
    mamba_scan: float
    if model.mamba is not None:
        mb = model.mamba
        d_in = 2 * h  # Megatron: d_in = 2 * hidden_size
        mamba_proj = (
            fma * h * (2 * d_in + 2 * mb.groups * mb.state_size + mb.heads)  # in_proj
            + fma * d_in * h
        ) * n_mamba  # out_proj
        mamba_scan = 7 * d_in * mb.state_size * n_mamba  # scan
    else:
        mamba_proj = mamba_scan = 0.0
    logits = fma * h * model.vocab
    return FlopsTerms(
        seq_len=s,
        attention_proj=float(attention_proj),
        attention_core=float(attention_core),
        attention_core_windowed=float(attention_core),
        mlp_dense=float(mlp_dense),
        moe_routed=float(moe_routed),
        moe_shared=float(moe_shared),
        mtp_proj=0.0,
        logits=float(logits),
        mamba_proj=float(mamba_proj),
        mamba_scan=float(mamba_scan),
    )


def flops_per_token(model: ModelSpec, seq_len: int | None = None, *, causal: bool = True) -> float:
    """Training (fwd + bwd) model FLOPs per token: `flops_per_step / (global_batch_size * seq_len)`."""
    return flops_per_token_terms(model, seq_len, causal=causal).training


def flops_per_step(
    model: ModelSpec, global_batch_size: int, seq_len: int | None = None, *, causal: bool = True
) -> float:
    """Model FLOPs of one training step, Megatron-LM accounting (`num_floating_point_operations`).

    Source: NVIDIA/Megatron-LM, megatron/training/training.py, `num_floating_point_operations(args,
    batch_size)` -> `transformer_flops()` (read at commit 001b00c2734d8f0fad096fe48a382fedf755d321,
    https://github.com/NVIDIA/Megatron-LM/blob/001b00c2734d8f0fad096fe48a382fedf755d321/megatron/training/training.py).
    With B = global_batch_size, s = seq_len, fma = 2, ffn = 3 if gated (SwiGLU) else 2::

        FLOPs = B * s * (
            3*fma*h * ( f*ffn * L_dense                       # dense MLPs (DeepSeek first-k-dense too)
                      + f_moe*k*ffn * L_moe                   # routed experts
                      + f_shared*ffn * L_moe )                # shared experts (summed width)
          + attn * (L + mtp)                                   # self attention, below
          + 3*fma*mtp*(3h + 2h^2)                              # MTP eh norm + final norm, eh proj
          + 3*fma*h*V*(mtp + 1) )                              # logits (final + MTP heads)

        GQA/MHA: attn = 3*fma*( h*(a*d + 2*g*d) + a*d*s/2*2 + a*d*h )
        MLA:     attn = 3*fma*( q_term + r_kv*(h + a*(d_nope + d_v) + 1) + h*d_rope + a*d_v*h
                               + s*a*(d_nope + d_rope)/2 + s*a*d_v/2 ),
                 q_term = r_q*(h + a*(d_nope + d_rope) + 1)  (or h*a*(d_nope + d_rope) without q LoRA)

    MTP layers are counted as MoE layers when the last layer is one (Megatron's `last_layer_is_moe`).
    The /2 is the causal mask; `causal=False` drops it (Megatron-LM before 2025 and Narayanan et al. 2021
    count the full s x s matrix, e.g. 96*B*s*L*h^2*(1 + s/(6h) + V/(16*L*h)) for GPT-3). Megatron uses the
    padded vocabulary: pass a model whose `vocab` is padded to compare with a run's log exactly.

    >>> from wanka.workload.presets import get_model
    >>> round(flops_per_step(get_model("llama3-8b"), 1, 8192) / 1e12, 1)
    421.6
    """
    if global_batch_size <= 0:
        raise ConfigError(f"global_batch_size must be positive, got {global_batch_size}")
    terms = flops_per_token_terms(model, seq_len, causal=causal)
    return global_batch_size * terms.seq_len * terms.training
