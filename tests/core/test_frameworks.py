"""Framework semantics in run specs (`framework:`), derived MoE fields and shape fields."""

from __future__ import annotations

import pytest

from wanka.errors import ConfigError
from wanka.perf.predict import predict
from wanka.spec import parse_run
from wanka.workload.counts import param_count
from wanka.workload.frameworks import FRAMEWORKS, get_framework


def _run(**over):
    d = {
        "id": "r",
        "model": {"preset": "llama3-70b", "seq_len": 8192},
        "hardware": {"accelerator": "h100-sxm", "count": 64},
        "parallelism": {"tp": 4, "pp": 4, "micro_batch_size": 2},
        "precision": "bf16",
    }
    for k, v in over.items():
        d[k] = v
    return parse_run(d)


def test_every_framework_names_its_source() -> None:
    assert set(FRAMEWORKS) >= {
        "megatron",
        "nemo",
        "torchtitan",
        "maxtext",
        "paxml",
        "mindspeed",
        "mindformers",
        "deepspeed",
        "llm-foundry",
        "other",
    }
    for fw in FRAMEWORKS.values():
        assert fw.source and fw.batch in ("microbatch", "local", "per_device")
    with pytest.raises(ConfigError, match="unknown framework"):
        get_framework("jax-magic")


def test_torchtitan_local_batch_is_cut_into_pipeline_microbatches() -> None:
    r = _run(framework="torchtitan")
    assert r.framework == "torchtitan"
    # local batch 2 per DP rank (dp = 64/16 = 4): global 8, pipeline micro-batch 1
    assert r.parallelism.global_batch_size == 8 and r.parallelism.micro_batch_size == 1
    m = _run(framework="megatron")
    assert m.parallelism.micro_batch_size == 2 and m.parallelism.global_batch_size == 8


def test_maxtext_without_a_layout_is_fsdp_over_the_slice() -> None:
    r = _run(framework="maxtext", parallelism={"micro_batch_size": 2})
    p = r.parallelism
    assert p.fsdp == "full" and p.dp == 64 and p.global_batch_size == 128
    assert any("FSDP over all 64" in a for a in r.assumptions)


def test_framework_inferred_from_the_source_and_said() -> None:
    r = _run(source="https://github.com/pytorch/torchtitan/blob/main/docs/performance.md")
    assert r.framework == "torchtitan"
    assert any("framework null: torchtitan" in a for a in r.assumptions)
    assert _run().framework == "other"


def test_tp_overlap_credit_only_for_frameworks_that_overlap() -> None:
    nemo = predict(_run(framework="nemo"))
    titan = predict(_run(framework="megatron"))
    assert titan["breakdown"]["exposed_comm_s"]["tp"] > nemo["breakdown"]["exposed_comm_s"]["tp"]
    assert titan["tokens_per_s_per_gpu"] < nemo["tokens_per_s_per_gpu"]


def test_recompute_inferred_when_the_layout_does_not_fit() -> None:
    # Llama 3 70B, tp1 pp8 mbs 4 at 8k does not fit an H100 without recompute
    d = {"tp": 1, "pp": 8, "micro_batch_size": 4, "global_batch_size": 256}
    stated = predict(_run(framework="torchtitan", parallelism=dict(d, recompute="none")))
    assert stated["fits"] is False
    inferred = predict(_run(framework="torchtitan", parallelism=d))
    assert inferred["fits"] is True
    assert any("recompute inferred" in a for a in inferred["assumptions"])
    assert inferred["breakdown"]["recompute_s"] > 0


def test_moe_expert_ffn_derived_and_missing_fields_named() -> None:
    grok = {
        "name": "Grok-1",
        "layers": 64,
        "hidden": 6144,
        "heads": 48,
        "kv_heads": 8,
        "ffn_hidden": 32768,
        "vocab": 131072,
        "seq_len": 8192,
        "moe": {"experts": 8, "top_k": 2},
    }
    r = _run(model=grok, parallelism={"tp": 8, "pp": 8, "ep": 1})
    assert r.model.moe.expert_ffn == 32768
    assert any("expert_ffn null" in a for a in r.assumptions)
    bad = dict(grok, moe={"top_k": 2})
    with pytest.raises(ConfigError, match="model.moe.experts"):
        _run(model=bad)
    bad = {k: v for k, v in grok.items() if k != "ffn_hidden"}
    with pytest.raises(ConfigError, match="expert_ffn"):
        _run(model=bad)


def test_vpp_normalised_when_pp_is_one() -> None:
    r = _run(parallelism={"tp": 8, "pp": 1, "vpp": 4})
    assert r.parallelism.vpp == 1
    assert any("vpp 4 with pp 1" in a for a in r.assumptions)


def test_shape_fields_move_the_counts() -> None:
    base = {
        "name": "m",
        "layers": 8,
        "hidden": 1024,
        "heads": 8,
        "kv_heads": 8,
        "ffn_hidden": 4096,
        "vocab": 32000,
        "seq_len": 2048,
    }
    plain = _run(model=dict(base, gated_mlp=False)).model
    gated = _run(model=dict(base, gated_mlp=True)).model
    tied = _run(model=dict(base, gated_mlp=True, tied_embeddings=True)).model
    wide = _run(model=dict(base, gated_mlp=True, head_dim=256)).model
    assert plain.activation == "gelu" and gated.activation == "swiglu"
    assert param_count(gated).total - param_count(plain).total == 8 * 1024 * 4096
    assert param_count(gated).total - param_count(tied).total == 32000 * 1024
    assert param_count(wide).total > param_count(gated).total
    with pytest.raises(ConfigError, match="gated_mlp"):
        _run(model=dict(base, gated_mlp=True, activation="gelu"))


def test_pipeline_schedules_shrink_the_bubble_as_published() -> None:
    par = {"tp": 1, "pp": 8, "micro_batch_size": 1, "global_batch_size": 64}
    b = {
        s: predict(_run(framework="megatron", parallelism=dict(par, pipeline_schedule=s)))
        for s in ("1f1b", "zb-h1", "dualpipe")
    }
    bub = {s: b[s]["breakdown"]["bubble_s"] for s in b}
    # DeepSeek-V3 Table 2 with W = B/2: 1F1B (p-1)(F+B) > ZB1P (p-1)(F+B-2W) > DualPipe (p/2-1)(F+B-W)
    assert bub["1f1b"] > bub["zb-h1"] > bub["dualpipe"] > 0
    assert b["1f1b"]["breakdown"]["compute_s"] == pytest.approx(
        b["zb-h1"]["breakdown"]["compute_s"]
    )
    with pytest.raises(ConfigError, match="pipeline_schedule"):
        _run(parallelism=dict(par, pipeline_schedule="gpipe"))


def test_hai_llm_dualpipe_hides_the_all_to_all() -> None:
    d = {
        "id": "ds",
        "model": {"preset": "deepseek-v3", "seq_len": 4096},
        "hardware": {"accelerator": "h800", "count": 256},
        "parallelism": {
            "tp": 1,
            "pp": 8,
            "ep": 32,
            "micro_batch_size": 1,
            "global_batch_size": 512,
        },
        "precision": "bf16",
    }
    hai = predict(parse_run(dict(d, framework="hai-llm")))
    other = predict(parse_run(dict(d, framework="other")))
    assert hai["breakdown"]["exposed_comm_s"]["ep"] == 0.0
    assert other["breakdown"]["exposed_comm_s"]["ep"] > 0.0
    assert hai["breakdown"]["bubble_s"] < other["breakdown"]["bubble_s"]


def test_llm_foundry_loss_is_the_fused_bf16_cross_entropy() -> None:
    foundry = predict(_run(framework="llm-foundry"))
    other = predict(_run(framework="megatron"))
    assert any(a.startswith("loss: MosaicML llm-foundry") for a in foundry["assumptions"])
    assert not any(a.startswith("loss:") for a in other["assumptions"])
    assert foundry["peak_memory_gib"] < other["peak_memory_gib"]


def test_fsdp_inferred_when_an_unsharded_layout_cannot_hold_its_states() -> None:
    # Llama 3 70B replicated on every GB300 (tp = pp = 1, no FSDP): bf16 weights and gradients alone
    # exceed the GPU's memory; Megatron-Bridge's recipes run that layout with Megatron-FSDP
    hw = {"accelerator": "gb300", "count": 64}
    d = {"tp": 1, "pp": 1, "fsdp": "none", "micro_batch_size": 1, "global_batch_size": 64}
    stated = predict(_run(framework="megatron", hardware=hw, parallelism=d))
    assert stated["fits"] is False
    nemo = predict(_run(framework="nemo", hardware=hw, parallelism=d))
    assert nemo["fits"] is True
    assert any("parallelism.fsdp none: full inferred" in a for a in nemo["assumptions"])
    assert nemo["memory_gib"]["weights"] < stated["memory_gib"]["weights"] / 16
    # a layout that holds its states keeps the stated fsdp: none
    small = predict(_run(framework="nemo", hardware=hw, parallelism=dict(d, tp=4, pp=4)))
    assert not any("fsdp none" in a for a in small["assumptions"])
