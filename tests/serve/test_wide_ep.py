"""Wide expert parallelism: MoE instances wider than one scale-up domain (tp = ep, attention DP)."""

from __future__ import annotations

import pytest

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


def test_wide_widths_are_whole_domains_holding_the_experts_with_few_redundant():
    """Whole domains whose ceil(E / w) slots per GPU leave at most E / 4 redundant copies: SGLang's
    EP72 and DeepSeek's EP144 (288 slots for 256 experts) and DeepSeek-V3's EP320 decode (64 spare
    GPUs) are widths; 64 experts on 48 GPUs (96 slots, 32 spare) are not."""
    assert wide_ep_degrees(256, 8, 72) == [16, 24, 32, 40, 48, 56, 64, 72]
    assert {72, 144, 320} <= set(wide_ep_degrees(256, 8, 320))
    assert 48 not in wide_ep_degrees(64, 8, 128) and 40 in wide_ep_degrees(64, 8, 128)
    assert wide_ep_degrees(0, 8, 72) == []  # a dense model has none


def test_a_stated_ep_that_is_no_tensor_parallel_width_is_a_wide_ep_instance():
    """EP 160 over 160 Ascend 910C of a 384-chip supernode: inside one scale-up domain but no
    divisor of the 128 heads nor of the 256 experts: an attention-DP instance whose 160 GPUs hold
    two expert slots each (EPLB's redundant copies)."""
    spec = parse_serve_spec({
        "model": "deepseek-v3", "hardware": {"accelerator": "ascend-910c", "count": 160},
        "serving": {"precision": "int8", "ep": 160}, "workload": {"input_len": 4096, "output_len": 1024},
    })  # fmt: skip
    out = predict_serve(spec)
    assert out["layout"] == {"tp": 160, "pp": 1, "ep": 160, "dp": 1, "attention_dp": True}
    assert out["output_tokens_per_s_per_gpu"] > 0


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


def test_a_stated_wide_layout_predicts_with_its_all_to_all_hidden():
    """One EP32 prefill instance (SGLang's DeepSeek-V3 prefill on 4 H100 nodes) is evaluated, its
    all-to-all overlapped with the other micro-batch's compute; a fixed batch whose size is a scalar
    gives a whole record (it used to fail indexing a 0-d batch)."""
    out = predict_serve(_spec(32, "fixed-batch", tp=32, ep=32, attention_dp=True))
    assert out["layout"] == {"tp": 32, "pp": 1, "ep": 32, "dp": 1, "attention_dp": True}
    assert out["max_batch"] == 64 and out["ttft_ms"]["p50"] > 0
    assert out["breakdown"]["exposed_comm_s"] == 0.0


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


def test_prefill_tokens_cross_the_network_once_per_node_decode_tokens_once_per_copy():
    """DeepEP normal kernels: one RDMA send per destination node; low-latency kernels: per copy.
    Top-8 over 4 nodes: 3 x (1 - 0.75^8) = 2.70 distinct remote nodes against 8 x 3/4 = 6 copies."""
    import numpy as np

    from wanka.serve.model import model_shape
    from wanka.serve.step import _wide_copies
    from wanka.workload.presets import get_model

    s = model_shape(get_model("deepseek-v3"))
    four = np.array([4.0])
    assert _wide_copies(s, four, np.array([1.0]))[0] == pytest.approx(2.7 / 6.0, rel=2e-3)
    assert _wide_copies(s, four, np.array([0.0]))[0] == pytest.approx(1.0)
    assert _wide_copies(s, four, np.array([0.5]))[0] == pytest.approx(
        (2.7 / 6.0 + 1.0) / 2, rel=2e-3
    )


def test_wide_ep_prefill_hides_its_all_to_all_behind_compute():
    """SGLang's EP32 DeepSeek-V3 prefill (4 H100 nodes, 4,096-token prompts, 1,024 per GPU): with the
    fp8, once-per-node dispatch the all-to-all fits under the compute of the other micro-batch."""
    from wanka.serve.engine import Engine
    from wanka.serve.model import Layouts, model_shape

    spec = _spec(32, tp=32, ep=32, attention_dp=True)
    eng = Engine(model_shape(spec.model), spec.accelerator, spec.precision, spec.kv_precision)
    n = 1024.0 * 32
    t = eng.step(Layouts.of(32, 1, 32, True), n_dec=0.0, ctx_dec=0.0, n_pre=n,
                 pre_pairs=n * 2048.0, n_out=n / 4096)  # fmt: skip
    assert t.comm_s[0] < 0.05 * t.total_s[0]
    assert 4000.0 < n / t.total_s[0] / 32 < 8000.0  # tokens/s/GPU; SGLang's blog: 6,288


def test_a_stated_ep_width_not_dividing_the_experts_is_one_wide_instance():
    """SGLang's EP72 DeepSeek-V3 decode (9 H100 nodes) fills 288 expert slots with redundant experts
    (EPLB): the busiest rank holds ceil(256 / 72) = 4 experts."""
    spec = _spec(72, ep=72)
    lay, inst = candidate_layouts(spec)
    assert list(zip(lay.tp, lay.ep, lay.attention_dp, inst)) == [(72.0, 72.0, True, 1.0)]
    out = predict_serve(spec)
    assert out["layout"]["tp"] == 72 and out["output_tokens_per_s_per_gpu"] > 0


def test_serve_plan_screens_wide_expert_parallel_layouts_for_moe_models():
    """`serve plan` offers DeepSeek-V3 on H100 as EP16/EP32 instances spanning 2-4 nodes too."""
    from wanka.serve.plan import plan_serving
    from wanka.workload.presets import get_model

    res = plan_serving(get_model("deepseek-v3"), ["h100-sxm"], rate=50, input_len=2000,
                       output_len=200, ttft_ms=3000, tpot_ms=100, max_count=64, per_chip=6,
                       verify=False)  # fmt: skip
    wide = [p for p in res.plans if p["layout"]["tp"] > 8]
    assert wide and all(p["layout"]["ep"] == p["layout"]["tp"] for p in wide)
    assert all(p["layout"]["attention_dp"] for p in wide)


def test_expert_parallelism_wider_than_the_instance_is_refused_with_the_way_to_write_it():
    """tp 1 with ep 8 (vLLM's dp 8 x tp 1 words) once split one GPU's experts 8 ways and predicted
    3x the throughput; an instance is its tp GPUs, so ep must divide tp."""
    from wanka.errors import ConfigError

    with pytest.raises(ConfigError, match=r"write tp: 8, ep: 8, attention_dp: true"):
        candidate_layouts(_spec(8, tp=1, ep=8))
    lay, _ = candidate_layouts(_spec(8, ep=8))  # tp left to choose: the 8-GPU instance
    assert set(lay.tp) == {8.0} and lay.attention_dp.all()
