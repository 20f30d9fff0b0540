"""Wide expert parallelism: MoE instances wider than one scale-up domain (tp = ep, attention DP)."""

from __future__ import annotations

from wanka.serve.model import wide_ep_degrees
from wanka.serve.predict import candidate_layouts, predict_serve
from wanka.serve.spec import parse_serve_spec


def _spec(count: int, scenario: str = "offline", **serving):
    wl = {"scenario": scenario, "input_len": 2000, "output_len": 100}
    if scenario == "fixed-batch":
        wl["batch_size"] = 64
    return parse_serve_spec({
        "model": "deepseek-v3", "hardware": {"accelerator": "h100-sxm", "count": count},
        "serving": {"precision": "fp8", **serving}, "workload": wl,
    })  # fmt: skip


def test_wide_widths_are_whole_domains_dividing_the_experts():
    # 256 routed experts on 8-GPU nodes: 16, 32, 64 (24, 40, 48, 56 do not divide 256)
    assert wide_ep_degrees(256, 8, 72) == [16, 32, 64]
    assert wide_ep_degrees(0, 8, 72) == []  # a dense model has none


def test_moe_candidates_span_nodes_only_as_attention_dp_expert_parallel():
    lay, inst = candidate_layouts(_spec(32))
    wide = lay.tp > 8
    assert set(lay.tp[wide]) == {16.0, 32.0}
    assert (lay.ep[wide] == lay.tp[wide]).all() and lay.attention_dp[wide].all()
    assert (lay.pp[wide] == 1).all() and set(inst[wide]) == {2.0, 1.0}


def test_dense_models_and_stated_tp_get_no_wide_layouts():
    dense = parse_serve_spec({
        "model": "llama3-70b", "hardware": {"accelerator": "h100-sxm", "count": 32},
        "serving": {"precision": "fp8"}, "workload": {"input_len": 512, "output_len": 128},
    })  # fmt: skip
    assert candidate_layouts(dense)[0].tp.max() <= 8
    assert candidate_layouts(_spec(32, tp=8))[0].tp.max() == 8


def test_a_stated_wide_layout_predicts_with_its_all_to_all_over_the_nics():
    """One EP32 prefill instance (SGLang's DeepSeek-V3 prefill on 4 H100 nodes) is evaluated; a fixed
    batch whose size is a scalar gives a whole record (it used to fail indexing a 0-d batch)."""
    out = predict_serve(_spec(32, "fixed-batch", tp=32, ep=32, attention_dp=True))
    assert out["layout"] == {"tp": 32, "pp": 1, "ep": 32, "dp": 1, "attention_dp": True}
    assert out["max_batch"] == 64 and out["ttft_ms"]["p50"] > 0
    assert out["breakdown"]["exposed_comm_s"] > 0


def test_int8_weights_are_one_byte_and_fall_back_to_the_bf16_peak_without_an_int8_one():
    """W8A8 (vLLM-Ascend, SmoothQuant) serves with one-byte weights: a larger KV pool than bf16 on the
    same chip; a chip without a catalog int8 peak runs the GEMMs at bf16, and the record says so."""

    def run(precision: str) -> dict:
        return predict_serve(parse_serve_spec({
            "model": "llama3-70b", "hardware": {"accelerator": "ascend-910b", "count": 8},
            "serving": {"precision": precision, "tp": 8},
            "workload": {"scenario": "fixed-batch", "batch_size": 1, "input_len": 512,
                         "output_len": 128},
        }))  # fmt: skip

    int8, bf16 = run("int8"), run("bf16")
    assert any("no int8 peak" in a for a in int8["assumptions"])
    # 70e9 weights / 8 GPUs: 8.2 GiB fewer per GPU, 90% of which joins the KV pool (fraction of free)
    assert int8["kv_cache_gib"] - bf16["kv_cache_gib"] > 0.85 * 8.15
    assert int8["tpot_ms"]["p50"] <= bf16["tpot_ms"]["p50"] * (1 + 1e-12)  # never slower than bf16
