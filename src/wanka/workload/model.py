"""Model architecture records (frozen, validated). Counting lives in `workload.counts`.

Names follow Megatron-LM: `hidden` (h), `ffn_hidden` (dense MLP width), `heads` (query heads, a),
`kv_heads` (GQA groups), `head_dim` (d, default h/a), `vocab` (V), `layers` (L).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wanka.errors import ConfigError

__all__ = [
    "ACTIVATIONS",
    "ATTENTION_BIASES",
    "HYBRID_SYMBOLS",
    "NORMS",
    "MLASpec",
    "MambaSpec",
    "MoESpec",
    "ModelSpec",
]

#: MLP activations. Gated ones (swiglu, geglu) have three weight matrices per MLP, the others two.
ACTIVATIONS = ("swiglu", "geglu", "gelu", "relu", "squared-relu")
#: Normalisation layers: RMSNorm has a weight vector, LayerNorm a weight and a bias vector.
NORMS = ("rmsnorm", "layernorm")
#: Which attention projections carry a bias: none (Llama), q/k/v only (Qwen2), all four (GPT-2/3, gpt-oss).
ATTENTION_BIASES = ("none", "qkv", "all")
#: Megatron-LM `hybrid_override_pattern` symbols (megatron/core/ssm/mamba_hybrid_layer_allocation.py
#: `Symbols`): each character is one Megatron "layer" holding one mixer or one MLP.
HYBRID_SYMBOLS = {"M": "Mamba-2 mixer", "*": "self-attention", "E": "MoE MLP", "-": "dense MLP"}


def _positive(where: str, **values: float | None) -> None:
    for k, v in values.items():
        if v is not None and v <= 0:
            raise ConfigError(f"{where}: {k} must be positive, got {v}")


@dataclass(frozen=True, slots=True, kw_only=True)
class MoESpec:
    """Mixture-of-experts layers (Megatron `--num-experts`, `--moe-router-topk`, `--moe-ffn-hidden-size`)."""

    experts: int
    top_k: int
    expert_ffn: int
    shared_experts: int = 0
    shared_expert_ffn: int | None = None
    """Width of each shared expert; null means expert_ffn."""
    dense_layers: int = 0
    """Leading layers with a dense MLP of width ffn_hidden instead of experts (DeepSeek `first_k_dense_replace`)."""
    capacity_factor: float | None = None
    """Token capacity per expert as a multiple of the even share; null = dropless."""
    router_bias: bool = False
    """The router carries one bias per expert (gpt-oss router bias; DeepSeek-V3 `e_score_correction_bias`)."""

    def __post_init__(self) -> None:
        _positive(
            "moe",
            experts=self.experts,
            top_k=self.top_k,
            expert_ffn=self.expert_ffn,
            shared_expert_ffn=self.shared_expert_ffn,
            capacity_factor=self.capacity_factor,
        )
        if self.top_k > self.experts:
            raise ConfigError(f"moe: top_k ({self.top_k}) exceeds experts ({self.experts})")
        if self.shared_experts < 0 or self.dense_layers < 0:
            raise ConfigError("moe: shared_experts and dense_layers must be >= 0")

    @property
    def shared_ffn(self) -> int:
        return self.shared_expert_ffn or self.expert_ffn


@dataclass(frozen=True, slots=True, kw_only=True)
class MLASpec:
    """Multi-head latent attention (DeepSeek-V2/V3): low-rank q and kv projections."""

    q_lora_rank: int | None
    """Rank of the query down-projection; null = full-rank query projection (V2-Lite)."""
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int

    def __post_init__(self) -> None:
        _positive(
            "mla",
            q_lora_rank=self.q_lora_rank,
            kv_lora_rank=self.kv_lora_rank,
            qk_nope_head_dim=self.qk_nope_head_dim,
            qk_rope_head_dim=self.qk_rope_head_dim,
            v_head_dim=self.v_head_dim,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MambaSpec:
    """Mamba-2 mixer of a hybrid model (Megatron `--mamba-num-heads`, `--mamba-head-dim`,
    `--mamba-state-dim`, `--mamba-num-groups`; Hugging Face NemotronH `mamba_num_heads`, `mamba_head_dim`,
    `ssm_state_size`, `n_groups`, `conv_kernel`, `chunk_size`). Inner width d_inner = heads * head_dim."""

    heads: int
    head_dim: int
    state_size: int
    """SSM state dimension N (d_state)."""
    groups: int = 1
    """B/C groups (n_groups): B and C are shared by the heads of a group (like GQA's key/value groups)."""
    conv_kernel: int = 4
    """Causal depthwise conv1d width over x, B and C."""
    chunk_size: int = 128
    """SSD chunk length Q (Dao & Gu 2024, section 6)."""
    conv_bias: bool = True
    """The conv1d carries a bias (Hugging Face NemotronH `use_conv_bias`, default true)."""

    def __post_init__(self) -> None:
        _positive(
            "mamba",
            heads=self.heads,
            head_dim=self.head_dim,
            state_size=self.state_size,
            groups=self.groups,
            conv_kernel=self.conv_kernel,
            chunk_size=self.chunk_size,
        )
        if self.heads % self.groups:
            raise ConfigError(
                f"mamba: heads ({self.heads}) must be a multiple of groups ({self.groups})"
            )

    @property
    def d_inner(self) -> int:
        return self.heads * self.head_dim

    @property
    def in_proj_width(self) -> int:
        """Output width of in_proj: z and x (d_inner each), B and C (groups * state each), dt (heads)."""
        return 2 * self.d_inner + 2 * self.groups * self.state_size + self.heads

    @property
    def conv_dim(self) -> int:
        """Channels of the conv1d: x, B and C."""
        return self.d_inner + 2 * self.groups * self.state_size


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpec:
    """A decoder-only transformer, dense or MoE."""

    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    ffn_hidden: int
    vocab: int
    seq_len: int
    """Training sequence length (tokens per sample)."""
    head_dim: int | None = None
    """Per-head dimension; null = hidden / heads."""
    activation: Literal["swiglu", "geglu", "gelu", "relu", "squared-relu"] = "swiglu"
    tied_embeddings: bool = False
    moe: MoESpec | None = None
    mla: MLASpec | None = None
    mtp_layers: int = 0
    """Multi-token-prediction layers (DeepSeek-V3); counted in parameters and FLOPs."""
    learned_positions: bool = False
    """A learned position table (seq_len x hidden parameters), as in GPT-2/MPT builds; RoPE/ALiBi have none."""
    type: Literal["dense", "moe", "moe-hybrid"] = "dense"
    norm: Literal["rmsnorm", "layernorm"] = "rmsnorm"
    """Normalisation layers (two per layer plus a final one): rmsnorm has h weights, layernorm 2h."""
    attention_bias: Literal["none", "qkv", "all"] = "none"
    """Biases on the attention projections: none, q/k/v only (Qwen2), or q/k/v/o (GPT-3, gpt-oss)."""
    mlp_bias: bool = False
    """Biases on the MLP (and expert) projections, as in GPT-2/3 and gpt-oss experts."""
    qk_norm: bool = False
    """Per-head RMSNorm on queries and keys (Qwen3, OLMo 2): 2 * head_dim weights per layer."""
    attention_sinks: bool = False
    """One learned sink logit per query head per layer (gpt-oss)."""
    sliding_window: int | None = None
    """Tokens a sliding-window ('S') layer attends to; null = every layer attends to the full context."""
    attention_layer_pattern: str | None = None
    """Per-layer attention kinds, 'F' full and 'S' sliding window, repeated cyclically over the layers
    (gpt-oss: 'SF'). Null = every layer sliding when `sliding_window` is set (Mistral 7B), else all full."""
    layer_pattern: str | None = None
    """Hybrid models: Megatron's `hybrid_override_pattern`, one character per layer - 'M' Mamba-2 mixer,
    '*' self-attention, 'E' MoE MLP, '-' dense MLP - so `layers` = len(layer_pattern) (Nemotron-H,
    Nemotron 3: 'MEMEM*E...'). Null = a plain transformer whose every layer has attention and an MLP."""
    mamba: MambaSpec | None = None
    """The Mamba-2 mixer of the 'M' layers (hybrid models only)."""

    def __post_init__(self) -> None:
        where = f"model {self.name!r}"
        _positive(
            where,
            layers=self.layers,
            hidden=self.hidden,
            heads=self.heads,
            kv_heads=self.kv_heads,
            ffn_hidden=self.ffn_hidden,
            vocab=self.vocab,
            seq_len=self.seq_len,
            head_dim=self.head_dim,
        )
        if self.heads % self.kv_heads:
            raise ConfigError(
                f"{where}: heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads})"
            )
        if self.head_dim is None and self.hidden % self.heads:
            raise ConfigError(
                f"{where}: hidden ({self.hidden}) is not divisible by heads ({self.heads}); "
                "give head_dim"
            )
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"{where}: unknown activation {self.activation!r}; choose from {', '.join(ACTIVATIONS)}"
            )
        if self.moe is not None and self.moe.dense_layers > self.layers:
            raise ConfigError(
                f"{where}: moe.dense_layers ({self.moe.dense_layers}) exceeds layers ({self.layers})"
            )
        if self.mtp_layers < 0:
            raise ConfigError(f"{where}: mtp_layers must be >= 0, got {self.mtp_layers}")
        if self.norm not in NORMS:
            raise ConfigError(
                f"{where}: unknown norm {self.norm!r}; choose from {', '.join(NORMS)}"
            )
        if self.attention_bias not in ATTENTION_BIASES:
            raise ConfigError(
                f"{where}: unknown attention_bias {self.attention_bias!r}; "
                f"choose from {', '.join(ATTENTION_BIASES)}"
            )
        _positive(where, sliding_window=self.sliding_window)
        pattern = self.attention_layer_pattern
        if pattern is not None:
            if not pattern or set(pattern) - {"F", "S"}:
                raise ConfigError(
                    f"{where}: attention_layer_pattern {pattern!r} must be a non-empty string of "
                    "'F' (full) and 'S' (sliding window)"
                )
            if "S" in pattern and self.sliding_window is None:
                raise ConfigError(
                    f"{where}: attention_layer_pattern {pattern!r} has sliding layers but "
                    "sliding_window is not set"
                )
        self._check_hybrid(where)

    def _check_hybrid(self, where: str) -> None:
        hp = self.layer_pattern
        if hp is None:
            if self.mamba is not None:
                raise ConfigError(
                    f"{where}: mamba is set but layer_pattern is not (a hybrid model needs "
                    "its per-layer pattern)"
                )
            return
        bad = set(hp) - set(HYBRID_SYMBOLS)
        if not hp or bad:
            raise ConfigError(
                f"{where}: layer_pattern {hp!r} must be a non-empty string of "
                f"{', '.join(repr(c) for c in HYBRID_SYMBOLS)} (Megatron hybrid_override_pattern; "
                "pipeline '|' and MTP '/' separators are not supported)"
            )
        if len(hp) != self.layers:
            raise ConfigError(
                f"{where}: layer_pattern has {len(hp)} layers but layers is {self.layers}"
            )
        if "M" in hp and self.mamba is None:
            raise ConfigError(f"{where}: layer_pattern has Mamba layers ('M') but mamba is not set")
        if "M" not in hp and self.mamba is not None:
            raise ConfigError(f"{where}: mamba is set but layer_pattern has no Mamba layer ('M')")
        if ("E" in hp) != (self.moe is not None):
            raise ConfigError(
                f"{where}: layer_pattern {'has' if 'E' in hp else 'has no'} MoE layers ('E') "
                f"but moe is {'not ' if self.moe is None else ''}set"
            )
        if self.moe is not None and self.moe.dense_layers:
            raise ConfigError(
                f"{where}: moe.dense_layers must be 0 with a layer_pattern (the pattern places "
                "the dense '-' and MoE 'E' layers)"
            )
        if (
            self.mla is not None
            or self.sliding_window is not None
            or self.attention_layer_pattern is not None
        ):
            raise ConfigError(
                f"{where}: MLA and sliding-window attention are not supported in hybrid models"
            )
        if self.mtp_layers:
            raise ConfigError(
                f"{where}: multi-token prediction is not supported in hybrid models yet"
            )

    @property
    def d_head(self) -> int:
        return self.head_dim or self.hidden // self.heads

    @property
    def gated(self) -> bool:
        """True for gated MLPs (three matrices: gate, up, down)."""
        return self.activation in ("swiglu", "geglu")

    @property
    def sliding_layers(self) -> tuple[bool, ...]:
        """For each layer, True when it uses sliding-window attention."""
        if self.sliding_window is None:
            return (False,) * self.layers
        pattern = self.attention_layer_pattern or "S"
        return tuple(pattern[i % len(pattern)] == "S" for i in range(self.layers))

    @property
    def hybrid(self) -> bool:
        """True for a hybrid model (per-layer `layer_pattern`): each layer is one mixer or one MLP."""
        return self.layer_pattern is not None

    @property
    def moe_layers(self) -> int:
        if self.layer_pattern is not None:
            return self.layer_pattern.count("E")
        return 0 if self.moe is None else self.layers - self.moe.dense_layers

    @property
    def dense_mlp_layers(self) -> int:
        if self.layer_pattern is not None:
            return self.layer_pattern.count("-")
        return self.layers - self.moe_layers

    @property
    def mamba_layers(self) -> int:
        return 0 if self.layer_pattern is None else self.layer_pattern.count("M")

    @property
    def attention_layers(self) -> int:
        """Layers with self-attention: every layer of a transformer, the '*' layers of a hybrid."""
        return self.layers if self.layer_pattern is None else self.layer_pattern.count("*")
