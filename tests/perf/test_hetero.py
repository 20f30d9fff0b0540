"""Heterogeneous run specs: parsing, bad input, and the per-stage composition of the step model."""

from __future__ import annotations

import copy
import statistics
from pathlib import Path

import pytest

from wanka.errors import ConfigError
from wanka.perf.hetero import predict_hetero
from wanka.spec import load_runs, parse_run

ROOT = Path(__file__).resolve().parents[2]
GPT = {
    "layers": 24,
    "hidden": 1024,
    "heads": 16,
    "ffn_hidden": 4096,
    "vocab": 50304,
    "seq_len": 1024,
}
RUN = {
    "id": "mix",
    "model": GPT,
    "hardware": [
        {
            "name": "old",
            "accelerator": "v100-sxm",
            "count": 12,
            "gpus_per_node": 4,
            "scale_out_gbit": 10,
        },
        {"name": "new", "accelerator": "t4", "count": 4, "gpus_per_node": 4, "scale_out_gbit": 50},
    ],
    "parallelism": {
        "micro_batch_size": 1,
        "global_batch_size": 32,
        "stages": [
            {"group": "old", "layers": 10, "tp": 2, "dp": 2},
            {"layers": 14, "replicas": [{"group": "old", "tp": 4}, {"group": "new", "tp": 4}]},
        ],
    },
    "precision": "fp16",
}


def _run(**par):
    d = copy.deepcopy(RUN)
    d["parallelism"].update(par)
    return d


def test_design_example_parses_and_predicts_with_stages() -> None:
    run = parse_run(copy.deepcopy(RUN))
    assert run.count == 12 and run.pipelines == 2 and run.batch_shares == (0.5, 0.5)
    out = predict_hetero(run)
    assert out["step_time_s"] > 0 and out["fits"] is True
    assert [s["layers"] for s in out["stages"]] == [10, 14]
    assert out["stages"][1]["groups"] == ["new", "old"]
    assert set(out) >= {"tokens_per_s_per_gpu", "mfu", "peak_memory_gib", "breakdown", "stages"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["parallelism"]["stages"][0].update(group="olf"), "closest: old"),
        (lambda d: d["parallelism"]["stages"][0].update(layers=9), "layers sum to 23"),
        (
            lambda d: d["parallelism"]["stages"][0].update(dp=8),
            "chips of group 'old' but it has 12",
        ),
        (lambda d: d["hardware"][1].update(accelerator="t5"), "closest"),
        (lambda d: d["parallelism"]["stages"][1]["replicas"].pop(), "same number"),
    ],
)
def test_bad_input_is_one_line_config_error(edit, message) -> None:
    d = copy.deepcopy(RUN)
    edit(d)
    with pytest.raises(Exception) as e:
        parse_run(d)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_batch_shares_and_their_errors() -> None:
    d = copy.deepcopy(RUN)
    d["parallelism"]["stages"][1]["replicas"][1]["batch_share"] = 0.3
    assert parse_run(d).batch_shares == pytest.approx((0.7, 0.3))
    d["parallelism"]["stages"][1]["replicas"][0]["batch_share"] = 0.9
    with pytest.raises(ConfigError, match="sum to"):
        parse_run(d)


def test_slowest_stage_sets_the_pace_and_unequal_stages_add_bubble() -> None:
    base = predict_hetero(parse_run(copy.deepcopy(RUN)))
    d = copy.deepcopy(RUN)
    st = d["parallelism"]["stages"]
    st[0]["layers"], st[1]["layers"] = 4, 20  # move layers onto the mixed (T4-bound) stage
    slower = predict_hetero(parse_run(d))
    assert slower["step_time_s"] > base["step_time_s"]
    assert slower["stages"][1]["time_s"] > base["stages"][1]["time_s"]


def test_cross_kind_gradient_all_reduce_runs_on_the_slower_network() -> None:
    fast = predict_hetero(parse_run(copy.deepcopy(RUN)))
    d = copy.deepcopy(RUN)
    d["hardware"][1]["scale_out_gbit"] = 1  # the T4 servers' network becomes the slow link
    slow = predict_hetero(parse_run(d))
    assert slow["breakdown"]["exposed_comm_s"]["dp"] > fast["breakdown"]["exposed_comm_s"]["dp"]


def test_stage_that_does_not_fit_is_named() -> None:
    d = copy.deepcopy(RUN)
    d["model"] = dict(GPT, hidden=8192, heads=64, ffn_hidden=32768)
    d["parallelism"]["stages"] = [
        {"group": "old", "layers": 23, "tp": 4, "dp": 1},
        {"group": "new", "layers": 1, "tp": 4, "dp": 1},
    ]
    out = predict_hetero(parse_run(d))
    assert out["fits"] is False and out["stages"][0]["fits"] is False
    assert any("stage 0" in a for a in out["assumptions"])


def test_validation_file_median_step_time_error() -> None:
    runs = load_runs(ROOT / "validation" / "hetero_runs.yaml")
    errs = [abs(predict_hetero(r)["step_time_s"] / r.measured["step_time_s"] - 1) for r in runs]
    assert len(errs) == 69 and statistics.median(errs) <= 0.15


def test_fp32_and_fp16_are_both_modelled() -> None:
    d = copy.deepcopy(RUN)
    d["hardware"][0]["accelerator"] = "p100"
    d["parallelism"]["stages"] = [
        {"group": "old", "layers": 10, "tp": 1, "dp": 4},
        {"group": "new", "layers": 14, "tp": 1, "dp": 4},
    ]
    out = {}
    for prec in ("fp16", "fp32"):
        d["precision"] = prec
        out[prec] = predict_hetero(parse_run(copy.deepcopy(d)))
    assert out["fp32"]["step_time_s"] > out["fp16"]["step_time_s"]
    # T4 fp32 is 8.1 of 65 TF: its stage slows far more than the P100's (9.3 of 18.7 TF)
    slow = [out["fp32"]["stages"][i]["time_s"] / out["fp16"]["stages"][i]["time_s"] for i in (0, 1)]
    assert slow[1] > slow[0] > 1.0
    assert out["fp32"]["stages"][0]["peak_memory_gib"] > out["fp16"]["stages"][0]["peak_memory_gib"]
    d["hardware"][0]["accelerator"] = "ascend-910b"  # no fp32 matrix peak in the catalog
    with pytest.raises(ConfigError, match="fp32"):
        parse_run(d)
