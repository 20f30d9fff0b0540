"""Hybrid Mamba/attention models: ModelSpec fields, validation, parameter and Megatron FLOP counts."""

from __future__ import annotations

import dataclasses

import pytest

from wanka.errors import ConfigError
from wanka.spec import model_from_mapping
from wanka.workload.counts import flops_per_step, flops_per_token_terms, param_count
from wanka.workload.model import MambaSpec, ModelSpec, MoESpec
from wanka.workload.presets import get_model, get_preset, presets

NANO_PATTERN = "MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME"
B = 1e9


def nano() -> ModelSpec:
    return get_model("nemotron3-nano-30b-a3b")


def test_nano_preset_shape() -> None:
    m = nano()
    assert m.layer_pattern == NANO_PATTERN and m.layers == len(NANO_PATTERN) == 52
    assert (m.mamba_layers, m.moe_layers, m.attention_layers, m.dense_mlp_layers) == (23, 23, 6, 0)
    assert m.mamba is not None and m.mamba.d_inner == 4096
    # HF config: mamba in_proj has 10304 output features (z, x: 4096 each; B, C: 8 x 128 each; dt: 64)
    assert m.mamba.in_proj_width == 10304
    assert m.type == "moe-hybrid" and m.activation == "squared-relu" and not m.gated
    assert get_model("nemotron3-nano") is m


def test_nano_published_sizes() -> None:
    """31.6B total and 3.2B active without embeddings (3.6B with) per the Nemotron 3 Nano model card and
    technical report. Our count is weight by weight from the config, so the total matches to the published
    rounding (0.1B -> rel 0.2%); the active count to its rounding (0.1B of 3.2B/3.6B -> rel 2%)."""
    p = get_preset("nemotron3-nano-30b-a3b")
    c = param_count(p.model)
    assert c.total == pytest.approx(31.6 * B, rel=2e-3)
    assert c.total == pytest.approx(p.published_total_params, rel=2e-3)
    assert c.active == pytest.approx(3.6 * B, rel=2e-2)  # embeddings and head included
    assert c.active - c.embedding == pytest.approx(3.2 * B, rel=2e-2)  # input embedding excluded
    assert 0 < c.mamba < c.attention  # attention counts every mixer
    assert c.mamba == 23 * c.per_layer[0].mamba


def test_mamba_layer_params_by_weight() -> None:
    """One Nano Mamba-2 mixer, tensor by tensor (HF NemotronH names)."""
    m = nano()
    h = 2688
    expected = (
        h * 10304  # in_proj
        + 6144 * 4
        + 6144  # conv1d weight + bias over x, B, C (4096 + 2 * 8 * 128 channels)
        + 3 * 64  # dt_bias, A_log, D
        + 4096  # gated RMSNorm
        + 4096 * h
    )  # out_proj
    lp = param_count(m).per_layer[0]
    assert lp.mamba == lp.attention == expected and lp.norms == h and lp.total == expected + h
    moe_layer = param_count(m).per_layer[1]
    assert moe_layer.attention == 0 and moe_layer.experts == 128 * 2 * h * 1856
    assert moe_layer.router == 128 * h + 128


def test_megatron_hybrid_flops_term_for_term() -> None:
    """Megatron-LM training.py `hybrid_flops` (commit 001b00c2), written out independently."""
    m = nano()
    Bt, s, h = 3, 8192, 2688
    a, g, kv = 32, 2, 128

    def attn(bs: int) -> float:
        p = kv * a / h
        return 4 * bs * s * h * p * (h + h * (g / a) + s / 2)

    def moe(bs: int) -> float:
        return 4 * bs * s * h * 1856 * 6 + 4 * bs * s * h * 3712

    def mamba(bs: int) -> float:
        d_in = 2 * h
        return (
            2 * bs * s * h * (2 * d_in + 2 * 8 * 128 + 64)
            + 7 * bs * s * d_in * 128
            + 2 * bs * s * d_in * h
        )

    ref = 3 * (6 * attn(Bt) + 23 * moe(Bt) + 23 * mamba(Bt) + 2 * Bt * s * h * 131072)
    assert flops_per_step(m, Bt, s) == pytest.approx(ref, rel=1e-12)
    t = flops_per_token_terms(m, s)
    assert t.mamba_proj > 0 and t.mamba_scan > 0 and t.mtp_proj == 0
    assert t.training == pytest.approx(ref / (Bt * s), rel=1e-12)


def test_nano_flops_near_logged_model_tflops() -> None:
    """The validation rows log 901 model TFLOP/s/GPU at 39,936 tokens/s/GPU (22.6 GFLOP/token); Megatron's
    count from the config gives 22.3 GFLOP/token (within 2%; the log's vocabulary/padding is not stated)."""
    assert flops_per_token_terms(nano(), 8192).training == pytest.approx(901e12 / 39936, rel=0.02)


def test_dense_hybrid_counts() -> None:
    """A Nemotron-H-style dense hybrid ('-' MLP layers, no experts) counts too."""
    m = ModelSpec(
        name="h",
        layers=6,
        hidden=256,
        heads=4,
        kv_heads=2,
        ffn_hidden=512,
        vocab=1000,
        seq_len=128,
        activation="squared-relu",
        layer_pattern="M-M*-M",
        mamba=MambaSpec(heads=8, head_dim=64, state_size=16, groups=2),
    )
    c = param_count(m)
    assert c.mlp == 2 * (2 * 256 * 512) and c.experts == 0 and c.router == 0
    assert (m.mamba_layers, m.attention_layers, m.dense_mlp_layers, m.moe_layers) == (3, 1, 2, 0)
    t = flops_per_token_terms(m)
    assert t.mlp_dense == 2 * 2 * 256 * 512 * 2 and t.moe_routed == 0


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(layer_pattern="MEM*"), "layer_pattern has 4 layers"),
        (dict(layer_pattern=NANO_PATTERN.replace("*", "A")), "must be a non-empty string"),
        (dict(mamba=None), "mamba is not set"),
        (dict(moe=None), "moe is not set"),
        (dict(layer_pattern=NANO_PATTERN.replace("E", "-")), "has no MoE layers"),
        (
            dict(moe=MoESpec(experts=128, top_k=6, expert_ffn=1856, dense_layers=1)),
            "dense_layers must be 0",
        ),
        (dict(mtp_layers=1), "multi-token prediction"),
        (dict(sliding_window=128), "not supported in hybrid"),
    ],
)
def test_validation(change: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        dataclasses.replace(nano(), **change)


def test_mamba_without_pattern_and_bad_groups() -> None:
    mb = MambaSpec(heads=8, head_dim=64, state_size=16)
    with pytest.raises(ConfigError, match="layer_pattern is not"):
        ModelSpec(
            name="x",
            layers=2,
            hidden=64,
            heads=4,
            kv_heads=4,
            ffn_hidden=128,
            vocab=10,
            seq_len=8,
            mamba=mb,
        )
    with pytest.raises(ConfigError, match="multiple of groups"):
        MambaSpec(heads=6, head_dim=64, state_size=16, groups=4)


def test_hybrid_without_pattern_still_refuses_flops() -> None:
    m = ModelSpec(
        name="x",
        layers=2,
        hidden=64,
        heads=4,
        kv_heads=4,
        ffn_hidden=128,
        vocab=10,
        seq_len=8,
        type="moe-hybrid",
    )
    with pytest.raises(ConfigError, match="layer pattern"):
        flops_per_token_terms(m)


def test_run_spec_fills_hybrid_fields_from_preset() -> None:
    """A validation row (layers/hidden/heads/experts, no pattern) picks up the Nano preset's pattern."""
    row = {
        "name": "Nemotron 3 Nano",
        "type": "moe-hybrid",
        "layers": 52,
        "hidden": 2688,
        "seq_len": 8192,
        "vocab": None,
        "heads": 32,
        "kv_heads": 2,
        "ffn_hidden": 1856,
        "moe": {
            "experts": 128,
            "top_k": 6,
            "expert_ffn": 1856,
            "shared_experts": 1,
            "shared_expert_ffn": 3712,
            "dense_layers": 0,
        },
        "notes": "52 layers = 23 Mamba-2 ...",
    }
    notes: list[str] = []
    m = model_from_mapping(row, assumptions=notes)
    assert m.layer_pattern == NANO_PATTERN and m.mamba == nano().mamba and m.vocab == 131072
    assert any("nemotron3-nano-30b-a3b" in n and "layer_pattern" in n for n in notes)


def test_run_spec_explicit_hybrid_fields() -> None:
    m = model_from_mapping(
        {
            "layers": 4,
            "hidden": 256,
            "heads": 4,
            "kv_heads": 2,
            "seq_len": 128,
            "vocab": 1000,
            "ffn_hidden": 512,
            "activation": "squared-relu",
            "layer_pattern": "M*M-",
            "mamba": {"heads": 8, "head_dim": 64, "state_size": 16, "groups": 2},
        }
    )
    assert m.mamba_layers == 2 and m.mamba is not None and m.mamba.conv_kernel == 4


def test_every_hybrid_preset_is_consistent() -> None:
    for p in presets().values():
        m = p.model
        if m.layer_pattern is not None:
            assert len(m.layer_pattern) == m.layers, p.id
            assert p.sources, p.id


NANO_HF_CONFIG = {  # nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16 config.json (architecture fields)
    "model_type": "nemotron_h",
    "architectures": ["NemotronHForCausalLM"],
    "num_hidden_layers": 52,
    "hidden_size": 2688,
    "num_attention_heads": 32,
    "num_key_value_heads": 2,
    "head_dim": 128,
    "intermediate_size": 1856,
    "vocab_size": 131072,
    "max_position_embeddings": 262144,
    "hybrid_override_pattern": NANO_PATTERN,
    "mamba_num_heads": 64,
    "mamba_head_dim": 64,
    "ssm_state_size": 128,
    "n_groups": 8,
    "conv_kernel": 4,
    "chunk_size": 128,
    "expand": 2,
    "n_routed_experts": 128,
    "num_experts_per_tok": 6,
    "n_shared_experts": 1,
    "moe_intermediate_size": 1856,
    "moe_shared_expert_intermediate_size": 3712,
    "mlp_hidden_act": "relu2",
    "mamba_hidden_act": "silu",
    "attention_bias": False,
    "mlp_bias": False,
    "mamba_proj_bias": False,
    "tie_word_embeddings": False,
}


def test_hf_nemotron_h_matches_preset() -> None:
    from wanka.workload.hf import from_hf_config

    m = from_hf_config(NANO_HF_CONFIG, seq_len=8192, name="nano")
    p = nano()
    assert param_count(m).total == param_count(p).total
    assert flops_per_step(m, 8, 8192) == flops_per_step(p, 8, 8192)
    blocks = {"M": "mamba", "E": "moe", "*": "attention"}
    listed = {
        k: v
        for k, v in NANO_HF_CONFIG.items()
        if k not in ("hybrid_override_pattern", "num_hidden_layers")
    }
    listed["layers_block_type"] = [blocks[c] for c in NANO_PATTERN]
    assert from_hf_config(listed, seq_len=8192).layer_pattern == NANO_PATTERN
    with pytest.raises(ConfigError, match="LatentMoE"):
        from_hf_config({**NANO_HF_CONFIG, "moe_latent_size": 1024})
