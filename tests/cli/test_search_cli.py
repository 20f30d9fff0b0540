"""`wanka search` through the CLI: JSON contract, --run, --export, and one-line errors."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from wanka.cli.main import app

runner = CliRunner()
SMALL = [
    "search",
    "--model",
    "llama2-7b",
    "--accelerator",
    "h100-sxm",
    "--count",
    "16",
    "--global-batch-size",
    "64",
    "--seq-len",
    "1024",
]


def test_json_contract():
    """--json prints space, evaluated, feasible, seconds, best, top, pareto; best is a full plan."""
    r = runner.invoke(app, SMALL + ["--json", "--top", "3"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    for k in ("space", "evaluated", "feasible", "seconds", "best", "top", "pareto"):
        assert k in d
    assert d["space"] >= d["evaluated"] >= d["feasible"] > 0
    b = d["best"]
    assert set(b["parallelism"]) >= {
        "tp",
        "pp",
        "vpp",
        "cp",
        "ep",
        "etp",
        "dp",
        "fsdp",
        "distributed_optimizer",
        "sequence_parallel",
        "recompute",
        "micro_batch_size",
        "global_batch_size",
    }
    for k in ("tokens_per_s_per_gpu", "step_time_s", "mfu", "peak_memory_gib", "fits", "breakdown"):
        assert k in b
    assert len(d["top"]) == 3 and d["top"][0] == b


def test_rich_output_explains_the_winner():
    r = runner.invoke(app, SMALL)
    assert r.exit_code == 0, r.output
    assert "why #1 wins" in r.stdout and "Pareto" in r.stdout


def test_counts_pareto_spans_gpu_count():
    r = runner.invoke(
        app,
        [
            "search",
            "--model",
            "llama2-7b",
            "--accelerator",
            "h100-sxm",
            "--counts",
            "8,16",
            "--global-batch-size",
            "64",
            "--seq-len",
            "1024",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert {c["count"] for c in d["counts"]} == {8, 16}
    assert {p["count"] for p in d["pareto"]} <= {8, 16}


@pytest.mark.parametrize(
    "fmt, needle",
    [
        ("megatron", "--tensor-model-parallel-size"),
        ("torchtitan", "PARALLELISM = {"),
        ("nemo", "tensor_model_parallel_size"),
    ],
)
def test_export(tmp_path, fmt, needle):
    out = tmp_path / f"best.{fmt}"
    # torchtitan has config functions for Llama 3 (not Llama 2) models
    args = [("llama3-8b" if a == "llama2-7b" and fmt == "torchtitan" else a) for a in SMALL]
    r = runner.invoke(app, args + ["--export", fmt, "--export-out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert needle in out.read_text()


def test_run_form(tmp_path):
    """--run keeps the run's model, hardware, batch and precision and reports the published plan."""
    run = {
        "id": "r1",
        "model": {"preset": "llama2-7b", "seq_len": 1024},
        "hardware": {"accelerator": "h100-sxm", "count": 16},
        "parallelism": {"tp": 2, "pp": 1, "micro_batch_size": 1, "global_batch_size": 64},
        "precision": "bf16",
    }
    f = tmp_path / "run.yaml"
    f.write_text(yaml.safe_dump(run))
    r = runner.invoke(app, ["search", "--run", str(f), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["published"]["in_space"] is True
    assert d["best"]["tokens_per_s_per_gpu"] >= d["published"]["plan"]["tokens_per_s_per_gpu"] * (
        1 - 1e-9
    )


@pytest.mark.parametrize(
    "args",
    [
        [
            "--model",
            "no-such-model",
            "--accelerator",
            "h100-sxm",
            "--count",
            "8",
            "--global-batch-size",
            "8",
        ],
        [
            "--model",
            "llama2-7b",
            "--accelerator",
            "h100-typo",
            "--count",
            "8",
            "--global-batch-size",
            "8",
        ],
        [
            "--model",
            "llama2-7b",
            "--accelerator",
            "h100-sxm",
            "--count",
            "0",
            "--global-batch-size",
            "8",
        ],
        [
            "--model",
            "llama2-7b",
            "--accelerator",
            "h100-sxm",
            "--count",
            "-8",
            "--global-batch-size",
            "8",
        ],
        [
            "--model",
            "llama2-7b",
            "--accelerator",
            "h100-sxm",
            "--count",
            "8",
            "--global-batch-size",
            "0",
        ],
        ["--model", "llama2-7b", "--accelerator", "h100-sxm", "--count", "8"],
        [
            "--model",
            "llama2-7b",
            "--accelerator",
            "h100-sxm",
            "--count",
            "8",
            "--global-batch-size",
            "8",
            "--export",
            "deepspeed",
        ],
        [
            "--model",
            "llama2-7b",
            "--accelerator",
            "a100-80gb",
            "--count",
            "8",
            "--global-batch-size",
            "8",
            "--precision",
            "nvfp4",
        ],
        ["--run", "/no/such/file.yaml"],
    ],
)
def test_bad_inputs_one_line_exit_1(args):
    r = runner.invoke(app, ["search", *args])
    assert r.exit_code == 1
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert len(r.stderr.strip().splitlines()) == 1


def test_malformed_run_file(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("model: [unclosed\n")
    r = runner.invoke(app, ["search", "--run", str(f)])
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1


def test_impossible_model_is_an_answer():
    """A model that fits no layout: exit 1, best null, the binding constraint and by how much."""
    r = runner.invoke(
        app,
        [
            "search",
            "--model",
            "megatron-1t",
            "--accelerator",
            "h100-sxm",
            "--count",
            "8",
            "--global-batch-size",
            "8",
            "--json",
        ],
    )
    assert r.exit_code == 1, r.output  # nothing feasible is exit 1, with the binding reason
    assert "binding constraint memory" in r.stderr
    d = json.loads(r.stdout)
    assert d["best"] is None and d["infeasible"]["binding_constraint"] == "memory"


def test_profile_option():
    """--profile FILE applies a measured software-efficiency profile (wanka.profile, imported lazily)."""
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "profile-cpu-numpy.yaml")
    if not os.path.exists(path):
        pytest.skip("no example profile in this checkout")
    r = runner.invoke(app, SMALL + ["--profile", path, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["best"] is not None
    r = runner.invoke(app, SMALL + ["--profile", "/no/such/profile.yaml"])
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1
