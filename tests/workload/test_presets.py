"""Model presets: every one loads, carries a source, resolves aliases; bad ids and keys are refused."""

from __future__ import annotations

import pytest

from wanka.errors import CatalogError, ConfigError
from wanka.workload import presets as presets_mod
from wanka.workload.model import ModelSpec
from wanka.workload.presets import (
    get_model,
    get_preset,
    model_from_dict,
    models,
    presets,
    resolve_id,
)

REQUIRED_IDS = [
    "gpt3-175b",
    "megatron-1t",
    "llama2-7b",
    "llama2-13b",
    "llama2-70b",
    "llama3-8b",
    "llama3-70b",
    "llama3.1-405b",
    "mixtral-8x7b",
    "mixtral-8x22b",
    "deepseek-v3",
    "qwen3-30b-a3b",
    "qwen3-235b-a22b",
    "kimi-k2",
    "gpt-oss-120b",
    "nemotron4-340b",
]


@pytest.mark.parametrize("preset_id", REQUIRED_IDS)
def test_required_presets_exist(preset_id: str) -> None:
    """The presets other packages and the validation data name are shipped."""
    assert isinstance(get_model(preset_id), ModelSpec)


def test_every_preset_has_a_source_url() -> None:
    """Each preset names where its numbers come from."""
    for p in presets().values():
        assert p.sources and all(s.startswith("https://") for s in p.sources), p.id


def test_models_returns_every_preset() -> None:
    """models() maps canonical ids to ModelSpecs."""
    assert set(models()) == set(presets())


@pytest.mark.parametrize(
    "alias, canonical",
    [
        ("llama3.1-70b", "llama3-70b"),
        ("LLAMA3.1-8B", "llama3-8b"),  # case-insensitive
        ("llama3-405b", "llama3.1-405b"),
        ("deepseek-r1", "deepseek-v3"),
    ],
)
def test_aliases(alias: str, canonical: str) -> None:
    """Aliases resolve to the canonical preset."""
    assert resolve_id(alias) == canonical
    assert get_model(alias) is get_model(canonical)


def test_unknown_id_names_closest() -> None:
    """An unknown id is a CatalogError that suggests the nearest ids."""
    with pytest.raises(CatalogError, match="closest: .*llama3-70b"):
        get_model("llama3-70")


def test_architecture_features() -> None:
    """Spot checks of the features the counts depend on."""
    ds = get_model("deepseek-v3")
    assert ds.mla is not None and ds.mla.q_lora_rank == 1536 and ds.moe is not None
    moe = ds.moe
    assert (moe.experts, moe.top_k, moe.shared_experts, moe.dense_layers, ds.mtp_layers) == (
        256,
        8,
        1,
        3,
        1,
    )
    oss = get_model("gpt-oss-120b")
    assert oss.sliding_layers[:4] == (True, False, True, False) and oss.attention_sinks
    nemo = get_model("nemotron4-340b")
    assert nemo.activation == "squared-relu" and not nemo.gated
    assert get_model("qwen3-235b-a22b").qk_norm and get_model("gpt3-175b").learned_positions
    assert get_preset("deepseek-v3").published_total_params == 671e9


def test_loader_rejects_unknown_keys() -> None:
    """A catalog record with an unknown key (here a typo) is a CatalogError."""
    record = {
        "id": "x",
        "sources": ["https://example.org"],
        "layers": 2,
        "hidden": 64,
        "heads": 4,
        "vocab": 100,
        "seq_len": 16,
        "hiden": 64,
    }
    with pytest.raises(CatalogError, match="hiden"):
        presets_mod._preset(record)
    good = {k: v for k, v in record.items() if k != "hiden"}
    with pytest.raises(CatalogError, match="topk"):
        presets_mod._preset({**good, "moe": {"experts": 4, "top_k": 1, "expert_ffn": 8, "topk": 2}})
    assert presets_mod._preset(good).model.kv_heads == 4


def test_model_from_dict_defaults_and_errors() -> None:
    """A run spec's model mapping: kv_heads and ffn_hidden default; bad values are ConfigErrors."""
    m = model_from_dict(
        {
            "layers": 2,
            "hidden": 64,
            "heads": 4,
            "vocab": 100,
            "seq_len": 16,
            "kv_heads": None,
            "ffn_hidden": None,
        }
    )
    assert (m.kv_heads, m.ffn_hidden) == (4, 256)
    moe = model_from_dict(
        {
            "layers": 2,
            "hidden": 64,
            "heads": 4,
            "vocab": 100,
            "seq_len": 16,
            "moe": {"experts": 8, "top_k": 2, "expert_ffn": 32, "shared_expert_ffn": None},
        }
    )
    assert moe.type == "moe" and moe.moe is not None and moe.moe.shared_ffn == 32
    with pytest.raises(ConfigError, match="multiple of kv_heads"):
        model_from_dict(
            {"layers": 2, "hidden": 64, "heads": 4, "kv_heads": 3, "vocab": 100, "seq_len": 16}
        )
    with pytest.raises(ConfigError, match="missing"):
        model_from_dict({"layers": 2, "hidden": 64})


@pytest.mark.parametrize(
    ("written", "preset"),
    [("meta-llama/Llama-3.1-8B-Instruct", "llama3-8b"), ("Meta-Llama-3.1-8B-Instruct", "llama3-8b"),
     ("Llama-3.3-70B-Instruct", "llama3-70b"), ("Qwen/Qwen3-235B-A22B-FP8", "qwen3-235b-a22b"),
     ("deepseek-ai/DeepSeek-R1-0528", "deepseek-v3"), ("Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b"),
     ("nvidia/Llama-3.1-405B-Instruct-FP8", "llama3.1-405b"), ("Llama 2 70B", "llama2-70b"),
     ("Llama-2-70B-chat (MLPerf llama2-70b)", "llama2-70b"), ("deepseek-ai/DeepSeek-V3.1", "deepseek-v3"),
     ("zai-org/GLM-4.6-FP8", "glm-4.5"), ("DeepSeek-R1-Distill-Llama-70B", "llama3-70b"),
     ("meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8", "llama4-maverick")],
)  # fmt: skip
def test_a_published_checkpoint_name_finds_its_preset(written: str, preset: str) -> None:
    """Organisation, tuning, format and date tokens and a parenthesised remark do not change the
    shape: they are dropped; releases of the same shape are aliases."""
    assert resolve_id(written) == preset


def test_a_checkpoint_of_another_version_is_not_taken_for_the_preset() -> None:
    """Mistral 7B v0.3 (another vocabulary, no sliding window) is not the v0.1 preset."""
    with pytest.raises(CatalogError, match="unknown model preset"):
        resolve_id("mistralai/Mistral-7B-Instruct-v0.3")
