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


def _one_kind_run(model: str, acc: str, n: int, *, tp: int, pp: int, vpp: int, cp: int, dp: int):
    """A single-kind heterogeneous run written as the homogeneous plan (tp, pp, vpp, cp, dp)."""
    from wanka.search.models import load_model

    layers = load_model(model).layers
    base, extra = divmod(layers, pp)
    stages = [
        {"group": "g", "layers": base + (1 if s < extra else 0), "tp": tp, "dp": dp}
        for s in range(pp)
    ]
    return parse_run(
        {
            "model": {"preset": model},
            "hardware": [{"name": "g", "accelerator": acc, "count": n, "gpus_per_node": 8}],
            "parallelism": {
                "micro_batch_size": 1,
                "global_batch_size": 256,
                "stages": stages,
                "vpp": vpp,
                "cp": cp,
                "sequence_parallel": True,
                "distributed_optimizer": True,
                "overlap_grad_reduce": True,
                "fused_kernels": True,
            },
            "precision": "bf16",
        }
    )


@pytest.mark.parametrize(
    ("tp", "pp", "vpp", "cp", "dp"), [(2, 4, 2, 2, 8), (4, 4, 1, 1, 8), (8, 2, 4, 2, 8)]
)
def test_one_kind_matches_the_homogeneous_step_model(tp, pp, vpp, cp, dp) -> None:
    """The same per-stage terms: a one-kind run (vpp, cp, Megatron overlap, fused kernels) is timed
    and sized as `perf.step.evaluate` times and sizes the same homogeneous plan."""
    import numpy as np

    from wanka.catalogs import get_accelerator
    from wanka.perf.plans import PlanArrays
    from wanka.perf.step import evaluate

    n = tp * pp * cp * dp
    run = _one_kind_run("llama3-8b", "h100-sxm", n, tp=tp, pp=pp, vpp=vpp, cp=cp, dp=dp)
    het = predict_hetero(run)

    def col(x, dtype=np.int64):
        return np.array([x], dtype=dtype)

    plans = PlanArrays(
        tp=col(tp),
        pp=col(pp),
        vpp=col(vpp),
        cp=col(cp),
        ep=col(1),
        etp=col(tp),
        dp=col(dp),
        micro_batch_size=col(1),
        fsdp=col(0, np.int8),
        distributed_optimizer=col(True, bool),
        sequence_parallel=col(tp > 1, bool),
        recompute=col(0, np.int8),
    )
    acc = get_accelerator("h100-sxm")
    hom = evaluate(
        run.model,
        acc,
        plans,
        count=n,
        gpus_per_node=8,
        global_batch_size=256,
        seq_len=run.model.seq_len,
        precision="bf16",
    ).row(0)
    assert het["step_time_s"] == pytest.approx(hom["step_time_s"], rel=0.03)
    assert het["peak_memory_gib"] * 2**30 == pytest.approx(hom["peak_memory_bytes"], rel=0.03)


def test_interleaving_shrinks_the_bubble_and_cp_splits_activations() -> None:
    one = predict_hetero(_one_kind_run("llama3-8b", "h100-sxm", 64, tp=2, pp=4, vpp=1, cp=1, dp=8))
    il = predict_hetero(_one_kind_run("llama3-8b", "h100-sxm", 64, tp=2, pp=4, vpp=4, cp=1, dp=8))
    assert il["breakdown"]["bubble_s"] < one["breakdown"]["bubble_s"] / 2
    cp1 = predict_hetero(_one_kind_run("llama3-8b", "h100-sxm", 64, tp=2, pp=4, vpp=1, cp=1, dp=8))
    cp2 = predict_hetero(_one_kind_run("llama3-8b", "h100-sxm", 128, tp=2, pp=4, vpp=1, cp=2, dp=8))
    assert cp2["peak_memory_gib"] < cp1["peak_memory_gib"]


@pytest.mark.parametrize(
    ("par", "message"),
    [({"vpp": 20}, "fewer layers than virtual stages"), ({"cp": 3}, "2 x cp")],
)
def test_bad_vpp_and_cp(par, message) -> None:
    d = _run(**par)
    with pytest.raises(ConfigError, match=message):
        parse_run(d)
