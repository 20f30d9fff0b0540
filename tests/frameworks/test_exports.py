"""Every top-10 plan of `search` on the shipped examples exports for each framework, passes that framework's
own checks, and imports back to the same layout with the same prediction."""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest
import yaml

from wanka.catalogs import get_accelerator
from wanka.errors import ConfigError
from wanka.frameworks.bridge import from_bridge
from wanka.frameworks.megatron import from_megatron, megatron_problems
from wanka.frameworks.torchtitan import from_torchtitan_config
from wanka.parallel import ParallelPlan
from wanka.perf import predict
from wanka.search.export import export_plan, export_top, framework_problems
from wanka.search.models import load_model
from wanka.spec import parse_run

from .export_cases import CASES, export_row, top10

#: NVIDIA compute capability of the chips the examples target (Megatron asks the GPU for it once).
ARCH = {"h100-sxm": 9, "h800": 9, "h200": 9, "a100-80gb": 8, "b200": 10, "gb200": 10}


@pytest.fixture(scope="module")
def tops():
    """The top 10 of an unrestricted search per example (Megatron-LM and Bridge run every layout)."""
    return {name: top10(case, "megatron") for name, case in CASES.items()}


def _plans(res):
    return [(ParallelPlan(**r["parallelism"]), r) for r in res["top"]]


def test_megatron_accepts_every_exported_top10_plan(tops, tmp_path, megatron_validate):
    """Megatron-LM core_v0.16.1's parse_args + validate_args accept each export (an unknown or
    renamed flag, or a layout Megatron forbids, fails here)."""
    for name, (m, acc, res) in tops.items():
        paths = []
        for i, (plan, row) in enumerate(_plans(res)):
            if megatron_problems(plan, m):
                continue
            p = tmp_path / f"{name}-{i}.sh"
            p.write_text(export_row(plan, "megatron", m, acc, row, res))
            paths.append(p)
        assert len(paths) >= 5, f"{name}: fewer than 5 of the top 10 exportable"
        bad = [r for r in megatron_validate(paths, ARCH[acc.id]) if not r["ok"]]
        assert not bad, bad[:3]


def test_bridge_accepts_every_exported_top10_plan(tops, tmp_path, bridge_validate):
    """Every top-10 plan Megatron accepts exports as Megatron-Bridge overrides whose blocks build the
    megatron-core 0.16.1 TransformerConfig / DDP / optimizer configs Bridge's ConfigContainer holds."""
    for name, (m, acc, res) in tops.items():
        paths = []
        for i, (plan, row) in enumerate(_plans(res)):
            if framework_problems(plan, m, "nemo", row["precision"]):
                continue
            p = tmp_path / f"bridge-{name}-{i}.yaml"
            p.write_text(export_row(plan, "nemo", m, acc, row, res))
            paths.append(p)
        assert len(paths) >= 5, f"{name}: fewer than 5 of the top 10 exportable"
        bad = [r for r in bridge_validate(paths, ARCH[acc.id]) if not r["ok"]]
        assert not bad, bad[:3]


def test_megatron_refuses_what_wanka_refuses(tmp_path, megatron_validate):
    """A layout wanka says Megatron forbids (interleaving without pipelining) is one Megatron's own
    validate_args refuses too, and the exporter never writes it."""
    m, acc = load_model("llama3-70b", 8192), get_accelerator("h100-sxm")
    bad = ParallelPlan(tp=8, pp=1, vpp=2, dp=8, sequence_parallel=True, global_batch_size=64)
    assert megatron_problems(bad, m)
    with pytest.raises(ConfigError, match="pipeline"):
        export_plan(bad, "megatron", model=m, accelerator=acc)
    ok = ParallelPlan(tp=8, pp=2, vpp=2, dp=4, sequence_parallel=True, global_batch_size=64)
    text = export_plan(ok, "megatron", model=m, accelerator=acc)
    p = tmp_path / "vpp-no-pp.sh"
    p.write_text(
        text.replace("--pipeline-model-parallel-size 2", "--pipeline-model-parallel-size 1")
    )
    good, refused = (
        megatron_validate([tmp_path / "ok.sh", p], 9)
        if (tmp_path / "ok.sh").write_text(text)
        else ()
    )
    assert good["ok"] and not refused["ok"]


def test_export_switches_on_what_the_prediction_credits():
    """TP overlap is exported exactly when the step model credits it (SP and TP inside the NVLink
    domain); DP overlap always."""
    m, acc = load_model("llama3-70b", 8192), get_accelerator("h100-sxm")
    sp = ParallelPlan(tp=8, pp=4, dp=32, sequence_parallel=True, global_batch_size=1024)
    no_sp = ParallelPlan(tp=8, pp=4, dp=32, sequence_parallel=False, global_batch_size=1024)
    wide = sp  # the same TP group spread over two 4-accelerator nodes
    assert "--tp-comm-overlap" in export_plan(sp, "megatron", model=m, accelerator=acc)
    assert "--tp-comm-overlap" not in export_plan(no_sp, "megatron", model=m, accelerator=acc)
    assert "--tp-comm-overlap" not in export_plan(
        wide, "megatron", model=m, accelerator=acc, gpus_per_node=4
    )
    text = export_plan(sp, "megatron", model=m, accelerator=acc)
    assert "--overlap-grad-reduce" in text and "--overlap-param-gather" in text


def _same_layout(a: ParallelPlan, b: ParallelPlan) -> None:
    assert asdict(a) == asdict(b)


def test_megatron_round_trip_and_same_prediction(tops):
    """export -> import -> export is the identity, and the imported run predicts what the plan did."""
    for name, (m, acc, res) in tops.items():
        for plan, row in _plans(res)[:3]:
            if megatron_problems(plan, m):
                continue
            text = export_plan(
                plan,
                "megatron",
                model=m,
                accelerator=acc,
                precision=row["precision"],
                gpus_per_node=res["gpus_per_node"],
            )
            spec = from_megatron(text, accelerator=acc.id)
            run = parse_run(spec)
            _same_layout(run.parallelism, plan)
            assert spec["precision"] == row["precision"]
            again = export_plan(
                run.parallelism,
                "megatron",
                model=run.model,
                accelerator=acc,
                precision=spec["precision"],
                gpus_per_node=res["gpus_per_node"],
            )
            assert from_megatron(again, accelerator=acc.id) == spec
            got = predict(run)["tokens_per_s_per_gpu"]
            assert got == pytest.approx(row["tokens_per_s_per_gpu"], rel=1e-9), name


def test_bridge_round_trip_and_same_prediction(tops):
    """Every top-10 plan Megatron-Bridge accepts: export -> import -> export is the identity, the
    layout and precision come back, and the imported run predicts what the plan did."""
    for name, (m, acc, res) in tops.items():
        trips = 0
        for plan, row in _plans(res):
            if framework_problems(plan, m, "nemo", row["precision"]):
                continue
            text = export_row(plan, "nemo", m, acc, row, res)
            spec = from_bridge(text, accelerator=acc.id)
            run = parse_run(spec)
            _same_layout(run.parallelism, plan)
            assert spec["precision"] == row["precision"]
            assert (
                spec["parallelism"]["tp_comm_overlap"]
                == yaml.safe_load(text)["comm_overlap"]["tp_comm_overlap"]
            )
            assert export_row(run.parallelism, "nemo", run.model, acc, row, res) == text
            got = predict(run)["tokens_per_s_per_gpu"]
            assert got == pytest.approx(row["tokens_per_s_per_gpu"], rel=1e-9), name
            trips += 1
        assert trips >= 5, name


def test_bridge_import_refuses_bad_input():
    """Not a Bridge YAML, a wrong-typed key, a layout that does not divide: one ConfigError each."""
    m, acc = load_model("llama3-70b", 8192), get_accelerator("h100-sxm")
    plan = ParallelPlan(tp=8, pp=4, dp=2, sequence_parallel=True, global_batch_size=64)
    text = export_plan(plan, "nemo", model=m, accelerator=acc)
    head, cfg = text.splitlines()[0] + "\n", yaml.safe_load(text)
    with pytest.raises(ConfigError, match="not a Megatron-Bridge"):
        from_bridge("tensor_model_parallel_size: 8\n", accelerator=acc.id)
    cfg["model"]["tensor_model_parallel_size"] = "8"
    with pytest.raises(ConfigError, match="must be an integer"):
        from_bridge(head + yaml.safe_dump(cfg), accelerator=acc.id)
    cfg["model"]["tensor_model_parallel_size"] = 8
    with pytest.raises(ConfigError, match="do not divide"):
        from_bridge(head + yaml.safe_dump(cfg), accelerator=acc.id, count=60)
    cfg["model"]["virtual_pipeline_model_parallel_size"] = 3
    with pytest.raises(ConfigError, match="divisible by pp"):
        from_bridge(head + yaml.safe_dump(cfg), accelerator=acc.id)
    with pytest.raises(ConfigError, match="give --count"):
        from_bridge(yaml.safe_dump(yaml.safe_load(text)), accelerator=acc.id)


@pytest.fixture(scope="module")
def titan_tops():
    """The top 10 of a search restricted to what torchtitan runs (`framework_dims`), per example."""
    return {name: top10(case, "torchtitan") for name, case in CASES.items()}


def test_torchtitan_accepts_every_exported_top10_plan(titan_tops, tmp_path, torchtitan_validate):
    """torchtitan 0.3.0's own ConfigManager, ParallelDims and model checks accept every top-10 plan;
    its batch arithmetic gives the plan's micro-batch and accumulation; fp8 builds the converters."""
    for name, (m, acc, res) in titan_tops.items():
        plans = _plans(res)
        assert len(plans) == 10, name
        paths = []
        for i, (plan, row) in enumerate(plans):
            assert not framework_problems(plan, m, "torchtitan", row["precision"]), (name, i)
            p = tmp_path / f"tt_{name}_{i}.py"
            p.write_text(export_row(plan, "torchtitan", m, acc, row, res))
            paths.append(p)
        verdicts = torchtitan_validate(paths, ARCH[acc.id])
        bad = [r for r in verdicts if not r["ok"]]
        assert not bad, bad[:3]
        for (plan, row), v in zip(plans, verdicts, strict=True):
            micro = v["local_batch_size"] // v["pipeline_microbatches"]
            assert micro == plan.micro_batch_size, (name, v)
            steps = v["gradient_accumulation_steps"] * v["pipeline_microbatches"]
            assert steps * micro * plan.dp == plan.global_batch_size, (name, v)
            assert bool(v["converters"]) == (row["precision"] == "fp8"), (name, v)


def test_torchtitan_round_trip_and_same_prediction(titan_tops):
    """export -> import -> export is the identity, and the imported run predicts what the plan did."""
    for name, (m, acc, res) in titan_tops.items():
        for plan, row in _plans(res):
            text = export_row(plan, "torchtitan", m, acc, row, res)
            spec = from_torchtitan_config(text, accelerator=acc.id)
            run = parse_run(spec)
            _same_layout(run.parallelism, plan)
            assert spec["precision"] == row["precision"]
            assert export_row(run.parallelism, "torchtitan", run.model, acc, row, res) == text
            got = predict(run)["tokens_per_s_per_gpu"]
            assert got == pytest.approx(row["tokens_per_s_per_gpu"], rel=1e-9), name


def test_torchtitan_refuses_what_it_cannot_run():
    """ZeRO-1 without FSDP, expert TP and fp16 are refused with the reason, never exported."""
    m, acc = load_model("llama3-70b", 8192), get_accelerator("h100-sxm")
    zero1 = ParallelPlan(tp=8, pp=2, dp=4, sequence_parallel=True, global_batch_size=64)
    assert any("FSDP2" in p for p in framework_problems(zero1, m, "torchtitan"))
    with pytest.raises(ConfigError, match="torchtitan cannot run"):
        export_plan(zero1, "torchtitan", model=m, accelerator=acc)
    fsdp = replace(zero1, fsdp="full", distributed_optimizer=False)
    assert framework_problems(fsdp, m, "torchtitan") == []
    assert any("fp16" in p for p in framework_problems(fsdp, m, "torchtitan", "fp16"))


def test_nemo_names_and_fsdp_match_megatron():
    """NeMo/Megatron-Bridge: fp16 is `fp16_mixed`; FSDP is Megatron-FSDP in both exports."""
    m, acc = load_model("llama3-70b", 8192), get_accelerator("h100-sxm")
    plan = ParallelPlan(
        tp=2,
        dp=32,
        fsdp="full",
        distributed_optimizer=False,
        sequence_parallel=True,
        global_batch_size=64,
    )
    cfg = yaml.safe_load(export_plan(plan, "nemo", model=m, accelerator=acc, precision="fp16"))
    assert cfg["mixed_precision"] == "fp16_mixed"
    assert cfg["ddp"]["use_megatron_fsdp"] is True
    assert "--use-megatron-fsdp" in export_plan(plan, "megatron", model=m, accelerator=acc)


def test_export_top_skips_refused_plans_with_reason(tmp_path):
    """Plans a framework refuses are passed over with the reason; the next ones are written."""
    m, acc = load_model("llama3-70b", 8192), get_accelerator("h100-sxm")
    bad = ParallelPlan(tp=8, pp=1, vpp=2, dp=8, sequence_parallel=True, global_batch_size=64)
    good = ParallelPlan(tp=8, pp=2, dp=4, sequence_parallel=True, global_batch_size=64)
    rows = [{"parallelism": asdict(p), "precision": "bf16"} for p in (bad, good)]
    files, skipped = export_top(
        {"top": rows, "gpus_per_node": 8},
        "megatron",
        model=m,
        accelerator=acc,
        out=tmp_path / "x.sh",
        count=2,
    )
    assert [f.name for f in files] == ["x.sh"]
    assert skipped and "plan 1" in skipped[0] and "pipeline" in skipped[0]
    assert any("interleaved" in p for p in framework_problems(bad, m, "torchtitan"))
