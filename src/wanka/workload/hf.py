"""Import a Hugging Face `config.json` as a ModelSpec.

Supported `model_type`s: llama, mistral, mixtral, qwen2, qwen3, qwen3_moe, llama4_text (and its
multimodal wrapper llama4), deepseek_v2, deepseek_v3, kimi_k2, glm4_moe, gpt_oss, nemotron, nemotron_h,
gpt2. Field names follow the transformers configuration classes (`LlamaConfig`, `MixtralConfig`,
`Qwen3MoeConfig`, `Llama4TextConfig`, `DeepseekV3Config`, `Glm4MoeConfig`, `GptOssConfig`,
`NemotronConfig`, `NemotronHConfig`, `GPT2Config`). The sequence length defaults to `max_position_embeddings` (the context the checkpoint
supports, which may exceed the one it was pre-trained at); pass `seq_len` to say what you train at.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from wanka.errors import ConfigError
from wanka.userfile import read_json
from wanka.workload.model import MambaSpec, MLASpec, ModelSpec, MoESpec

__all__ = ["SUPPORTED_MODEL_TYPES", "from_hf_config"]

_LLAMA_LIKE = ("llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe")
_DEEPSEEK_LIKE = ("deepseek_v2", "deepseek_v3", "kimi_k2")
SUPPORTED_MODEL_TYPES = (
    *_LLAMA_LIKE, "llama4_text", *_DEEPSEEK_LIKE, "glm4_moe", "gpt_oss", "nemotron", "nemotron_h",
    "gpt2",
)  # fmt: skip
# NemotronH `layers_block_type` names -> Megatron hybrid_override_pattern symbols
_BLOCK_SYMBOLS = {"mamba": "M", "attention": "*", "moe": "E", "mlp": "-"}

# transformers `hidden_act` names -> our activation, for gated (three-matrix) and plain MLPs.
_GATED_ACT = {
    "silu": "swiglu",
    "swish": "swiglu",
    "gelu": "geglu",
    "gelu_pytorch_tanh": "geglu",
    "gelu_new": "geglu",
}
_PLAIN_ACT = {
    "gelu": "gelu",
    "gelu_new": "gelu",
    "gelu_fast": "gelu",
    "gelu_pytorch_tanh": "gelu",
    "relu": "relu",
    "relu2": "squared-relu",
}


class _Config:
    """Read access to one config mapping that names the file and key in every error."""

    def __init__(self, d: Mapping[str, Any], where: str) -> None:
        self.d, self.where = d, where

    def req(self, *keys: str) -> Any:
        for k in keys:
            if self.d.get(k) is not None:
                return self.d[k]
        raise ConfigError(
            f"{self.where}: missing key {' or '.join(repr(k) for k in keys)} "
            f"(model_type {self.d.get('model_type')!r})"
        )

    def get(self, key: str, default: Any = None) -> Any:
        v = self.d.get(key)
        return default if v is None else v


def _load(path_or_dict: str | PathLike[str] | Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    if isinstance(path_or_dict, Mapping):
        return path_or_dict, "config"
    path = Path(path_or_dict)
    if path.is_dir():
        path = path / "config.json"
    if not path.exists():
        raise ConfigError(
            f"no Hugging Face config at {str(path)!r}; give a config.json or its folder"
        )
    data = read_json(path, what="a Hugging Face config.json")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config.json must hold a JSON object")
    return data, str(path)


def _activation(c: _Config, gated: bool) -> str:
    act = str(c.get("hidden_act", c.get("hidden_activation", "silu")))
    table = _GATED_ACT if gated else _PLAIN_ACT
    try:
        return table[act]
    except KeyError:
        raise ConfigError(
            f"{c.where}: unsupported hidden_act {act!r} for a {'gated' if gated else 'plain'} MLP; "
            f"supported: {', '.join(sorted(table))}"
        ) from None


def _sliding(c: _Config, layers: int, model_type: str) -> tuple[int | None, str | None]:
    """(window, pattern) from `sliding_window`, `use_sliding_window`, `max_window_layers` and `layer_types`."""
    window = c.get("sliding_window")
    if window is None or (model_type.startswith("qwen") and not c.get("use_sliding_window", False)):
        return None, None
    layer_types = c.get("layer_types")
    if layer_types:
        if len(layer_types) != layers:
            raise ConfigError(
                f"{c.where}: layer_types has {len(layer_types)} entries for {layers} layers"
            )
        kinds = "".join("S" if t == "sliding_attention" else "F" for t in layer_types)
        return int(window), _repeating_unit(kinds)
    return int(window), None


def _repeating_unit(kinds: str) -> str:
    """The shortest prefix whose repeats spell `kinds` ("SFSFSF" -> "SF"), so a pattern stays
    readable; `kinds` itself when nothing shorter repeats."""
    n = len(kinds)
    return next(kinds[:p] for p in range(1, n + 1) if kinds == (kinds[:p] * n)[:n])


def from_hf_config(
    path_or_dict: str | PathLike[str] | Mapping[str, Any],
    *,
    seq_len: int | None = None,
    name: str | None = None,
) -> ModelSpec:
    """Build a ModelSpec from a Hugging Face `config.json` (a path, a model directory or the parsed dict).

    Args:
        path_or_dict: the config file, a directory holding `config.json`, or its parsed contents.
        seq_len: training sequence length; null = `max_position_embeddings` (`n_positions` for gpt2).
        name: model name; null = `_name_or_path`, else the file path.

    Raises:
        ConfigError: unknown `model_type`, a missing key, or a configuration wanka cannot represent.
    """
    c = _read(path_or_dict)
    model_type = str(c.get("model_type", ""))
    label = name or c.get("_name_or_path") or c.where
    if model_type == "gpt2":
        return _gpt2(c, label, seq_len)
    if model_type == "nemotron_h":
        return _nemotron_h(c, label, seq_len)

    layers = int(c.req("num_hidden_layers"))
    hidden = int(c.req("hidden_size"))
    heads = int(c.req("num_attention_heads"))
    kw: dict[str, Any] = dict(
        name=label,
        layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=int(c.get("num_key_value_heads", heads)),
        ffn_hidden=int(c.req("intermediate_size")),
        vocab=int(c.req("vocab_size")),
        seq_len=int(seq_len or c.req("max_position_embeddings")),
        head_dim=c.get("head_dim"),
        tied_embeddings=bool(c.get("tie_word_embeddings", False)),
    )
    if model_type in _LLAMA_LIKE:
        _llama_like(c, kw, model_type)
    elif model_type in _DEEPSEEK_LIKE:
        _deepseek_like(c, kw)
    elif model_type == "llama4_text":
        _llama4(c, kw)
    elif model_type == "glm4_moe":
        _glm4_moe(c, kw)
    elif model_type == "gpt_oss":
        _gpt_oss(c, kw)
    elif model_type == "nemotron":
        kw["activation"] = _activation(c, gated=False)  # relu2: squared ReLU, two matrices
        kw["norm"] = "layernorm"  # LayerNorm1P: weight and bias
        if c.get("attention_bias", False):
            kw["attention_bias"] = "all"
        kw["mlp_bias"] = bool(c.get("mlp_bias", False))
    if kw.get("moe") is not None:
        kw["type"] = "moe"
    if kw["head_dim"] is not None:
        kw["head_dim"] = int(kw["head_dim"])
    return ModelSpec(**kw)


def _read(path_or_dict: str | PathLike[str] | Mapping[str, Any]) -> _Config:
    """The config (a multimodal wrapper's language model), refused unless wanka reads its type."""
    d, where = _load(path_or_dict)
    text = d.get("text_config")
    if (
        d.get("model_type") not in SUPPORTED_MODEL_TYPES
        and isinstance(text, Mapping)
        and text.get("model_type") in SUPPORTED_MODEL_TYPES
    ):
        d = text  # multimodal wrapper: read the language model
    c = _Config(d, where)
    model_type = str(c.get("model_type", ""))
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ConfigError(
            f"{where}: unsupported model_type {model_type or None!r}; wanka reads "
            f"{', '.join(SUPPORTED_MODEL_TYPES)} (or give the architecture as a model: mapping)"
        )
    return c


def _llama_like(c: _Config, kw: dict[str, Any], model_type: str) -> None:
    """Llama, Mistral, Qwen2/3 (and their MoE variants), Mixtral: gated MLP, optional biases,
    sliding windows."""
    kw["activation"] = _activation(c, gated=True)
    if model_type == "qwen2":
        kw["attention_bias"] = "qkv"  # Qwen2 biases q, k, v (not o)
    elif c.get("attention_bias", False):
        kw["attention_bias"] = "all"  # Llama/Qwen3 attention_bias: q, k, v and o
    kw["mlp_bias"] = bool(c.get("mlp_bias", False))
    kw["qk_norm"] = model_type in ("qwen3", "qwen3_moe")  # Qwen3 RMS-normalises q and k per head
    kw["sliding_window"], kw["attention_layer_pattern"] = _sliding(c, kw["layers"], model_type)
    if model_type == "mixtral":
        kw["moe"] = MoESpec(
            experts=int(c.req("num_local_experts")),
            top_k=int(c.req("num_experts_per_tok")),
            expert_ffn=kw["ffn_hidden"],
        )
    elif model_type == "qwen3_moe":
        if int(c.get("decoder_sparse_step", 1)) != 1 or c.get("mlp_only_layers"):
            raise ConfigError(
                f"{c.where}: decoder_sparse_step != 1 or mlp_only_layers is not supported yet"
            )
        kw["moe"] = MoESpec(
            experts=int(c.req("num_experts")),
            top_k=int(c.req("num_experts_per_tok")),
            expert_ffn=int(c.req("moe_intermediate_size")),
        )


def _deepseek_like(c: _Config, kw: dict[str, Any]) -> None:
    """DeepSeek V2/V3: multi-head latent attention, shared and routed experts, MTP layers."""
    kw["activation"] = _activation(c, gated=True)
    kw["mla"] = MLASpec(
        q_lora_rank=c.get("q_lora_rank"),
        kv_lora_rank=int(c.req("kv_lora_rank")),
        qk_nope_head_dim=int(c.req("qk_nope_head_dim")),
        qk_rope_head_dim=int(c.req("qk_rope_head_dim")),
        v_head_dim=int(c.req("v_head_dim")),
    )
    kw["head_dim"] = None  # MLA head dims live in `mla`
    kw["kv_heads"] = kw["heads"]
    if c.get("n_routed_experts") is not None:
        if int(c.get("moe_layer_freq", 1)) != 1:
            raise ConfigError(f"{c.where}: moe_layer_freq != 1 is not supported yet")
        # noaux_tc routing adds e_score_correction_bias (one per expert) to the gate
        kw["moe"] = _deepseek_moe(c, default=0, router_bias=c.get("topk_method") == "noaux_tc")
    kw["mtp_layers"] = int(c.get("num_nextn_predict_layers", 0))


def _deepseek_moe(c: _Config, *, default: int, router_bias: bool) -> MoESpec:
    """DeepSeek's MoE block as its config keys give it (DeepSeek V2/V3, GLM-4.5): routed experts, shared
    ones `moe_intermediate_size` wide, dense first layers; `default` for `n_shared_experts` and
    `first_k_dense_replace` when absent (0 for DeepSeek, as this reader has always taken them; 1 for
    GLM, Glm4MoeConfig's defaults)."""
    shared = int(c.get("n_shared_experts", default))
    expert_ffn = int(c.req("moe_intermediate_size"))
    return MoESpec(
        experts=int(c.req("n_routed_experts")),
        top_k=int(c.req("num_experts_per_tok")),
        expert_ffn=expert_ffn,
        shared_experts=shared,
        shared_expert_ffn=expert_ffn if shared else None,
        dense_layers=int(c.get("first_k_dense_replace", default)),
        router_bias=router_bias,
    )


def _glm4_moe(c: _Config, kw: dict[str, Any]) -> None:
    """GLM-4.5/4.6 (transformers `Glm4MoeConfig`, `modeling_glm4_moe.py`): GQA attention with q/k/v
    biases (o_proj has none) and optional per-head QK norm; DeepSeek-V3's MoE block, its router with a
    score-correction bias per expert and shared experts `moe_intermediate_size` wide; dense first
    layers; MTP layers. Defaults as the config class's (first_k_dense_replace 1, one MTP layer).
    Partial rotary embedding (`partial_rotary_factor`) changes no weight and is not modelled."""
    kw["activation"] = _activation(c, gated=True)
    if c.get("attention_bias", False):
        kw["attention_bias"] = "qkv"
    kw["qk_norm"] = bool(c.get("use_qk_norm", False))
    # Glm4MoeTopkRouter always carries e_score_correction_bias
    kw["moe"] = _deepseek_moe(c, default=1, router_bias=True)
    kw["mtp_layers"] = int(c.get("num_nextn_predict_layers", 1))


def _llama4(c: _Config, kw: dict[str, Any]) -> None:
    """Llama 4 Scout/Maverick (transformers `Llama4TextConfig`, `modeling_llama4.py`): routed experts
    `intermediate_size` wide, top-k of `num_local_experts`, and one shared expert as wide, on the
    `moe_layers` (default every `interleave_moe_layer_step`-th layer, the last of each step); the other
    layers are dense MLPs `intermediate_size_mlp` wide. Attention is chunked (each token attends within
    its `attention_chunk_size` block) on the RoPE layers and global on the NoPE ones (`no_rope_layers`:
    1 = RoPE; default every 4th layer NoPE): modelled as a sliding window of the chunk, which bounds the
    KV cache a chunked layer holds exactly (vLLM `ChunkedLocalAttentionSpec`) and its attention work
    from above. The q/k norm (`use_qk_norm`) is an L2 norm without weights, so it adds no parameters."""
    kw["activation"] = _activation(c, gated=True)
    if c.get("attention_bias", False):
        kw["attention_bias"] = "all"
    layers, step = kw["layers"], int(c.get("interleave_moe_layer_step", 1))
    moe_layers = c.get("moe_layers")
    if moe_layers is None:  # Llama4TextConfig's default; a step of 0 has no MoE layer
        moe_layers = list(range(step - 1, layers, step)) if step > 0 else []
    expert_ffn = int(c.req("intermediate_size"))
    kw["ffn_hidden"] = int(c.get("intermediate_size_mlp", expert_ffn))
    if moe_layers:
        kw["moe"] = MoESpec(
            experts=int(c.req("num_local_experts")),
            top_k=int(c.req("num_experts_per_tok")),
            expert_ffn=expert_ffn,
            shared_experts=1,
            shared_expert_ffn=expert_ffn,
            dense_layers=layers - len(moe_layers),
        )
    chunk = c.get("attention_chunk_size")
    if chunk:
        interval = int(c.get("no_rope_layer_interval", 4))
        rope = c.get("no_rope_layers") or [int((i + 1) % interval != 0) for i in range(layers)]
        kinds = "".join("S" if r else "F" for r in rope)
        kw["sliding_window"], kw["attention_layer_pattern"] = int(chunk), _repeating_unit(kinds)


def _gpt_oss(c: _Config, kw: dict[str, Any]) -> None:
    """gpt-oss: clamped SwiGLU experts with biases, attention sinks, banded/full attention."""
    kw["activation"] = "swiglu"  # clamped SwiGLU; same matrices as SwiGLU
    kw["attention_bias"] = "all" if c.get("attention_bias", True) else "none"
    kw["mlp_bias"] = True  # experts carry gate_up and down biases
    kw["attention_sinks"] = True
    window, pattern = _sliding(c, kw["layers"], "gpt_oss")
    # without layer_types, gpt-oss alternates banded (even layers) and full attention
    kw["sliding_window"], kw["attention_layer_pattern"] = (
        window,
        pattern or ("SF" if window else None),
    )
    kw["moe"] = MoESpec(
        experts=int(c.req("num_local_experts")),
        top_k=int(c.req("num_experts_per_tok", "experts_per_token")),
        expert_ffn=kw["ffn_hidden"],
        router_bias=True,
    )


def _nemotron_h(c: _Config, label: str, seq_len: int | None) -> ModelSpec:
    """Nemotron-H / Nemotron 3 hybrids: `hybrid_override_pattern` (or `layers_block_type`) and the Mamba-2,
    attention and MoE fields of transformers' `NemotronHConfig`."""
    where = c.where
    pattern = c.get("hybrid_override_pattern")
    if pattern is None:
        blocks = c.req("layers_block_type")
        try:
            pattern = "".join(_BLOCK_SYMBOLS[str(b)] for b in blocks)
        except KeyError as e:
            raise ConfigError(f"{where}: unknown layers_block_type entry {e.args[0]!r}") from None
    pattern = str(pattern)
    if c.get("moe_latent_size") is not None:
        raise ConfigError(f"{where}: LatentMoE (moe_latent_size) is not supported yet")
    if int(c.get("num_nextn_predict_layers") or 0):
        raise ConfigError(f"{where}: multi-token prediction in hybrid models is not supported yet")
    if c.get("block_configs") is not None:
        raise ConfigError(f"{where}: per-layer block_configs (Puzzle models) are not supported")
    layers = c.get("num_hidden_layers")
    if layers is not None and int(layers) != len(pattern):
        raise ConfigError(
            f"{where}: num_hidden_layers ({layers}) != the pattern's {len(pattern)} layers"
        )
    heads = int(c.req("num_attention_heads"))
    hidden = int(c.req("hidden_size"))
    moe = None
    if "E" in pattern:
        shared = int(c.get("n_shared_experts") or 0)
        shared_width = c.get("moe_shared_expert_intermediate_size")
        moe = MoESpec(
            experts=int(c.req("n_routed_experts")),
            top_k=int(c.req("num_experts_per_tok")),
            expert_ffn=int(c.req("moe_intermediate_size")),
            shared_experts=shared,
            shared_expert_ffn=(int(shared_width) // shared) if shared and shared_width else None,
            router_bias=True,
        )  # NemotronH gate: e_score_correction_bias
    mamba = None
    if "M" in pattern:
        mamba = MambaSpec(
            heads=int(c.req("mamba_num_heads")),
            head_dim=int(c.req("mamba_head_dim")),
            state_size=int(c.req("ssm_state_size")),
            groups=int(c.get("n_groups", 1)),
            conv_kernel=int(c.get("conv_kernel", 4)),
            chunk_size=int(c.get("chunk_size", 128)),
            conv_bias=bool(c.get("use_conv_bias", True)),
        )
    act = str(c.get("mlp_hidden_act", "relu2"))
    if act not in _PLAIN_ACT:
        raise ConfigError(f"{where}: unsupported mlp_hidden_act {act!r}")
    head_dim = c.get("head_dim", c.get("attention_head_dim"))
    return ModelSpec(
        name=label,
        layers=len(pattern),
        hidden=hidden,
        heads=heads,
        kv_heads=int(c.get("num_key_value_heads", heads)),
        ffn_hidden=int(c.get("intermediate_size") or (moe.expert_ffn if moe else 4 * hidden)),
        vocab=int(c.req("vocab_size")),
        seq_len=int(seq_len or c.req("max_position_embeddings")),
        head_dim=None if head_dim is None else int(head_dim),
        activation=_PLAIN_ACT[act],  # type: ignore[arg-type]
        tied_embeddings=bool(c.get("tie_word_embeddings", False)),
        attention_bias="all" if c.get("attention_bias", False) else "none",
        mlp_bias=bool(c.get("mlp_bias", False)),
        type="moe-hybrid" if moe else "dense",
        moe=moe,
        layer_pattern=pattern,
        mamba=mamba,
    )


def _gpt2(c: _Config, label: str, seq_len: int | None) -> ModelSpec:
    hidden = int(c.req("n_embd", "hidden_size"))
    heads = int(c.req("n_head", "num_attention_heads"))
    return ModelSpec(
        name=label,
        layers=int(c.req("n_layer", "num_hidden_layers")),
        hidden=hidden,
        heads=heads,
        kv_heads=heads,
        ffn_hidden=int(c.get("n_inner", 4 * hidden)),
        vocab=int(c.req("vocab_size")),
        seq_len=int(seq_len or c.req("n_positions", "n_ctx")),
        activation=_PLAIN_ACT.get(str(c.get("activation_function", "gelu_new")), "gelu"),  # type: ignore[arg-type]
        tied_embeddings=bool(c.get("tie_word_embeddings", True)),
        learned_positions=True,
        norm="layernorm",
        attention_bias="all",
        mlp_bias=True,
    )
