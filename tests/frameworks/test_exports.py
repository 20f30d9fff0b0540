"""Every top-10 plan of `search` on the shipped examples exports for each framework, passes that framework's
own checks, and imports back to the same layout with the same prediction."""

from __future__ import annotations

import tomllib
from dataclasses import asdict

import pytest
import yaml

from wanka.catalogs import get_accelerator
from wanka.errors import ConfigError
from wanka.frameworks.importers import from_torchtitan
from wanka.frameworks.megatron import from_megatron, megatron_problems
from wanka.parallel import ParallelPlan
from wanka.perf import predict
from wanka.search import search
from wanka.search.export import export_plan, export_top, framework_problems
from wanka.search.models import load_model
from wanka.spec import parse_run

#: NVIDIA compute capability of the chips the examples target (Megatron asks the GPU for it once).
ARCH = {"h100-sxm": 9, "h800": 9, "h200": 9, "a100-80gb": 8, "b200": 10, "gb200": 10}

#: dense, MoE (MLA, shared experts, uneven pipeline), long context (CP), FP8 — as in examples/.
CASES = {
    "dense": ("llama3-70b", "h100-sxm", 1024, 1024, 8192, "bf16"),
    "moe": ("deepseek-v3", "h800", 1024, 8192, 4096, "fp8-blockwise"),
    "cp": ("llama3-70b", "h100-sxm", 256, 64, 131072, "bf16"),
    "fp8": ("llama3-70b", "h100-sxm", 64, 256, 8192, "fp8"),
}


@pytest.fixture(scope="module")
def tops():
    out = {}
    for name, (model, acc_id, count, gbs, seq, prec) in CASES.items():
        m, acc = load_model(model, seq), get_accelerator(acc_id)
        res = search(
            m, acc, count=count, global_batch_size=gbs, seq_len=seq, precisions=(prec,), top_k=10
        ).to_dict()
        out[name] = (m, acc, res)
    return out


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
            p.write_text(
                export_plan(
                    plan,
                    "megatron",
                    model=m,
                    accelerator=acc,
                    precision=row["precision"],
                    gpus_per_node=res["gpus_per_node"],
                )
            )
            paths.append(p)
        assert len(paths) >= 5, f"{name}: fewer than 5 of the top 10 exportable"
        bad = [r for r in megatron_validate(paths, ARCH[acc.id]) if not r["ok"]]
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


def test_torchtitan_batch_semantics_and_round_trip(tops):
    """local_batch_size is the micro-batch (TorchTitan accumulates the rest) without pipelining, the
    per-rank batch with it; fp8 turns on the model converter; import gives the same layout back."""
    m, acc, res = tops["fp8"]
    for plan, row in _plans(res)[:5]:
        text = export_plan(plan, "torchtitan", model=m, accelerator=acc, precision=row["precision"])
        cfg = tomllib.loads(text)
        assert {"job", "model", "parallelism", "training"} <= set(cfg)
        want = plan.micro_batch_size if plan.pp == 1 else plan.global_batch_size // plan.dp
        assert cfg["training"]["local_batch_size"] == want
        assert cfg["model"]["converters"] == ["quantize.linear.float8"]
        spec = from_torchtitan(
            text, model={"preset": "llama3-70b", "seq_len": m.seq_len}, accelerator=acc.id
        )
        got = parse_run(spec).parallelism
        for k in (
            "tp",
            "pp",
            "cp",
            "ep",
            "dp",
            "micro_batch_size",
            "global_batch_size",
            "recompute",
        ):
            assert getattr(got, k) == getattr(plan, k), k


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
    assert framework_problems(bad, m, "torchtitan") == []
