"""Hugging Face config.json import: real configs give the same model as the shipped presets."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from wanka.errors import ConfigError
from wanka.workload.counts import param_count
from wanka.workload.hf import from_hf_config
from wanka.workload.presets import get_model

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    "file, preset_id, seq_len",
    [
        ("llama3.1-8b.config.json", "llama3-8b", 8192),
        ("qwen3-30b-a3b.config.json", "qwen3-30b-a3b", 4096),
        ("deepseek-v3.config.json", "deepseek-v3", 4096),
    ],
)
def test_real_configs_equal_presets(file: str, preset_id: str, seq_len: int) -> None:
    """A real config.json imports to exactly the preset's architecture."""
    preset = get_model(preset_id)
    model = from_hf_config(DATA / file, seq_len=seq_len)
    assert replace(model, name=preset.name) == preset


def test_defaults_seq_len_and_accepts_dict_and_directory(tmp_path: Path) -> None:
    """seq_len defaults to max_position_embeddings; a parsed dict or a model directory work too."""
    m = from_hf_config(DATA / "llama3.1-8b.config.json")
    assert m.seq_len == 131072
    assert param_count(m).total == 8_030_261_248
    d = json.loads((DATA / "qwen3-30b-a3b.config.json").read_text())
    assert from_hf_config(d, name="q").name == "q"
    (tmp_path / "config.json").write_text(json.dumps(d))
    assert from_hf_config(tmp_path).layers == 48


GPT_OSS_120B = {  # the architecture keys of https://huggingface.co/openai/gpt-oss-120b/blob/main/config.json
    "model_type": "gpt_oss",
    "num_hidden_layers": 36,
    "hidden_size": 2880,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "head_dim": 64,
    "intermediate_size": 2880,
    "vocab_size": 201088,
    "num_local_experts": 128,
    "num_experts_per_tok": 4,
    "experts_per_token": 4,
    "sliding_window": 128,
    "max_position_embeddings": 131072,
    "initial_context_length": 4096,
    "tie_word_embeddings": False,
    "attention_bias": True,
    "hidden_act": "silu",
    "swiglu_limit": 7.0,
    "layer_types": ["sliding_attention", "full_attention"] * 18,
}


def test_gpt_oss() -> None:
    """gpt-oss: sinks, biases, alternating sliding window; equals the preset."""
    m = from_hf_config(GPT_OSS_120B, seq_len=4096)
    preset = get_model("gpt-oss-120b")
    assert replace(m, name=preset.name) == preset
    assert param_count(m).total == pytest.approx(116.83e9, rel=1e-4)


def test_gpt2_small() -> None:
    """GPT-2 small (https://huggingface.co/openai-community/gpt2/blob/main/config.json): 124,439,808 params."""
    cfg = {
        "model_type": "gpt2",
        "n_layer": 12,
        "n_embd": 768,
        "n_head": 12,
        "n_ctx": 1024,
        "n_positions": 1024,
        "vocab_size": 50257,
        "activation_function": "gelu_new",
        "n_inner": None,
    }
    m = from_hf_config(cfg)
    assert m.learned_positions and m.tied_embeddings and m.norm == "layernorm"
    assert param_count(m).total == 124_439_808


def test_nemotron_and_mixtral_and_kimi() -> None:
    """Nemotron relu2 is a 2-matrix MLP with LayerNorm; Mixtral and Kimi K2 map their MoE keys."""
    nemo = from_hf_config(
        {
            "model_type": "nemotron",
            "num_hidden_layers": 32,
            "hidden_size": 6144,
            "num_attention_heads": 48,
            "num_key_value_heads": 8,
            "intermediate_size": 24576,
            "vocab_size": 256000,
            "max_position_embeddings": 4096,
            "hidden_act": "relu2",
        }
    )
    assert nemo.activation == "squared-relu" and not nemo.gated and nemo.norm == "layernorm"
    mix = from_hf_config(
        {
            "model_type": "mixtral",
            "num_hidden_layers": 32,
            "hidden_size": 4096,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "intermediate_size": 14336,
            "vocab_size": 32000,
            "max_position_embeddings": 32768,
            "num_local_experts": 8,
            "num_experts_per_tok": 2,
            "sliding_window": None,
            "hidden_act": "silu",
        }
    )
    assert replace(mix, name="Mixtral 8x7B") == get_model("mixtral-8x7b")
    kimi = json.loads((DATA / "deepseek-v3.config.json").read_text()) | {
        "model_type": "kimi_k2",
        "num_attention_heads": 64,
        "num_key_value_heads": 64,
        "n_routed_experts": 384,
        "first_k_dense_replace": 1,
        "num_nextn_predict_layers": 0,
        "vocab_size": 163840,
        "n_group": 1,
    }
    assert replace(from_hf_config(kimi, seq_len=4096), name="Kimi K2 (1T-A32B)") == get_model(
        "kimi-k2"
    )


#: GLM-4.5 and GLM-4.5-Air as their config.json files give them (zai-org/GLM-4.5, GLM-4.5-Air on
#: Hugging Face); the model card: 355B total / 32B active and 106B / 12B, active without embeddings
GLM45 = {
    "model_type": "glm4_moe", "attention_bias": True, "hidden_act": "silu", "hidden_size": 5120,
    "intermediate_size": 12288, "moe_intermediate_size": 1536, "num_attention_heads": 96,
    "num_key_value_heads": 8, "head_dim": 128, "num_hidden_layers": 92, "n_routed_experts": 160,
    "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 3, "vocab_size": 151552,
    "max_position_embeddings": 131072, "tie_word_embeddings": False, "partial_rotary_factor": 0.5,
    "num_nextn_predict_layers": 1, "use_qk_norm": True,
}  # fmt: skip
GLM45_AIR = GLM45 | {
    "hidden_size": 4096, "intermediate_size": 10944, "moe_intermediate_size": 1408,
    "num_hidden_layers": 46, "n_routed_experts": 128, "first_k_dense_replace": 1, "use_qk_norm": False,
}  # fmt: skip


@pytest.mark.parametrize(
    ("config", "preset_id", "total_b", "active_b"),
    [(GLM45, "glm-4.5", 355, 32), (GLM45_AIR, "glm-4.5-air", 106, 12)],
)
def test_glm4_moe_counts_match_the_model_card(
    config: dict, preset_id: str, total_b: float, active_b: float
) -> None:
    """GLM-4.5's GQA attention with q/k/v biases, 160 routed experts and a shared one after three dense
    layers: within 2% of the published totals and active counts (MTP layer aside; active also without
    embedding and head); the config gives the shipped preset."""
    m = from_hf_config(config)
    assert m.attention_bias == "qkv" and m.moe is not None
    assert m.moe.dense_layers == config["first_k_dense_replace"]
    pc = param_count(m)
    embed = 2 * config["vocab_size"] * config["hidden_size"]  # untied embedding and LM head
    assert pc.total_without_mtp / 1e9 == pytest.approx(total_b, rel=0.02)
    assert (pc.active - pc.mtp_active - embed) / 1e9 == pytest.approx(active_b, rel=0.02)
    preset = get_model(preset_id)
    assert replace(from_hf_config(config, seq_len=4096), name=preset.name) == preset


def test_errors(tmp_path: Path) -> None:
    """Unknown model_type, missing keys, missing files and bad JSON are one-line ConfigErrors."""
    with pytest.raises(ConfigError, match="unsupported model_type 'mamba'"):
        from_hf_config({"model_type": "mamba"})
    with pytest.raises(ConfigError, match="missing key 'intermediate_size'"):
        from_hf_config(
            {
                "model_type": "llama",
                "num_hidden_layers": 2,
                "hidden_size": 64,
                "num_attention_heads": 4,
                "vocab_size": 10,
                "max_position_embeddings": 16,
            }
        )
    with pytest.raises(ConfigError, match="no Hugging Face config"):
        from_hf_config(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="malformed JSON"):
        from_hf_config(bad)


#: Llama 4 Maverick's text_config as its config.json gives it (meta-llama/Llama-4-Maverick-17B-128E-
#: Instruct, quoted in TensorRT-LLM's tests with the layer count restored to 48); Scout differs in
#: experts (16), interleave step (1), context and q/k norm (meta-llama/Llama-4-Scout-17B-16E-Instruct).
LLAMA4_MAVERICK = {
    "model_type": "llama4", "text_config": {
        "model_type": "llama4_text", "attention_bias": False, "attention_chunk_size": 8192,
        "head_dim": 128, "hidden_act": "silu", "hidden_size": 5120, "interleave_moe_layer_step": 2,
        "intermediate_size": 8192, "intermediate_size_mlp": 16384, "max_position_embeddings": 1048576,
        "num_attention_heads": 40, "num_experts_per_tok": 1, "num_hidden_layers": 48,
        "num_key_value_heads": 8, "num_local_experts": 128, "tie_word_embeddings": False,
        "use_qk_norm": False, "vocab_size": 202048,
    },
    "vision_config": {"model_type": "llama4_vision_model"},
}  # fmt: skip
LLAMA4_SCOUT = LLAMA4_MAVERICK | {
    "text_config": LLAMA4_MAVERICK["text_config"] | {
        "interleave_moe_layer_step": 1, "num_local_experts": 16, "use_qk_norm": True,
        "max_position_embeddings": 10485760,
    },
}  # fmt: skip


@pytest.mark.parametrize(
    ("config", "preset_id", "dense_layers", "total_b"),
    [(LLAMA4_MAVERICK, "llama4-maverick", 24, 400.7), (LLAMA4_SCOUT, "llama4-scout", 0, 107.8)],
)
def test_llama4_reads_interleaved_moe_and_chunked_attention(
    config: dict, preset_id: str, dense_layers: int, total_b: float
) -> None:
    """The multimodal wrapper's language model: MoE on every `interleave_moe_layer_step`-th layer
    with a shared expert, dense MLPs `intermediate_size_mlp` wide elsewhere, 8,192-token chunked
    attention on three of four layers; 17B active either way; the config gives the shipped preset."""
    m = from_hf_config(config)
    assert m.moe is not None and m.moe.dense_layers == dense_layers
    assert m.ffn_hidden == 16384 and m.moe.expert_ffn == 8192 and m.moe.shared_experts == 1
    assert (m.sliding_window, m.attention_layer_pattern) == (8192, "SSSF")
    pc = param_count(m)
    assert pc.total / 1e9 == pytest.approx(total_b, abs=0.1)
    assert pc.active / 1e9 == pytest.approx(17.0, rel=0.02)
    preset = get_model(preset_id)
    assert replace(from_hf_config(config, seq_len=8192), name=preset.name) == preset
