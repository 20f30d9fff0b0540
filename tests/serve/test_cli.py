"""`wanka serve predict|plan|validate` from the command line, bad input included."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from wanka.cli.main import app
from wanka.errors import ConfigError

runner = CliRunner()

GOOD = {
    "id": "ok",
    "model": {"preset": "llama3-8b"},
    "hardware": {"accelerator": "h100-sxm", "count": 1},
    "serving": {"precision": "fp8", "tp": 1},
    "workload": {"scenario": "offline", "input_len": 1000, "output_len": 500},
}
KEYS = {"id", "output_tokens_per_s_per_gpu", "total_tokens_per_s_per_gpu", "ttft_ms", "tpot_ms",
        "max_batch", "kv_cache_gib", "fits", "meets_slo", "breakdown", "assumptions"}  # fmt: skip


def _write(tmp_path, specs, name="specs.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(specs))
    return p


def _bad(spec_changes):
    d = json.loads(json.dumps(GOOD))
    for block, vals in spec_changes.items():
        if isinstance(vals, dict):
            d.setdefault(block, {}).update(vals)
        else:
            d[block] = vals
    d["id"] = "bad"
    return d


def test_predict_contract_keys(tmp_path):
    """--json gives the DESIGN.md keys, input order, exit 0."""
    r = runner.invoke(app, ["serve", "predict", str(_write(tmp_path, [GOOD])), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert KEYS <= set(out[0])
    assert set(out[0]["ttft_ms"]) == {"p50", "p99"}
    assert set(out[0]["breakdown"]) == {"prefill_s", "decode_s", "exposed_comm_s", "kv_transfer_s"}
    assert out[0]["output_tokens_per_s_per_gpu"] > 0 and out[0]["meets_slo"] is None


def test_bad_specs_give_errors_and_the_rest_still_run(tmp_path):
    """Each bad spec gives {"id", "error"} with a one-line reason; the good one is still predicted."""
    bad = [
        (_bad({"hardware": {"accelerator": "h100-sxn"}}), "h100-sxm"),  # nearest id suggested
        (_bad({"model": {"preset": "llama3-7b"}}), "llama3-8b"),
        (_bad({"serving": {"tp": 2, "dp": 2}}), "must equal hardware.count"),
        (
            _bad({"model": {"preset": "llama3.1-405b"}, "serving": {"precision": "bf16", "tp": 1}}),
            "does not fit at any batch",
        ),
        (  # the weights fit; the KV cache cannot hold one request of two million tokens
            _bad({"workload": {"input_len": 2_000_000}}),
            "shorten the request or add accelerators",
        ),
        (  # one request fits; a fixed batch of 100,000 of them does not
            _bad({"workload": {"scenario": "fixed-batch", "batch_size": 100_000}}),
            "lower workload.batch_size",
        ),
        (  # the weights fit; a million sequences' logits leave no room for the KV cache
            _bad({"serving": {"max_batch": 1_000_000}}),
            "lower serving.max_batch",
        ),
        (_bad({"workload": {"input_len": 0}}), "positive"),
        (_bad({"workload": {"output_len": -5}}), "positive"),
        (_bad({"workload": {"scenario": "server", "request_rate": -1}}), "positive"),
        (_bad({"workload": {"scenario": "sever"}}), "server"),
        (_bad({"serving": {"tpp": 1}}), "tp"),
        (_bad({"request_rate": 5}), "belongs inside `workload:`"),  # beside its block, not in it
        (
            _bad(
                {"serving": {"speculative": {"method": "medusa", "tokens": 2, "acceptance": 0.7}}}
            ),
            "choose from mtp",
        ),
        (
            _bad({"serving": {"speculative": {"method": "mtp", "tokens": 1, "acceptance": 0.8}}}),
            "has no MTP modules",
        ),  # Llama 3 8B
        (
            _bad({"serving": {"speculative": {"method": "eagle", "tokens": 1, "acceptance": 1.2}}}),
            "acceptance must be in (0, 1]",
        ),
        (
            _bad(
                {"serving": {"speculative": {"method": "eagle", "tokens": 17, "acceptance": 0.7}}}
            ),
            "1 to 16",
        ),
        (
            _bad({"serving": {"speculative": {"method": "eagle", "tokens": 2, "acceptanse": 0.7}}}),
            "acceptance",
        ),
    ]
    p = _write(tmp_path, [b for b, _ in bad] + [GOOD])
    r = runner.invoke(app, ["serve", "predict", str(p), "--json"])
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert len(out) == len(bad) + 1
    for (_, needle), o in zip(bad, out[:-1], strict=True):
        assert "error" in o and needle in o["error"] and "\n" not in o["error"], o
    assert out[-1]["id"] == "ok" and out[-1]["output_tokens_per_s_per_gpu"] > 0


def test_unreadable_file_is_one_line_error(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("a: [1, 2\n")
    r = runner.invoke(app, ["serve", "predict", str(p)])
    assert r.exit_code == 1 and "error:" in r.output and "Traceback" not in r.output


def test_plan_ranks_by_cost_and_meets_slo():
    """Plans are sorted by cost per million output tokens and every listed plan meets the limits."""
    r = runner.invoke(app, ["serve", "plan", "--model", "llama3-8b", "--rate", "20", "--input-len",
                            "1024", "--output-len", "128", "--ttft-ms", "2000", "--tpot-ms", "100",
                            "--accelerators", "h100-sxm,mi300x", "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    plans = json.loads(r.stdout)
    costs = [p["cost_per_million_tokens_usd"] for p in plans]
    assert costs == sorted(costs) and {p["accelerator"] for p in plans} == {"h100-sxm", "mi300x"}
    for p in plans:
        assert p["meets_slo"] and p["ttft_ms_p99"] <= 2000 and p["tpot_ms_p99"] <= 100
        lay = p["layout"]
        assert p["count"] == lay["tp"] * lay["pp"] * lay["dp"]


def test_plan_impossible_slo_names_the_binding_limit():
    r = runner.invoke(app, ["serve", "plan", "--model", "llama3-70b", "--rate", "10", "--input-len",
                            "4096", "--output-len", "256", "--ttft-ms", "1", "--tpot-ms", "500",
                            "--accelerators", "h100-sxm"])  # fmt: skip
    assert r.exit_code == 1
    assert "ttft binds" in r.output and "best p99s reachable" in r.output


def test_plan_beyond_max_count_names_the_rate_it_can_serve():
    """A rate no plan within --max-count carries: the error gives the most the chips serve (no
    'inf ms' p99s) and what to change."""
    r = runner.invoke(app, ["serve", "plan", "--model", "llama3-70b", "--rate", "30", "--input-len",
                            "2048", "--output-len", "256", "--accelerators", "h100-sxm",
                            "--max-count", "4"])  # fmt: skip
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "capacity binds" in r.output and "raise --max-count or lower --rate" in r.output
    assert "inf" not in r.output
    top = float(r.output.split("serve at most ")[1].split(" requests/s")[0].replace(",", ""))
    assert 0 < top < 30


def test_plan_of_a_model_that_fits_nowhere_says_so():
    """405B on at most two 8 GiB cards: no layout holds it; the error says that, not '0 requests/s'."""
    r = runner.invoke(app, ["serve", "plan", "--model", "llama3.1-405b", "--rate", "10",
                            "--input-len", "2048", "--output-len", "256", "--accelerators",
                            "rtx-2080", "--max-count", "2"])  # fmt: skip
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "fits on none of these chips" in r.output and "at most 0" not in r.output


def test_plan_bad_inputs():
    base = ["serve", "plan", "--model", "llama3-8b", "--input-len", "100", "--output-len", "10"]
    for extra, needle in (
        (["--rate", "0", "--accelerators", "h100-sxm"], "positive"),
        (["--rate", "5", "--accelerators", "h100-sxn"], "h100-sxm"),
        (["--rate", "5", "--accelerators", "h100-sxm", "--ttft-ms", "-3"], "positive"),
    ):
        r = runner.invoke(app, base + extra)
        assert r.exit_code == 1 and needle in r.output and "Traceback" not in r.output, r.output
    r = runner.invoke(app, ["serve", "plan", "--model", "lama3-8b", "--rate", "5", "--input-len",
                            "10", "--output-len", "10", "--accelerators", "h100-sxm"])  # fmt: skip
    assert r.exit_code == 1 and "llama3-8b" in r.output


def test_validate_reports_by_group(tmp_path):
    spec = dict(GOOD, measured={"output_tokens_per_s_per_gpu": 10000.0})
    r = runner.invoke(app, ["serve", "validate", str(_write(tmp_path, [spec])), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert (
        rep["cases"][0]["rel_error"]
        == rep["cases"][0]["predicted_output_tokens_per_s_per_gpu"] / 1e4 - 1
    )
    assert set(rep["summary"]["all"]) == {"by_family", "by_accelerator", "by_scenario"}
    r = runner.invoke(app, ["serve", "validate", str(_write(tmp_path, [GOOD], "n.yaml"))])
    assert r.exit_code == 1 and "measured" in r.output
    # a file none of whose specs can be predicted (a misspelt chip) is an error, as `wanka validate`
    bad = dict(spec, hardware={**spec["hardware"], "accelerator": "h10-sxm"})
    r = runner.invoke(app, ["serve", "validate", str(_write(tmp_path, [bad], "b.yaml"))])
    assert r.exit_code == 1 and "none of the 1 specs could be predicted" in r.output
    assert "Traceback" not in r.output


def test_validate_reads_figures_written_as_text_and_a_total_measured_alone(tmp_path):
    """'3,653.5' is a number; a row measuring only total (input + output) tokens/s is compared on
    the total, and says so."""
    text = dict(GOOD, id="text", measured={"output_tokens_per_s_per_gpu": "3,653.5"})
    total = dict(GOOD, id="total", measured={"output_tokens_per_s_per_gpu": None,
                                             "total_tokens_per_s_per_gpu": 9000})  # fmt: skip
    r = runner.invoke(app, ["serve", "validate", str(_write(tmp_path, [text, total])), "--json"])
    assert r.exit_code == 0, r.output
    a, b = json.loads(r.stdout)["cases"]
    assert a["measured_output_tokens_per_s_per_gpu"] == 3653.5 and "metric" not in a
    assert b["metric"] == "total_tokens_per_s_per_gpu"
    assert b["rel_error"] == pytest.approx(b["predicted_total_tokens_per_s_per_gpu"] / 9000 - 1)


def test_validate_divides_a_system_figure_by_the_count(tmp_path):
    """A row with only MLPerf's whole-system output tokens/s is compared per GPU, and says so."""
    eight = dict(GOOD, id="system", hardware={"accelerator": "h100-sxm", "count": 8},
                 measured={"output_tokens_per_s_per_gpu": None,
                           "output_tokens_per_s_system": "80,000"})  # fmt: skip
    r = runner.invoke(app, ["serve", "validate", str(_write(tmp_path, [eight])), "--json"])
    assert r.exit_code == 0, r.output
    (case,) = json.loads(r.stdout)["cases"]
    assert case["measured_output_tokens_per_s_per_gpu"] == 10000.0
    assert case["measured_as"] == "output_tokens_per_s_system / hardware.count"


def test_validate_reads_a_median_latency_as_p50(tmp_path):
    """Serving benchmarks print "median" (vLLM's benchmark_serving: "Median TTFT"); it is the p50."""
    row = dict(GOOD, id="median", measured={"output_tokens_per_s_per_gpu": 3000,
                                            "ttft_ms": {"Median": 150, "mean": 170},
                                            "tpot_ms": {"median": 20, "P99": 25}})  # fmt: skip
    r = runner.invoke(app, ["serve", "validate", str(_write(tmp_path, [row])), "--json"])
    assert r.exit_code == 0, r.output
    (case,) = json.loads(r.stdout)["cases"]
    assert case["measured_ttft_p50_ms"] == 150 and case["measured_tpot_p50_ms"] == 20
    assert case["measured_tpot_p99_ms"] == 25 and "measured_ttft_p99_ms" not in case


def test_a_model_named_without_its_shape_takes_the_preset_of_that_name(tmp_path):
    """A published row may give only the checkpoint name and its size: the preset of that name
    serves, and the record says so; a shape given in full is used as stated."""
    named = dict(
        GOOD, id="named", model={"name": "meta-llama/Llama-3.1-8B-Instruct", "params_b": 8}
    )
    r = runner.invoke(app, ["serve", "predict", str(_write(tmp_path, [named, GOOD])), "--json"])
    assert r.exit_code == 0, r.output
    a, b = json.loads(r.stdout)
    assert any("preset llama3-8b" in note for note in a["assumptions"])
    assert a["output_tokens_per_s_per_gpu"] == pytest.approx(b["output_tokens_per_s_per_gpu"])
    unknown = dict(GOOD, id="unknown", model={"name": "no-such-model-13b"})
    r = runner.invoke(app, ["serve", "predict", str(_write(tmp_path, [unknown])), "--json"])
    assert r.exit_code == 1 and "layers, hidden, heads required" in r.output
    assert "closest:" in r.output  # the name is checked against the presets too


def test_an_infinite_rate_is_served_as_offline_and_no_limits_are_said(tmp_path):
    """Server at an infinite rate (every request queued at once) is the offline steady batch, and
    says so (it used to search for a highest passing rate, noted as 'request_rate null'); a server
    spec with no rate and no limits names what its rate search looked for."""
    burst = dict(
        GOOD,
        id="burst",
        workload={
            **GOOD["workload"],
            "scenario": "server",
            "request_rate": "infinite (all requests queued)",
        },
    )
    free = dict(GOOD, id="free", workload={**GOOD["workload"], "scenario": "server"})
    r = runner.invoke(
        app, ["serve", "predict", str(_write(tmp_path, [burst, GOOD, free])), "--json"]
    )
    assert r.exit_code == 0, r.output
    b, offline, f = json.loads(r.stdout)
    assert b["output_tokens_per_s_per_gpu"] == pytest.approx(offline["output_tokens_per_s_per_gpu"])
    assert any("queued at once" in n for n in b["assumptions"])
    assert not any("request_rate null" in n for n in b["assumptions"])
    assert any("no latency limits stated" in n for n in f["assumptions"])


def test_center_serving_demand_is_sized_by_the_serving_model():
    """`wanka plan` sizes a serving demand with the serving model: the count is the cheapest
    `serve plan` deployment on that chip (analytic screening), in whole nodes; an SLO that this chip
    cannot meet within its availability makes the demand unplaceable (availability + one node)."""
    from wanka.plan.center import Economics, parse_center, serving_count
    from wanka.serve.plan import plan_serving
    from wanka.workload.presets import get_model

    d = {
        "name": "t",
        "goals": [{"id": "g", "model": "llama2-7b", "tokens": 2e10, "deadline_days": 30,
                   "global_batch_size": 256, "seq_len": 2048}],
        "candidates": [{"accelerator": "h100-sxm", "available": 512, "unit_price_usd": 25000}],
        "network": {"options": ["fat-tree"]},
        "serving": [{"model": "llama3-8b", "rate": 50, "input_len": 1024, "output_len": 128,
                     "ttft_ms": 1500, "tpot_ms": 80, "precision": "fp8"}],
    }  # fmt: skip
    spec = parse_center(d)
    cand = spec.candidates[0]
    n = serving_count(spec.serving[0], cand, Economics())
    ref = plan_serving(get_model("llama3-8b"), ["h100-sxm"], rate=50, input_len=1024,
                       output_len=128, ttft_ms=1500, tpot_ms=80, max_count=512, precision="fp8",
                       verify=False)  # fmt: skip
    assert n == -(-ref.plans[0]["count"] // 8) * 8
    d["serving"][0]["ttft_ms"] = 0.5
    assert serving_count(parse_center(d).serving[0], cand, Economics()) == 512 + 8
    d["serving"][0].update(ttft_ms=1500, framework="VLLM")  # the engine's defaults size it
    vllm = parse_center(d).serving[0]
    ref = plan_serving(get_model("llama3-8b"), ["h100-sxm"], rate=50, input_len=1024,
                       output_len=128, ttft_ms=1500, tpot_ms=80, max_count=512, precision="fp8",
                       verify=False, framework="vllm")  # fmt: skip
    assert vllm.framework == "vLLM"
    assert serving_count(vllm, cand, Economics()) == -(-ref.plans[0]["count"] // 8) * 8
    d["serving"][0]["framework"] = "tgi"
    with pytest.raises(ConfigError, match=r"serving\[0\].framework 'tgi'"):
        parse_center(d)


def test_plan_lists_each_deployment_once():
    """Two utilisation targets of the disaggregated screen can size the same split; the plan lists a
    deployment (chip, count, layout, split) once (gpt-oss-120b on MI300X gave the same 1:1 split
    twice)."""
    r = runner.invoke(app, ["serve", "plan", "--model", "gpt-oss-120b", "--rate", "5",
                            "--input-len", "1000", "--output-len", "1000", "--tpot-ms", "50",
                            "--precision", "MXFP4", "--accelerators", "mi300x", "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    plans = json.loads(r.stdout)
    keys = [(p["accelerator"], p["count"], json.dumps(p["layout"], sort_keys=True)) for p in plans]
    assert len(plans) >= 2 and len(set(keys)) == len(keys)
    assert all(p["precision"] == "mxfp4" for p in plans)


def test_plan_framework_sets_each_chips_engine_limits():
    """`--framework vllm`: vLLM's 256-sequence cap on an A100 (`EngineArgs.get_batch_defaults`)
    needs more chips for a decode-heavy load than TensorRT-LLM's 2,048; the note states the limits;
    an unknown engine is one line, exit 1."""
    from wanka.serve.plan import plan_serving
    from wanka.workload.presets import get_model

    def top(fw):
        r = plan_serving(get_model("llama3-8b"), ["a100-80gb"], rate=200, input_len=128,
                         output_len=512, ttft_ms=None, tpot_ms=None, verify=False, framework=fw)  # fmt: skip
        return r.plans[0]["count"], r.notes[-1]

    (n_trt, note_trt), (n_vllm, note_vllm) = top("TensorRT-LLM"), top("vllm")
    assert n_vllm > n_trt
    assert "2048 sequences" in note_trt and "reserved at admission" in note_trt
    assert "256 sequences and 2048 tokens" in note_vllm and "on demand" in note_vllm
    r = runner.invoke(app, ["serve", "plan", "--model", "llama3-8b", "--rate", "5", "--input-len",
                            "128", "--output-len", "128", "--accelerators", "h100-sxm",
                            "--framework", "tgi"])  # fmt: skip
    assert r.exit_code == 1 and "choose from TensorRT-LLM, vLLM, SGLang" in r.output


def _png(path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plan_plot_draws_every_screened_candidate(tmp_path):
    """--plot writes the cost/latency figure; the screening it draws holds every candidate, and the
    ones marked as meeting the limits are exactly those within both p99 limits."""
    from wanka.serve.plan import plan_serving
    from wanka.workload.presets import get_model

    out = tmp_path / "plan.png"
    args = ["serve", "plan", "--model", "llama3-8b", "--rate", "20", "--input-len", "1024",
            "--output-len", "128", "--ttft-ms", "2000", "--tpot-ms", "100", "--accelerators",
            "h100-sxm,mi300x"]  # fmt: skip
    r = runner.invoke(app, [*args, "--plot", str(out)])
    assert r.exit_code == 0, r.output
    assert _png(out) and f"plot: {out}" in " ".join(r.stdout.split())
    res = plan_serving(get_model("llama3-8b"), ["h100-sxm", "mi300x"], rate=20, input_len=1024,
                       output_len=128, ttft_ms=2000, tpot_ms=100, verify=False)  # fmt: skip
    assert sum(s["meets"].size for s in res.screened.values()) == res.candidates
    for s in res.screened.values():
        within = (s["ttft_p99_s"] <= 2.0) & (s["tpot_p99_s"] <= 0.1)
        assert (s["meets"] == within).all()
    assert sum(int(s["meets"].sum()) for s in res.screened.values()) == res.feasible


def test_plot_path_is_checked_before_any_work(tmp_path):
    """A plot path with an unknown suffix or a missing folder is one line, exit 1, nothing written."""
    base = ["serve", "plan", "--model", "llama3-8b", "--rate", "5", "--input-len", "100",
            "--output-len", "10", "--accelerators", "h100-sxm", "--plot"]  # fmt: skip
    for path, needle in (
        (tmp_path / "x.jpg", ".png"),
        (tmp_path / "no" / "x.png", "does not exist"),
    ):
        r = runner.invoke(app, [*base, str(path)])
        assert r.exit_code == 1 and needle in r.output and "Traceback" not in r.output, r.output
        assert not path.exists()


def test_validate_plot_is_written(tmp_path):
    spec = dict(GOOD, measured={"output_tokens_per_s_per_gpu": 10000.0})
    out = tmp_path / "v.png"
    r = runner.invoke(app, ["serve", "validate", str(_write(tmp_path, [spec])), "--plot", str(out)])
    assert r.exit_code == 0, r.output
    assert _png(out)


def test_plan_speculative_decoding_is_stated_and_checked():
    """--speculative runs every chip with the draft head: a tight TPOT limit that DeepSeek-V3 plans
    meet more cheaply with one MTP token; bad values are one line (the colon-separated text kept
    verbatim, not read as an emoji code)."""
    args = ["serve", "plan", "--model", "deepseek-v3", "--rate", "20", "--input-len", "2000",
            "--output-len", "500", "--tpot-ms", "20", "--accelerators", "h200", "--json"]  # fmt: skip
    base = json.loads(runner.invoke(app, args).stdout)
    r = runner.invoke(app, [*args, "--speculative", "mtp:1:0.85"])
    assert r.exit_code == 0, r.output
    spec = json.loads(r.stdout)
    assert spec[0]["cost_per_million_tokens_usd"] < base[0]["cost_per_million_tokens_usd"]
    assert all(p["tpot_ms_p99"] <= 20 for p in spec)
    base_args = ["serve", "plan", "--model", "llama3-8b", "--rate", "5", "--input-len", "20",
                 "--output-len", "50", "--accelerators", "h200", "--speculative"]  # fmt: skip
    for value, needle in (("mtp:1:0.8", "no MTP modules"), ("eagle:x:0.8", "'eagle:x:0.8'"),
                          ("eagle:2:1.5", "(0, 1]"), ("medusa:2:0.5", "choose from mtp")):  # fmt: skip
        r = runner.invoke(app, [*base_args, value])
        assert r.exit_code == 1 and needle in r.output and "Traceback" not in r.output, r.output


def test_plan_auto_precision_is_each_chips_8bit_format():
    """`--precision auto`: fp8 on an H100, int8 W8A8 on an A100 and an Ascend 910C (int8 peaks, no
    fp8), bf16 on an Ascend 910B (neither in the catalog)."""
    from wanka.serve.plan import plan_serving
    from wanka.workload.presets import get_model

    r = plan_serving(get_model("llama3-8b"), ["h100-sxm", "a100-80gb", "ascend-910c", "ascend-910b"],
                     rate=20, input_len=512, output_len=128, ttft_ms=None, tpot_ms=None,
                     verify=False)  # fmt: skip
    got = {p["accelerator"]: p["precision"] for p in r.plans}
    assert got == {"h100-sxm": "fp8", "a100-80gb": "int8", "ascend-910c": "int8",
                   "ascend-910b": "bf16"}  # fmt: skip
