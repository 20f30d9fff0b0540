"""Exact parameter and model-FLOP counts of a `ModelSpec`, as plain Python numbers: the one home for
counting (the FLOP half lives in `wanka.workload.flops` and is re-exported here).

Parameters are counted weight by weight, the way a Hugging Face checkpoint stores them (every matrix,
bias and norm vector), so that the totals match the published sizes exactly. FLOPs follow Megatron-LM's
`num_floating_point_operations` term for term (see `flops_per_step`), so that our "model TFLOP/s" and
MFU mean what NVIDIA's published numbers mean. `layer_split` / `hybrid_layer_split` are the per-layer
parameter split the step model shards over TP and EP x ETP.

Glossary (Megatron-LM names): B global batch (samples), s sequence length, L layers, h hidden, a query
heads, g key/value heads (GQA groups), d head dim, f dense MLP width, V vocabulary, E experts, k top-k.
"""

from __future__ import annotations

from dataclasses import dataclass

from wanka.errors import ConfigError
from wanka.workload.flops import FlopsTerms, flops_per_step, flops_per_token, flops_per_token_terms
from wanka.workload.model import ModelSpec

__all__ = [
    "FlopsTerms",
    "LayerParams",
    "LayerSplit",
    "ParamCounts",
    "flops_per_step",
    "flops_per_token",
    "flops_per_token_terms",
    "hybrid_layer_split",
    "layer_params",
    "layer_split",
    "padded_vocab",
    "param_count",
]


def padded_vocab(vocab: int, tp: int = 1, divisible_by: int = 128) -> int:
    """Megatron-LM's `padded_vocab_size`: vocab rounded up to a multiple of `divisible_by * tp`.

    Source: megatron/training/tokenizer/tokenizer.py `_vocab_size_with_padding`
    (`--make-vocab-size-divisible-by`, default 128).

    >>> padded_vocab(50257, tp=8)
    51200
    """
    if vocab <= 0 or tp <= 0 or divisible_by <= 0:
        raise ConfigError(
            f"padded_vocab needs positive vocab, tp, divisible_by; got {vocab}, {tp}, {divisible_by}"
        )
    multiple = divisible_by * tp
    return -(-vocab // multiple) * multiple


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerParams:
    """Parameters of one decoder layer, by part (counts of scalars)."""

    attention: int
    """Q/K/V/O projections with their biases, MLA low-rank projections and norms, q/k norms, sinks; in a
    hybrid 'M' layer, the Mamba-2 mixer (also in `mamba`)."""
    mlp: int
    """Dense MLP (0 in an MoE layer)."""
    experts: int
    """All routed experts of an MoE layer (0 in a dense layer)."""
    active_experts: int
    """The top-k routed experts one token passes through."""
    shared_experts: int
    router: int
    norms: int
    """The two pre-norms (attention, MLP); one in a hybrid layer."""
    mamba: int = 0
    """Of `attention`, the Mamba-2 mixer (in/out projections, conv1d, A_log, D, dt_bias, gated norm) of a
    hybrid 'M' layer: `attention` counts the sequence mixer, attention or Mamba-2, so the parts still add up."""

    @property
    def total(self) -> int:
        return (
            self.attention
            + self.mlp
            + self.experts
            + self.shared_experts
            + self.router
            + self.norms
        )

    @property
    def active(self) -> int:
        """Parameters one token touches in this layer."""
        return (
            self.attention
            + self.mlp
            + self.active_experts
            + self.shared_experts
            + self.router
            + self.norms
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamCounts:
    """Parameter counts of a model (scalars, not bytes). Sums over all decoder layers unless said otherwise."""

    total: int
    """Every parameter, multi-token-prediction (MTP) modules included."""
    active: int
    """Parameters one token touches: total minus the routed experts it is not sent to (top-k and shared
    experts count); includes the input embedding and the output head, as DeepSeek and Mistral count it."""
    embedding: int
    """Input token embedding table plus the learned position table, if any."""
    head: int
    """Output projection (logits); 0 when tied to the embedding."""
    attention: int
    mlp: int
    """Dense MLPs (all dense layers)."""
    experts: int
    """All routed experts of all MoE layers."""
    active_experts: int
    shared_experts: int
    router: int
    norms: int
    """Every norm vector: per-layer pre-norms and the final norm (q/k and MLA norms are in `attention`)."""
    mtp: int
    """Multi-token-prediction modules (their decoder layer, projection and norms; embedding and head are
    shared with the main model and not counted again)."""
    mtp_active: int
    per_layer: tuple[LayerParams, ...]
    """One record per main decoder layer (MTP layers excluded)."""
    mamba: int = 0
    """Of `attention`, the Mamba-2 mixers of all 'M' layers (hybrid models; `attention` counts every
    sequence mixer, self-attention or Mamba-2)."""

    @property
    def total_without_mtp(self) -> int:
        """The main model only: what DeepSeek-V3's "671B" counts."""
        return self.total - self.mtp

    @property
    def active_without_mtp(self) -> int:
        return self.active - self.mtp_active

    @property
    def non_embedding(self) -> int:
        """Total minus the input embedding (Kaplan et al. 2020's N excludes it; it keeps the head)."""
        return self.total - self.embedding


def _norm_params(model: ModelSpec, width: int) -> int:
    # RMSNorm: weight only; LayerNorm: weight + bias.
    return width * (2 if model.norm == "layernorm" else 1)


def _attention_params(model: ModelSpec) -> int:
    """Parameters of one attention block (no pre-norm)."""
    h, a = model.hidden, model.heads
    if model.mla is not None:
        m = model.mla
        qk_head = m.qk_nope_head_dim + m.qk_rope_head_dim
        if m.q_lora_rank is None:
            q = h * a * qk_head  # q_proj: h -> a*(d_nope+d_rope)
        else:
            q = (
                h * m.q_lora_rank  # q_a_proj (down): h -> r_q
                + m.q_lora_rank  # q_a_layernorm (RMSNorm weight)
                + m.q_lora_rank * a * qk_head
            )  # q_b_proj (up): r_q -> a*(d_nope+d_rope)
        kv = (
            h
            * (
                m.kv_lora_rank + m.qk_rope_head_dim
            )  # kv_a_proj_with_mqa: h -> r_kv + shared rope key
            + m.kv_lora_rank  # kv_a_layernorm
            + m.kv_lora_rank * a * (m.qk_nope_head_dim + m.v_head_dim)
        )  # kv_b_proj: r_kv -> a*(d_nope+d_v)
        o = a * m.v_head_dim * h  # o_proj: a*d_v -> h
        params = q + kv + o
        # DeepSeek-V2/V3 MLA carries no projection biases; attention_bias is ignored for MLA.
    else:
        d, g = model.d_head, model.kv_heads
        q, k, v = a * d, g * d, g * d
        params = h * (q + k + v)  # q, k, v projections
        params += q * h  # output projection
        if model.attention_bias in ("qkv", "all"):
            params += q + k + v  # q/k/v biases
        if model.attention_bias == "all":
            params += h  # output bias
        if model.qk_norm:
            params += 2 * d  # per-head RMSNorm on q and k (shared over heads)
    if model.attention_sinks:
        params += a  # one sink logit per head (gpt-oss)
    return params


def _mlp_params(model: ModelSpec, ffn: int) -> int:
    """One MLP (or one expert) of width `ffn`: gated = gate, up, down (3 matrices); else up, down (2)."""
    h = model.hidden
    matrices = 3 if model.gated else 2
    params = matrices * h * ffn
    if model.mlp_bias:
        params += (matrices - 1) * ffn + h  # biases of gate/up (ffn each) and down (h)
    return params


def _mamba_params(model: ModelSpec) -> int:
    """Parameters of one Mamba-2 mixer (no pre-norm), as the Hugging Face NemotronH checkpoint stores them
    (`mixer.in_proj`, `conv1d.weight/bias`, `dt_bias`, `A_log`, `D`, `norm.weight`, `out_proj`)."""
    mb = model.mamba
    assert mb is not None
    h = model.hidden
    params = h * mb.in_proj_width  # in_proj: h -> z, x, B, C, dt (no bias)
    params += mb.conv_dim * mb.conv_kernel  # depthwise conv1d over x, B, C
    if mb.conv_bias:
        params += mb.conv_dim
    params += 3 * mb.heads  # dt_bias, A_log, D: one per head
    params += mb.d_inner  # gated RMSNorm weight before out_proj
    params += mb.d_inner * h  # out_proj: d_inner -> h (no bias)
    return params


def _hybrid_layer_params(model: ModelSpec, index: int) -> LayerParams:
    """One layer of a hybrid model: one pre-norm and one mixer or MLP, by its `layer_pattern` symbol."""
    kind = model.layer_pattern[index]  # type: ignore[index]
    norm = _norm_params(model, model.hidden)
    zero = dict(
        attention=0, mlp=0, experts=0, active_experts=0, shared_experts=0, router=0, norms=norm
    )
    if kind == "M":
        mixer = _mamba_params(model)
        return LayerParams(**{**zero, "attention": mixer, "mamba": mixer})
    if kind == "*":
        return LayerParams(**{**zero, "attention": _attention_params(model)})
    if kind == "-":
        return LayerParams(**{**zero, "mlp": _mlp_params(model, model.ffn_hidden)})
    moe = model.moe
    assert moe is not None
    expert = _mlp_params(model, moe.expert_ffn)
    return LayerParams(
        **{
            **zero,
            "experts": moe.experts * expert,
            "active_experts": moe.top_k * expert,
            "shared_experts": moe.shared_experts * _mlp_params(model, moe.shared_ffn),
            "router": model.hidden * moe.experts + (moe.experts if moe.router_bias else 0),
        }
    )


def layer_params(model: ModelSpec, index: int) -> LayerParams:
    """Parameters of decoder layer `index` (0-based); index >= layers gives an MTP layer's block.

    MoE layers are the last `layers - moe.dense_layers` (DeepSeek `first_k_dense_replace`); an MTP block is
    an MoE block when the last main layer is. Hybrid models (`layer_pattern`): one pre-norm plus the
    layer's single mixer ('M' Mamba-2, '*' attention) or MLP ('E' MoE, '-' dense).
    """
    if index < 0:
        raise ConfigError(f"layer index must be >= 0, got {index}")
    if model.layer_pattern is not None:
        if index >= model.layers:
            raise ConfigError(
                f"hybrid model {model.name!r}: layer index {index} out of range (no MTP layers)"
            )
        return _hybrid_layer_params(model, index)
    attention = _attention_params(model)
    norms = 2 * _norm_params(model, model.hidden)  # pre-attention and pre-MLP norms
    moe = model.moe
    is_moe = moe is not None and min(index, model.layers - 1) >= moe.dense_layers
    if not is_moe:
        return LayerParams(
            attention=attention,
            mlp=_mlp_params(model, model.ffn_hidden),
            experts=0,
            active_experts=0,
            shared_experts=0,
            router=0,
            norms=norms,
        )
    assert moe is not None
    expert = _mlp_params(model, moe.expert_ffn)
    router = model.hidden * moe.experts + (
        moe.experts if moe.router_bias else 0
    )  # h -> E gate (+ bias)
    return LayerParams(
        attention=attention,
        mlp=0,
        experts=moe.experts * expert,
        active_experts=moe.top_k * expert,
        shared_experts=moe.shared_experts * _mlp_params(model, moe.shared_ffn),
        router=router,
        norms=norms,
    )


def param_count(model: ModelSpec) -> ParamCounts:
    """Count every parameter of `model`, by part.

    Per layer: attention (Q/K/V/O or MLA's low-rank projections), MLP or experts + shared experts + router,
    two pre-norms. Model-wide: token embedding (V*h), learned positions (s*h) if any, final norm, output
    head (V*h unless tied). Each DeepSeek MTP module adds a decoder block, `eh_proj` (2h -> h) and three
    norms (`enorm`, `hnorm`, the shared head's norm); it reuses the main embedding and head.

    >>> from wanka.workload.presets import get_model
    >>> param_count(get_model("llama3-70b")).total
    70553706496
    """
    h, V = model.hidden, model.vocab
    per_layer = tuple(layer_params(model, i) for i in range(model.layers))
    embedding = V * h  # token embedding table
    if model.learned_positions:
        embedding += model.seq_len * h  # learned absolute position table (GPT-2/3)
    head = 0 if model.tied_embeddings else V * h  # untied output projection
    final_norm = _norm_params(model, h)
    mtp_block = layer_params(model, model.layers) if model.mtp_layers else None
    mtp_extra = 2 * h * h + 3 * _norm_params(
        model, h
    )  # eh_proj (2h -> h) + enorm, hnorm, head norm
    mtp = model.mtp_layers * (mtp_block.total + mtp_extra) if mtp_block else 0
    mtp_active = model.mtp_layers * (mtp_block.active + mtp_extra) if mtp_block else 0

    def total_of(field: str) -> int:
        return sum(getattr(p, field) for p in per_layer)

    layers_total = sum(p.total for p in per_layer)
    layers_active = sum(p.active for p in per_layer)
    return ParamCounts(
        total=embedding + head + final_norm + layers_total + mtp,
        active=embedding + head + final_norm + layers_active + mtp_active,
        embedding=embedding,
        head=head,
        attention=total_of("attention"),
        mlp=total_of("mlp"),
        experts=total_of("experts"),
        active_experts=total_of("active_experts"),
        shared_experts=total_of("shared_experts"),
        router=total_of("router"),
        norms=total_of("norms") + final_norm,
        mtp=mtp,
        mtp_active=mtp_active,
        per_layer=per_layer,
        mamba=total_of("mamba"),
    )


@dataclass(frozen=True, slots=True)
class LayerSplit:
    """Parameters of one decoder layer as the step model shards them (scalars, floats).

    The step model's own count, kept as it has been calibrated: projection matrices and the layer's two
    norm weight vectors only. It leaves out what `layer_params` counts on top (projection and MLP biases,
    LayerNorm biases, q/k norms, attention sinks, router biases), so for RMSNorm models without biases
    (Llama, Mixtral, DeepSeek) the two agree exactly; for the others `layer_params` is the exact count.
    """

    attention: float
    """Attention block (MLA: with its two low-rank norms) plus the layer's two pre-norms (2h)."""
    dense_mlp: float
    """A dense MLP (TP-split)."""
    moe_replicated: float
    """Shared experts and the router of an MoE layer (TP-split, replicated over EP)."""
    experts: float
    """All routed experts of an MoE layer (split over EP x ETP)."""


def layer_split(model: ModelSpec) -> LayerSplit:
    """`LayerSplit` of one layer of `model`."""
    h, a = model.hidden, model.heads
    if model.mla is not None:
        m = model.mla
        dq = m.qk_nope_head_dim + m.qk_rope_head_dim
        q = (
            (h * m.q_lora_rank + m.q_lora_rank * a * dq + m.q_lora_rank)
            if m.q_lora_rank
            else h * a * dq
        )
        attn = (
            q
            + h * (m.kv_lora_rank + m.qk_rope_head_dim)
            + m.kv_lora_rank * a * (m.qk_nope_head_dim + m.v_head_dim)
        )
        attn += m.kv_lora_rank + a * m.v_head_dim * h + 2 * h
    else:
        d = model.d_head
        attn = h * (a + 2 * model.kv_heads) * d + a * d * h + 2 * h  # QKV, projection, 2 norms
    ng = 3 if model.gated else 2
    dense = ng * h * model.ffn_hidden
    if model.moe is None:
        return LayerSplit(float(attn), float(dense), 0.0, 0.0)
    moe = model.moe
    shared = ng * h * moe.shared_experts * moe.shared_ffn + h * moe.experts  # shared + router
    experts = ng * h * moe.expert_ffn * moe.experts
    return LayerSplit(float(attn), float(dense), float(shared), float(experts))


def hybrid_layer_split(model: ModelSpec) -> dict[str, float]:
    """Replicated (non-expert) parameters of one hybrid layer of each kind ('M', '*', '-', 'E'), its one
    pre-norm included; the routed experts of an 'E' layer are `layer_split(model).experts`."""
    h = model.hidden
    sp = layer_split(model)
    out = {
        "*": sp.attention - h,
        "-": sp.dense_mlp + h,
        "E": sp.moe_replicated + h,
        "M": 0.0,
    }  # one norm per layer
    if model.mamba is not None:
        mb = model.mamba
        out["M"] = float(
            h * mb.in_proj_width
            + mb.conv_dim * (mb.conv_kernel + 1)
            + 3 * mb.heads
            + mb.d_inner
            + mb.d_inner * h
            + h
        )
    return out
