"""Disaggregated deployments whose prefill and decode pools use different instance layouts."""

from __future__ import annotations

import pytest

from wanka.catalogs import get_accelerator
from wanka.errors import ConfigError
from wanka.serve import Engine, EngineDefaults, Layouts, model_shape
from wanka.serve.disagg import pool_rates, prefill_ttft
from wanka.serve.predict import predict_serve
from wanka.serve.server import simulate_server
from wanka.serve.spec import parse_serve_spec
from wanka.workload.presets import get_model


def _spec(count: int, **serving):
    return parse_serve_spec({
        "model": "llama3-70b", "hardware": {"accelerator": "h100-sxm", "count": count},
        "serving": {"precision": "fp8", "disaggregated": True, **serving},
        "workload": {"scenario": "offline", "input_len": 4096, "output_len": 512},
    })  # fmt: skip


def _gpus(pool: dict) -> int:
    return pool["tp"] * pool["pp"]


def test_pools_with_different_layouts_add_up_to_the_count():
    """4 prefill + 1 decode instances on 24 GPUs: no single instance size gives 5 instances of 24
    GPUs, but 4 x 4 + 1 x 8 does; the record names both pool layouts."""
    out = predict_serve(_spec(24, prefill_instances=4, decode_instances=1))
    lay = out["layout"]
    pre, dec = lay.get("prefill", lay), lay.get("decode", lay)
    assert (lay["prefill_instances"], lay["decode_instances"]) == (4, 1)
    assert 4 * _gpus(pre) + 1 * _gpus(dec) == 24
    assert out["output_tokens_per_s_per_gpu"] > 0 and out["prefill_tokens_per_s_per_gpu"] > 0
    assert any("4 prefill instance(s)" in a for a in out["assumptions"])


def test_free_split_is_at_least_as_good_as_any_uniform_one():
    """Unstated pools: the chosen layouts and split serve at least the best split with one layout
    for both pools (the uniform splits are among the candidates)."""
    free = predict_serve(_spec(16))["output_tokens_per_s_per_gpu"]
    for tp in (2, 4, 8):
        uniform = predict_serve(_spec(16, tp=tp))["output_tokens_per_s_per_gpu"]
        assert free >= uniform * (1 - 1e-9)


def test_a_split_no_layout_can_make_is_a_one_line_error():
    with pytest.raises(ConfigError, match="prefill:decode split"):
        predict_serve(_spec(8, tp=8, prefill_instances=1, decode_instances=1))


def test_at_a_stated_rate_the_split_meeting_the_limits_is_chosen():
    """DeepSeek-V3 on 32 H800 at 4 requests/s: dozens of splits serve the whole rate, so the rate
    alone ties them; the chosen one must meet the TTFT/TPOT limits when some split does (before,
    the first tie won: tp 2 x pp 8 pools at a TPOT of 133 ms against the 100 ms limit)."""
    spec = parse_serve_spec({
        "model": "deepseek-v3", "hardware": {"accelerator": "h800", "count": 32},
        "serving": {"precision": "fp8", "disaggregated": True},
        "workload": {"scenario": "server", "input_len": 4096, "output_len": 1024, "request_rate": 4},
        "constraints": {"ttft_ms": 3000, "tpot_ms": 100},
    })  # fmt: skip
    out = predict_serve(spec)
    assert out["meets_slo"] is True
    assert out["tpot_ms"]["p99"] <= 100 and out["ttft_ms"]["p99"] <= 3000
    assert out["output_tokens_per_s_per_gpu"] == pytest.approx(4 * 1024 / 32)


def test_prefill_pool_queueing_grows_the_ttft_with_the_rate():
    """At a stated rate the prefill pool is a queue (Kingman's heavy-traffic wait, the same as the
    aggregated analytic model and `serve plan`). One tp-4 prefill instance of Llama 3 70B takes about
    4,096 / (4 x 5,021) = 0.2 s per prompt: at 0.2 requests/s (utilisation 4%) the p99 waits less
    than one prompt, at 4 requests/s (82%) the p99 TTFT is several times the p50; TPOT is not
    touched by it (its p99 adds only the decode batch's wander, `engine.lifetime_wander`: 4.6%
    here)."""

    def run(rate: float) -> dict:
        spec = parse_serve_spec({
            "model": "llama3-70b", "hardware": {"accelerator": "h100-sxm", "count": 16},
            "serving": {"precision": "fp8", "disaggregated": True, "tp": 4,
                        "prefill_instances": 1, "decode_instances": 3},
            "workload": {"scenario": "server", "input_len": 4096, "output_len": 512,
                         "request_rate": rate},
        })  # fmt: skip
        return predict_serve(spec)

    low, high = run(0.2), run(4.0)
    prompt_s = 4096 / (4 * low["prefill_tokens_per_s_per_gpu"])
    assert 0 < (low["ttft_ms"]["p99"] - low["ttft_ms"]["p50"]) / 1e3 < prompt_s
    assert high["ttft_ms"]["p99"] > 3 * high["ttft_ms"]["p50"] > 3 * low["ttft_ms"]["p50"]
    assert high["tpot_ms"]["p50"] < high["tpot_ms"]["p99"] < 1.1 * high["tpot_ms"]["p50"]


def test_prefill_ttft_matches_the_simulated_prefill_instance():
    """A prefill instance is the aggregated engine with one output token (`simulate_server`,
    osl = 1): the analytic p50/p99 TTFT (`disagg.prefill_ttft`: own prompt alone + the rest of the
    iteration in progress + Kingman's backlog wait) against that simulation for Llama 3 8B on one
    H100, 2,048-token prompts, at 10% and 50% of the full-batch prompt rate. At 10% the p50 is one
    prompt alone (36 ms), not the 8,192-token iteration (129 ms) used before."""
    eng = Engine(model_shape(get_model("llama3-8b")), get_accelerator("h100-sxm"), "fp8", "fp8",
                 engine=EngineDefaults())  # fmt: skip
    lay, isl = Layouts.of(1), 2048.0
    pr = pool_rates(eng, lay, isl, 1.0)
    r_pre, t_kv = float(pr["r_pre"][0]), float(pr["t_kv"][0])
    assert float(pr["t_alone"][0]) < 0.5 * float(pr["t_pre"][0])  # a prompt alone: a quarter of N
    for load in (0.1, 0.5):
        sim = simulate_server(eng, lay, rate=load * r_pre, isl=isl, osl=1.0, requests=2000, seed=1)
        for q in (0.5, 0.99):
            model = float(prefill_ttft(pr, 0, load * r_pre, q)) - t_kv
            assert model == pytest.approx(sim.pct("ttft", 100 * q), rel=0.2), (load, q)


def test_a_rate_above_the_split_capacity_grows_queues():
    """A disaggregated deployment offered more than its pools serve reports its capacity and
    unbounded latencies, as the aggregated simulation does, not a finite capped wait."""
    spec = parse_serve_spec({
        "model": "llama3-70b", "hardware": {"accelerator": "h100-sxm", "count": 16},
        "serving": {"precision": "fp8", "disaggregated": True},
        "workload": {"scenario": "server", "input_len": 2048, "output_len": 256,
                     "request_rate": 500},
    })  # fmt: skip
    out = predict_serve(spec)
    assert any("queues grow" in a for a in out["assumptions"])
    assert out["ttft_ms"]["p99"] == float("inf") and out["tpot_ms"]["p99"] == float("inf")
    assert 0 < out["output_tokens_per_s_per_gpu"] < 500 * 256 / 16
    assert out["breakdown"]["decode_s"] < float("inf")


def test_decode_instance_tpot_matches_its_simulation():
    """A decode instance (`simulate_server(prefilled=True)`: requests arrive with their KV cache and
    first token) at 60% of its full-batch decode rate: no TTFT of its own, and TPOT p50/p99 as
    `pool_rates` gives them at that load (the Little's-law batch's iteration; at p99 plus the
    batch's wander). Llama 3 8B on one H100, 1,000 / 200 tokens (simulated 10.9 / 12.3 ms, model
    10.8 / 12.2 ms)."""
    eng = Engine(model_shape(get_model("llama3-8b")), get_accelerator("h100-sxm"), "fp8", "fp8",
                 engine=EngineDefaults())  # fmt: skip
    lay, isl, osl = Layouts.of(1), 1000.0, 200.0
    rate = 0.6 * float(pool_rates(eng, lay, isl, osl)["r_dec"][0])
    pr = pool_rates(eng, lay, isl, osl, rate)
    sim = simulate_server(eng, lay, rate=rate, isl=isl, osl=osl, requests=2000, seed=1,
                          prefilled=True)  # fmt: skip
    assert not sim.saturated and sim.pct("ttft", 99) == 0.0
    assert float(pr["t_dec"][0]) == pytest.approx(sim.pct("tpot", 50), rel=0.1)
    assert float(pr["t_dec99"][0]) == pytest.approx(sim.pct("tpot", 99), rel=0.2)


def test_serve_plan_simulates_a_disaggregated_plan_too():
    """`serve plan` re-checks each chip's cheapest plan by simulation; a disaggregated one runs a
    prefill instance (one output token) and a decode instance (`prefilled`), and its figures agree
    with the analytic screen's within the accuracy measured in benchmarks/bench_disagg_pools.py."""
    from wanka.serve.plan import _verify_disagg

    eng = Engine(model_shape(get_model("llama3-8b")), get_accelerator("h100-sxm"), "fp8", "fp8",
                 engine=EngineDefaults())  # fmt: skip
    lay, isl, osl, rate = Layouts.of(1), 2048.0, 256.0, 12.0  # 1 prefill + 1 decode instance
    q = {"rate": rate, "isl": isl, "osl": osl, "requests": 2000}
    ttft50, ttft99, tpot50, tpot99 = _verify_disagg(eng, lay, 1.0, 1.0, q)
    pr = pool_rates(eng, lay, isl, osl, rate)
    assert ttft50 == pytest.approx(float(prefill_ttft(pr, 0, rate, 0.5)), rel=0.25)
    assert ttft99 == pytest.approx(float(prefill_ttft(pr, 0, rate, 0.99)), rel=0.25)
    assert tpot50 == pytest.approx(float(pr["t_dec"][0]), rel=0.15)
    assert tpot99 == pytest.approx(float(pr["t_dec99"][0]), rel=0.25)


def _moe_spec(count: int, workload: dict, **serving):
    return parse_serve_spec({
        "model": "deepseek-v3", "hardware": {"accelerator": "gb200", "count": count},
        "serving": {"precision": "fp4", "disaggregated": True, **serving},
        "workload": {"input_len": 8192, "output_len": 1024, **workload},
    })  # fmt: skip


def test_a_wide_ep_that_only_the_decode_pool_can_take_is_read_as_its():
    """72 GPUs, ep 32, 5 prefill + 1 decode instances: 6 instances of 32 GPUs do not fit, so the
    stated ep is the decode instance's (TensorRT-LLM's and SGLang's DeepSeek deployments publish
    the wide decode group) and the 5 prefill instances share the other 40 GPUs."""
    out = predict_serve(_moe_spec(72, {"scenario": "offline"}, ep=32, prefill_instances=5,
                                  decode_instances=1))  # fmt: skip
    lay = out["layout"]
    assert lay["decode"]["ep"] == 32 and _gpus(lay["decode"]) == 32
    assert 5 * _gpus(lay["prefill"]) == 40
    assert any("read as the decode pool's" in a for a in out["assumptions"])


def test_a_closed_loop_obeys_littles_law_and_saturates_at_capacity():
    """Clients keep C requests in flight: below capacity the system rate X satisfies
    X * (TTFT p50 + (OSL - 1) * TPOT p50) = C (the bisection's equation, read back from the
    record); throughput grows with C and stops at the offline capacity."""
    kw = {"ep": 32, "prefill_instances": 5, "decode_instances": 1}
    cap = predict_serve(_moe_spec(72, {"scenario": "offline"}, **kw))["output_tokens_per_s_per_gpu"]
    last = 0.0
    for c in (16, 128, 512, 20000):
        out = predict_serve(_moe_spec(72, {"scenario": "server", "concurrency": c}, **kw))
        x = out["output_tokens_per_s_per_gpu"] * 72 / 1024  # requests/s
        stay = (out["ttft_ms"]["p50"] + 1023 * out["tpot_ms"]["p50"]) / 1e3
        assert x * stay == pytest.approx(c, rel=0.02)
        assert last < out["output_tokens_per_s_per_gpu"] <= cap * (1 + 1e-6)
        last = out["output_tokens_per_s_per_gpu"]
    assert last == pytest.approx(cap, rel=1e-4)


def test_without_a_rate_the_highest_rate_meeting_the_limits_is_predicted():
    """MLPerf's Server result for a disaggregated deployment: the highest rate whose p99 TTFT and
    TPOT at their load meet the limits. The binding limit is met to within 1% (bisection), the other
    holds, the rate stays under the offline capacity and tighter limits give a lower rate."""

    def run(ttft_ms: float | None, tpot_ms: float | None, scenario: str = "server") -> dict:
        return predict_serve(parse_serve_spec({
            "model": "llama3-70b", "hardware": {"accelerator": "h100-sxm", "count": 16},
            "serving": {"precision": "fp8", "disaggregated": True},
            "workload": {"scenario": scenario, "input_len": 2048, "output_len": 256},
            "constraints": {"ttft_ms": ttft_ms, "tpot_ms": tpot_ms},
        }))  # fmt: skip

    cap = run(None, None, "offline")["output_tokens_per_s_per_gpu"]
    loose, tight = run(2000, 200), run(500, 30)
    for out, (ttft, tpot) in ((loose, (2000, 200)), (tight, (500, 30))):
        assert out["meets_slo"] is True
        assert out["ttft_ms"]["p99"] <= ttft * (1 + 1e-9) and out["tpot_ms"]["p99"] <= tpot
        slack = min(1 - out["ttft_ms"]["p99"] / ttft, 1 - out["tpot_ms"]["p99"] / tpot)
        assert slack < 0.01
        assert any("highest meeting the limits" in a for a in out["assumptions"])
    assert 0 < tight["output_tokens_per_s_per_gpu"] < loose["output_tokens_per_s_per_gpu"] < cap


def test_instance_numbers_without_the_flag_make_a_disaggregated_deployment():
    """A row stating prefill/decode instance numbers but leaving `disaggregated` out is read as
    disaggregated (said in the assumptions), not served as one aggregated pool."""
    spec = parse_serve_spec({
        "model": "llama3-70b", "hardware": {"accelerator": "h100-sxm", "count": 24},
        "serving": {"precision": "fp8", "prefill_instances": 4, "decode_instances": 1},
        "workload": {"scenario": "offline", "input_len": 4096, "output_len": 512},
    })  # fmt: skip
    assert spec.disaggregated
    assert any("disaggregated null" in a for a in spec.assumptions)
    assert predict_serve(spec)["layout"]["prefill_instances"] == 4
