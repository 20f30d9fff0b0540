"""KV-cache capacity and decode step time against hand-computed cases (sources in each docstring)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from wanka.catalogs import get_accelerator
from wanka.errors import ConfigError
from wanka.perf.params import default_calibration
from wanka.serve import (
    Engine,
    EngineDefaults,
    Layouts,
    ServeCalibration,
    default_serve_calibration,
    model_shape,
)
from wanka.serve.model import (
    WEIGHT_FORMATS,
    kv_bytes_per_token_per_gpu,
    kv_tokens_held,
    mean_context,
    precision_name,
    prefill_pairs,
    weight_format,
)
from wanka.serve.spec import parse_serve_spec
from wanka.serve.step import shape_calibration
from wanka.workload.counts import param_count
from wanka.workload.presets import get_model

H100 = get_accelerator("h100-sxm")
GiB = 2**30


def test_kv_bytes_gqa_matches_vllm_page_size():
    """vLLM v1 FullAttentionSpec: page_size_bytes = 2 * block_size * num_kv_heads * head_size * dtype
    per layer. Llama 3 8B (32 layers, 8 KV heads of 128) in bf16: 2*8*128*2 = 4096 B per token per
    layer, 131,072 B per token for the whole model on one GPU."""
    s = model_shape(get_model("llama3-8b"))
    assert kv_bytes_per_token_per_gpu(s, 2.0, 1, 1)[()] == 2 * 8 * 128 * 2 * 32
    # fp8 KV halves it; tp=2 splits the 8 KV heads 4/4; pp=2 halves the layers per GPU
    assert kv_bytes_per_token_per_gpu(s, 1.0, 1, 1)[()] == 65_536
    assert kv_bytes_per_token_per_gpu(s, 2.0, 2, 1)[()] == 65_536
    assert kv_bytes_per_token_per_gpu(s, 2.0, 1, 2)[()] == 65_536


def test_kv_heads_replicated_beyond_kv_groups():
    """tp > kv_heads: each GPU keeps one whole KV head (vLLM `num_kv_heads = max(1, total // tp)`).
    Llama 3 70B (8 KV heads, 80 layers) at tp=16: 2*1*128*2*80 = 40,960 B per token per GPU."""
    s = model_shape(get_model("llama3-70b"))
    assert kv_bytes_per_token_per_gpu(s, 2.0, 16, 1)[()] == 2 * 1 * 128 * 2 * 80


def test_kv_bytes_mla_latent():
    """MLA caches the compressed latent, kv_lora_rank + qk_rope_head_dim = 512 + 64 per token per layer
    (DeepSeek-V2 paper, sec. 2.1.2; vLLM MLAAttentionSpec), whole on every TP rank: DeepSeek-V3's 61
    layers in bf16 hold 576*2*61 = 70,272 B per token, at any tp."""
    s = model_shape(get_model("deepseek-v3"))
    for tp in (1, 8):
        assert kv_bytes_per_token_per_gpu(s, 2.0, tp, 1)[()] == 576 * 2 * 61


def test_kv_capacity_block_arithmetic():
    """vLLM `num_blocks = available // (page_size * num_layers)`, available = HBM * utilisation -
    weights - activations - runtime. Llama 3 8B bf16 on one 80 GiB H100, 16-token blocks."""
    model = get_model("llama3-8b")
    eng_d = EngineDefaults(kv_block_tokens=16, fraction_of_free=False)
    eng = Engine(model_shape(model), H100, "bf16", "bf16", engine=eng_d)
    tokens, pool = eng.capacity(Layouts.of(1))
    weights = param_count(model).total * 2  # every parameter in bf16 (untied embedding and head)
    act = 8192 * (4 * 4096 + 2 * 14336) * 2 + 2048 * 128256 * 4  # max_num_tokens rows; fp32 logits
    available = 80 * GiB * 0.90 - weights - act - 2 * GiB
    blocks = math.floor(available / (16 * 131_072))
    assert pool[0] == pytest.approx(available, rel=1e-12)
    assert tokens[0] == blocks * 16


def test_tensorrt_llm_pool_is_a_fraction_of_the_free_memory():
    """TensorRT-LLM `free_gpu_memory_fraction` 0.9 takes 90% of what the model leaves free
    (TensorRT-LLM docs, How to Change KV Cache Behavior), vLLM 90% of all HBM minus the model: the same
    engine settings give the TensorRT-LLM pool 10% of the model's memory more."""
    model = get_model("llama3-8b")
    trt = Engine(model_shape(model), H100, "bf16", "bf16", engine=EngineDefaults())
    vllm = Engine(model_shape(model), H100, "bf16", "bf16",
                  engine=EngineDefaults(fraction_of_free=False))  # fmt: skip
    lay = Layouts.of(1)
    held = 80 * GiB - trt.capacity(lay)[1][0] / 0.9  # weights + activations + runtime
    assert trt.capacity(lay)[1][0] == pytest.approx(0.9 * (80 * GiB - held), rel=1e-12)
    assert vllm.capacity(lay)[1][0] == pytest.approx(0.9 * 80 * GiB - held, rel=1e-12)
    assert trt.capacity(lay)[1][0] - vllm.capacity(lay)[1][0] == pytest.approx(0.1 * held, rel=1e-9)


def test_decode_step_is_weight_and_kv_bound():
    """Batch-1 decode of Llama 3 8B bf16 on an H100 reads every weight and the KV cache once:
    t = (blocks 32 * 218,103,808 params * 2 B + head 128,256*4096 * 2 B + KV 1000 tokens * 131,072 B)
        / (3.35e12 B/s * memory_bw * stream_bw_efficiency) + overhead, within the small activation and
    element-wise traffic (< 1%)."""
    scal = ServeCalibration(stream_bw_efficiency=1.0, step_overhead_s=0.001)
    eng = Engine(model_shape(get_model("llama3-8b")), H100, "bf16", "bf16", scal=scal)
    t = eng.step(Layouts.of(1), n_dec=1.0, ctx_dec=1000.0).total_s[0]
    per_layer = 4096 * (32 + 2 * 8) * 128 + 32 * 128 * 4096 + 3 * 4096 * 14336
    assert per_layer == 218_103_808
    bytes_read = 32 * per_layer * 2 + 128256 * 4096 * 2 + 1000 * 131_072
    bw = H100.hbm_bw_bytes_per_s * H100.software_efficiency.memory_bw
    expected = bytes_read / bw + 0.001
    assert t == pytest.approx(expected, rel=0.01)
    assert t > expected  # the small activation traffic only adds


@pytest.mark.parametrize(
    "acc", ["h20", "h100-sxm", "h200", "b200", "mi300x", "ascend-910b", "gaudi3", "l40s", "tpu-v5e"]
)
def test_batch_one_decode_is_memory_bound_on_every_chip(acc: str) -> None:
    """One decoding sequence reads every weight once for 2 FLOP per weight: a GEMV, memory-bound on any
    chip (H20: 148 TFLOP/s against 4.0 TB/s, ridge 37 FLOP/byte; one bf16 token is 1 FLOP/byte). The
    step must cost the bytes of test_decode_step_is_weight_and_kv_bound over the chip's bandwidth,
    within 5% (activations; on the H20 the 16-row MMA padding of one token comes close to the memory
    time). Before the shape curve scaled with the chip's ops:byte ratio, the H20 came out
    compute-bound at 4.3x that (with the shipped 32-row tile)."""
    chip = get_accelerator(acc)
    scal = replace(default_serve_calibration(), stream_bw_efficiency=1.0, step_overhead_s=0.0)
    eng = Engine(model_shape(get_model("llama3-8b")), chip, "bf16", "bf16", scal=scal)
    t = eng.step(Layouts.of(1), n_dec=1.0, ctx_dec=1000.0).total_s[0]
    bytes_read = 32 * 218_103_808 * 2 + 128256 * 4096 * 2 + 1000 * 131_072
    bw = chip.hbm_bw_bytes_per_s * chip.software_efficiency.memory_bw
    assert bytes_read / bw <= t <= 1.05 * bytes_read / bw


def test_shape_curve_half_dimension_follows_the_ops_per_byte_ratio() -> None:
    """`shape_calibration`: c = training gemm_half_dim x (bf16 peak / HBM bandwidth) / H100's ratio,
    so an H20 (148e12 / 4.0e12 = 37 FLOP/byte) feeds its tensor cores with 8x narrower tiles."""
    base = default_calibration()
    scal = ServeCalibration()
    h20 = shape_calibration(get_accelerator("h20"), base, scal)
    h100 = shape_calibration(H100, base, scal)
    assert h100.gemm_half_dim == pytest.approx(base.gemm_half_dim)
    assert h20.gemm_half_dim == pytest.approx(base.gemm_half_dim * 37.0 / (989.4 / 3.35))
    assert h20.gemm_tile == h100.gemm_tile == scal.gemm_tile


def test_decode_time_grows_with_batch_and_context():
    """More sequences or longer contexts never make an iteration faster (vectorised over a grid)."""
    eng = Engine(model_shape(get_model("llama3-70b")), H100, "fp8", "fp8")
    b = np.array([1.0, 8.0, 64.0, 256.0])
    lay = Layouts.of(np.full(4, 4.0))
    t = eng.step(lay, n_dec=b, ctx_dec=b * 2000.0).total_s
    assert np.all(np.diff(t) > 0)
    t2 = eng.step(lay, n_dec=b, ctx_dec=b * 8000.0).total_s
    assert np.all(t2 > t)


def test_moe_expert_loading_grows_with_batch():
    """Expected distinct experts hit by M tokens, E * (1 - (1 - k/E)^M): one token of Qwen3-235B-A22B
    (128 experts, top 8) loads 8 experts' weights, a large batch all 128, so a decode iteration's time per
    token falls steeply with the batch."""
    eng = Engine(model_shape(get_model("qwen3-235b-a22b")), H100, "fp8", "fp8")
    lay = Layouts.of(np.full(3, 8.0), 1, 8)
    b = np.array([1.0, 16.0, 256.0])
    t = eng.step(lay, n_dec=b, ctx_dec=b * 1000.0).total_s
    per_token = t / b
    assert per_token[0] > 5 * per_token[1] > 5 * per_token[2]


def test_scalar_and_vector_paths_agree():
    """One layout evaluated alone equals the same row of a batch evaluation (single code path)."""
    eng = Engine(model_shape(get_model("mixtral-8x7b")), H100, "fp8", "fp8")
    lay = Layouts.of([1, 2, 4, 8], 1, [1, 2, 4, 8], [False, False, True, True])
    many = eng.offline(lay, 1000.0, 500.0)
    for i in range(4):
        one = eng.offline(Layouts.of(lay.tp[i], 1, lay.ep[i], lay.attention_dp[i]), 1000.0, 500.0)
        assert one.output_tokens_per_s_per_gpu[0] == pytest.approx(
            many.output_tokens_per_s_per_gpu[i], rel=1e-12
        )


def test_engine_defaults_are_overridable():
    """A smaller memory share leaves a smaller KV pool."""
    s = model_shape(get_model("llama3-8b"))
    a = Engine(s, H100, "bf16", "bf16").capacity(Layouts.of(1))[1][0]
    b = Engine(
        s, H100, "bf16", "bf16", engine=replace(EngineDefaults(), gpu_memory_utilization=0.5)
    )
    assert b.capacity(Layouts.of(1))[1][0] < a


@pytest.mark.parametrize(
    ("written", "name"),
    [("NVFP4", "fp4"), ("MXFP4", "mxfp4"), ("FP8 (blockwise)", "fp8-blockwise"), ("fp8-blockwise", "fp8-blockwise"), ("W8A8", "int8"),
     ("AWQ (W4A16)", "int4"), ("bfloat16", "bf16"), ("fp8", "fp8")],
)  # fmt: skip
def test_published_precision_names_map_to_a_weight_format(written: str, name: str) -> None:
    assert precision_name(written) == name
    assert name in WEIGHT_FORMATS


def test_four_bit_formats_count_their_block_scales() -> None:
    # NVFP4: one fp8 scale per 16 values; MXFP4: one E8M0 per 32; AWQ int4: one fp16 per 128
    assert WEIGHT_FORMATS["fp4"].bytes_per_param == pytest.approx(0.5 + 1 / 16)
    assert WEIGHT_FORMATS["mxfp4"].bytes_per_param == pytest.approx(0.5 + 1 / 32)
    assert WEIGHT_FORMATS["int4"].bytes_per_param == pytest.approx(0.5 + 2 / 128)


def test_mxfp4_without_fp4_tensor_cores_is_weight_only() -> None:
    """gpt-oss ships in MXFP4 and is served so on H100 and MI300X, which have no fp4 peak: 0.53-byte
    weights, GEMMs at the bf16 peak (no low-precision speed-up), stated; B200 runs it at fp4."""
    h100 = Engine(model_shape(get_model("gpt-oss-120b")), H100, "mxfp4", "fp8")
    b200 = Engine(model_shape(get_model("gpt-oss-120b")), get_accelerator("b200"), "mxfp4", "fp8")
    assert h100.r.gemm == pytest.approx(h100.r.bf16_gemm)
    assert b200.r.gemm > 1.5 * b200.r.bf16_gemm
    spec = parse_serve_spec({
        "model": "gpt-oss-120b", "hardware": {"accelerator": "mi300x", "count": 1},
        "serving": {"precision": "MXFP4"}, "workload": {"input_len": 1000, "output_len": 1000},
    })  # fmt: skip
    assert any("weight-only mxfp4" in a for a in spec.assumptions)


def test_int8_runs_at_the_int8_peak_where_the_catalog_lists_one() -> None:
    """W8A8 int8 (CloudMatrix-Infer's DeepSeek-R1 on Ascend 910C): GEMMs at the int8 peak, twice
    bf16 on the 910C; on a chip without one (910B) weight-only at the bf16 peak."""
    shape = model_shape(get_model("llama3-70b"))
    c = Engine(shape, get_accelerator("ascend-910c"), "int8", "bf16")
    b = Engine(shape, get_accelerator("ascend-910b"), "int8", "bf16")
    assert c.r.gemm == pytest.approx(2.0 * c.r.bf16_gemm)
    assert b.r.gemm == pytest.approx(b.r.bf16_gemm)


def test_a_chip_without_a_bf16_peak_is_refused_not_served_at_zero() -> None:
    """Attention runs at the bf16 (or fp16) peak: a chip listing only fp8 would divide by zero."""
    acc = get_accelerator("tpu-v7")
    only_fp8 = replace(acc, peak_flops={"fp8": acc.peak_flops["fp8"]})
    with pytest.raises(ConfigError, match="no bf16 or fp16 peak"):
        Engine(model_shape(get_model("llama3-8b")), only_fp8, "fp8", "fp8")
    eng = Engine(model_shape(get_model("llama3-8b")), acc, "fp8", "fp8")
    assert eng.offline(Layouts.of(1), 1024.0, 256.0).output_tokens_per_s_per_gpu[0] > 0


def test_blockwise_fp8_gemms_run_at_the_blockwise_speed_up() -> None:
    """FP8 with 128 x 128 weight-block scales (DeepSeek-V3/R1, Qwen3 FP8 checkpoints) runs its GEMMs
    at the fitted `fp8-blockwise` speed-up over bf16, per-tensor fp8 at `fp8`'s; same one byte per
    weight (plus 4 bytes per 16,384)."""
    cal = default_calibration()
    per_tensor = Engine(model_shape(get_model("qwen3-235b-a22b")), H100, "fp8", "fp8")
    blockwise = Engine(model_shape(get_model("qwen3-235b-a22b")), H100, "fp8-blockwise", "fp8")
    ratio = cal.lowp_gemm_speedup["fp8-blockwise"] / cal.lowp_gemm_speedup["fp8"]
    assert blockwise.r.gemm == pytest.approx(per_tensor.r.gemm * ratio)
    assert WEIGHT_FORMATS["fp8-blockwise"].bytes_per_param == pytest.approx(1.0 + 4 / 128**2)


def test_sliding_window_layers_keep_only_their_window():
    """gpt-oss-120b: 18 of its 36 layers attend to a 128-token window (config.json layer_types,
    'SF'), so a 10,000-token sequence holds 0.5 x 10,000 + 0.5 x 128 = 5,064 tokens of all-layer KV
    and reads as many keys per decode step; a 100-token one holds all 100 in every layer."""
    s = model_shape(get_model("gpt-oss-120b"))
    assert (s.slide_frac, s.window) == (0.5, 128.0)
    assert kv_tokens_held(s, 10_000.0) == pytest.approx(5_064.0)
    assert kv_tokens_held(s, 100.0) == pytest.approx(100.0)
    assert kv_tokens_held(model_shape(get_model("llama3-8b")), 10_000.0) == 10_000.0


@pytest.mark.parametrize(("done", "chunk"), [(0, 100), (0, 1000), (100, 100), (50, 300), (500, 64)])
def test_window_sums_match_the_token_by_token_count(done: int, chunk: int) -> None:
    """`prefill_pairs` and `mean_context` are integrals of min(x, window); against the discrete sums
    over tokens (query j of a sliding layer sees min(j, 128) keys) they agree to half a token per
    query."""
    s = model_shape(get_model("gpt-oss-120b"))
    js = np.arange(done + 1, done + chunk + 1, dtype=np.float64)
    pairs = 0.5 * js.sum() + 0.5 * np.minimum(js, 128.0).sum()
    assert prefill_pairs(s, float(done), float(chunk)) == pytest.approx(pairs, abs=0.5 * chunk)
    ctx = 0.5 * js + 0.5 * np.minimum(js, 128.0)
    assert mean_context(s, float(done), float(chunk)) == pytest.approx(ctx.mean(), abs=0.5)


def test_sliding_windows_raise_the_kv_bound_batch():
    """Long requests of gpt-oss-120b on one H100: with half the layers holding 128 tokens the KV
    pool admits about twice the sequences of the same model with full attention everywhere."""
    model = get_model("gpt-oss-120b")
    full = replace(model, sliding_window=None, attention_layer_pattern=None)
    lay = Layouts.of(1)
    b_win = Engine(model_shape(model), H100, "mxfp4", "fp8").max_batch(lay, 8000.0, 1000.0)[0][0]
    b_full = Engine(model_shape(full), H100, "mxfp4", "fp8").max_batch(lay, 8000.0, 1000.0)[0][0]
    assert b_full > 10
    assert b_win / b_full == pytest.approx(9000.0 / (0.5 * 9000.0 + 0.5 * 128.0), rel=0.03)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("1024 (fixed)", 1024.0), ("random 1,024", 1024.0), ("ISL 2k", 2048.0), ("~2000 tokens", 2000.0),
     ("variable, mean 512", 512.0)],
)  # fmt: skip
def test_a_length_in_text_is_its_one_standalone_number(text: str, tokens: float) -> None:
    """Free-text lengths of published tables: the one standalone number they hold (k = 1,024), said
    in the assumptions; digits inside a name do not count."""
    spec = parse_serve_spec({
        "model": "llama3-8b", "hardware": {"accelerator": "h100-sxm", "count": 1},
        "workload": {"scenario": "offline", "input_len": text, "output_len": "128 tokens"},
    })  # fmt: skip
    assert spec.input_len == tokens and spec.output_len == 128.0
    assert any("input_len" in n and f"{tokens:g}" in n for n in spec.assumptions)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("128-1024", 576.0), ("random 1000 - 2000", 1500.0), ("1k to 2k tokens", 1536.0),
     ("1,000-1,000", 1000.0)],
)  # fmt: skip
def test_a_length_range_is_read_as_its_middle(text: str, tokens: float) -> None:
    """One range of lengths (vLLM's random dataset draws uniformly over one) is its midpoint, said in
    the assumptions; digits inside a name are no range."""
    spec = parse_serve_spec({
        "model": "llama3-8b", "hardware": {"accelerator": "h100-sxm", "count": 1},
        "workload": {"scenario": "offline", "input_len": text, "output_len": 128},
    })  # fmt: skip
    assert spec.input_len == tokens
    assert any("middle of its range" in n for n in spec.assumptions)


@pytest.mark.parametrize("text", ["ShareGPT", "Llama-2-70b prompts", "128-1024 or 2048-4096"])
def test_a_length_in_text_without_one_number_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="cannot read .* as a token count"):
        parse_serve_spec({
            "model": "llama3-8b", "hardware": {"accelerator": "h100-sxm", "count": 1},
            "workload": {"scenario": "offline", "input_len": text, "output_len": 128},
        })  # fmt: skip


@pytest.mark.parametrize(("text", "rate"), [("100 req/s", 100.0), ("12.5 QPS", 12.5), ("7", 7.0)])
def test_a_rate_written_with_its_unit_is_read(text: str, rate: float) -> None:
    spec = parse_serve_spec({
        "model": "llama3-8b", "hardware": {"accelerator": "h100-sxm", "count": 1},
        "workload": {"scenario": "server", "input_len": 512, "output_len": 128, "request_rate": text},
    })  # fmt: skip
    assert spec.request_rate == rate


def test_a_rate_per_minute_is_not_read_as_per_second() -> None:
    with pytest.raises(ConfigError, match="cannot read '600 requests per minute'"):
        parse_serve_spec({
            "model": "llama3-8b", "hardware": {"accelerator": "h100-sxm", "count": 1},
            "workload": {"scenario": "server", "input_len": 512, "output_len": 128,
                         "request_rate": "600 requests per minute"},
        })  # fmt: skip


def _block(**model):
    return {"model": {"type": "dense", "attention": "gqa", "moe": None, **model},
            "hardware": {"accelerator": "h200", "count": 8},
            "workload": {"scenario": "offline", "input_len": 1000, "output_len": 1000}}  # fmt: skip


def test_a_head_size_other_than_hidden_over_heads_is_read_from_the_stated_parameters():
    """Qwen3-32B's block (no preset): 5120 / 64 heads would be 80, but its heads are 128 wide, and
    only 128 gives its 32.8B parameters (80 gives 30.5B). Said in the assumptions."""
    qwen = dict(name="Qwen3-32B", params_b=32.8, layers=64, hidden=5120, heads=64, kv_heads=8,
                ffn_hidden=25600, vocab=151936)  # fmt: skip
    spec = parse_serve_spec(_block(**qwen))
    assert spec.model.head_dim == 128
    assert any("head_dim null" in a and "128" in a for a in spec.assumptions)
    unstated = parse_serve_spec(_block(**{**qwen, "params_b": None}))
    assert unstated.model.head_dim is None  # nothing to tell: hidden / heads stands


def test_a_head_size_that_hidden_over_heads_cannot_give_defaults_to_128():
    """GLM-4.5-like: 96 heads of a 5,120 hidden; a block without head_dim is served at 128, not refused."""
    glm = dict(name="GLM-4.5-like", layers=92, hidden=5120, heads=96, kv_heads=8, ffn_hidden=12288,
               vocab=151552)  # fmt: skip
    spec = parse_serve_spec(_block(**glm))
    assert spec.model.head_dim == 128
    assert any("common head size" in a for a in spec.assumptions)


@pytest.mark.parametrize(
    ("written", "scenario"),
    [("online", "server"), ("throughput", "offline"), ("latency", "fixed-batch"),
     ("fixed batch", "fixed-batch"), ("Fixed_Batch", "fixed-batch"), ("Max throughput", "offline"),
     ("max-throughput", "offline"), ("concurrency", "offline")],
)  # fmt: skip
def test_published_scenario_words_name_a_scenario(written: str, scenario: str) -> None:
    spec = parse_serve_spec({
        "model": "llama3-8b", "hardware": {"accelerator": "h100-sxm", "count": 1},
        "workload": {"scenario": written, "input_len": 512, "output_len": 128, "batch_size": 8},
    })  # fmt: skip
    assert spec.scenario == scenario


def test_w4a8_stores_int4_weights_and_runs_at_the_fp8_peak() -> None:
    """TensorRT-LLM W4A8 AWQ: half a byte per weight (plus group scales), fp8 tensor cores; a chip
    without fp8 (A100) is refused with the formats it serves."""
    h100 = get_accelerator("h100-sxm")
    wf, peak, _ = weight_format(precision_name("W4A8 AWQ"), h100)
    assert wf.bytes_per_param == pytest.approx(0.5 + 2 / 128) and peak == h100.peak_flops["fp8"]
    with pytest.raises(ConfigError, match="a100-80gb has no w4a8 peak"):
        weight_format("w4a8", get_accelerator("a100-80gb"))
