"""`wanka import`: Megatron-LM launches, TorchTitan job files and Calculon inputs become run specs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wanka.errors import ConfigError
from wanka.frameworks.importers import from_calculon, nearest_accelerator
from wanka.frameworks.megatron import from_megatron
from wanka.perf import predict
from wanka.spec import parse_run

CALC = Path(__file__).parent / "calculon"


def _wanka(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wanka.cli.main", *args], capture_output=True, text=True, check=False
    )


def test_calculon_example_imports_and_predicts():
    """Calculon's GPT-3 175B on 3,072 A100s (t4 p64 d12, full recompute) loads and predicts."""
    load = lambda n: json.loads((CALC / n).read_text())  # noqa: E731
    spec = from_calculon(
        load("gpt3-175B.json"), load("3072_t4_p64_d12_mbs4_full.json"), load("a100_80g.json")
    )
    assert spec["hardware"] == {"accelerator": "a100-80gb", "count": 3072}
    run = parse_run(spec)
    p = run.parallelism
    assert (p.tp, p.pp, p.dp, p.recompute, p.micro_batch_size) == (4, 64, 12, "full", 4)
    out = predict(run)
    assert out["fits"] and 0.1 < out["mfu"] < 0.7  # pp64 with 64 micro-batches: a large bubble


def test_nearest_accelerator_reads_peaks():
    assert nearest_accelerator(989e12, 80 * 2**30) == "h100-sxm"
    assert nearest_accelerator(312e12, 80 * 2**30) == "a100-80gb"


def test_cli_import_megatron_flag_string():
    flags = (
        "--num-layers 32 --hidden-size 4096 --num-attention-heads 32 --vocab-size 128256 "
        "--seq-length 8192 --tensor-model-parallel-size 2 --micro-batch-size 2 "
        "--global-batch-size 256 --bf16 --sequence-parallel"
    )
    r = _wanka("import", "megatron", flags, "--accelerator", "h100-sxm", "--count", "64", "--json")
    assert r.returncode == 0, r.stderr
    spec = json.loads(r.stdout)
    assert spec["parallelism"]["tp"] == 2 and spec["hardware"]["count"] == 64
    assert parse_run(spec).parallelism.dp == 32


@pytest.mark.parametrize(
    "flags, message",
    [
        ("--hidden-size 4096", "--num-layers"),
        (
            "--num-layers x --hidden-size 1 --num-attention-heads 1 --vocab-size 1 --seq-length 1",
            "integer",
        ),
    ],
)
def test_megatron_import_bad_input(flags, message):
    with pytest.raises(ConfigError, match=message):
        from_megatron(flags, accelerator="h100-sxm", count=8)


def test_cli_import_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe\x00")
    r = _wanka("import", "calculon", str(bad), str(bad))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = _wanka("import", "megatron", "--num-layers 2", "--accelerator", "h100-sxm")
    assert r.returncode == 1 and "missing" in r.stderr and "Traceback" not in r.stderr


def test_cli_import_torchtitan_config_module(tmp_path):
    """`wanka import torchtitan wanka_plan.py`: the model comes from the base config function."""
    from wanka.catalogs import get_accelerator
    from wanka.parallel import ParallelPlan
    from wanka.search.export import export_plan
    from wanka.search.models import load_model

    plan = ParallelPlan(
        tp=8,
        pp=4,
        vpp=2,
        dp=2,
        fsdp="grad_op",
        distributed_optimizer=False,
        sequence_parallel=True,
        recompute="selective",
        micro_batch_size=2,
        global_batch_size=256,
    )
    m, acc = load_model("llama3-70b", 8192), get_accelerator("b200")
    f = tmp_path / "wanka_plan.py"
    f.write_text(export_plan(plan, "torchtitan", model=m, accelerator=acc, precision="mxfp8"))
    r = _wanka("import", "torchtitan", str(f), "--accelerator", "b200", "--json")
    assert r.returncode == 0, r.stderr
    spec = json.loads(r.stdout)
    assert spec["model"]["preset"] == "llama3-70b" and spec["precision"] == "mxfp8"
    assert parse_run(spec).parallelism == plan


def test_import_nemo_cli_round_trip_and_errors(tmp_path):
    """`wanka import nemo` reads `search --export nemo`'s YAML; bad input is one line, exit 1."""
    from wanka.catalogs import get_accelerator
    from wanka.parallel import ParallelPlan
    from wanka.search.export import export_plan
    from wanka.search.models import load_model

    m, acc = load_model("llama3-70b", 8192), get_accelerator("h100-sxm")
    plan = ParallelPlan(tp=8, pp=4, vpp=2, dp=2, sequence_parallel=True, global_batch_size=64)
    good = tmp_path / "plan.yaml"
    good.write_text(export_plan(plan, "nemo", model=m, accelerator=acc, precision="fp8"))
    r = _wanka("import", "nemo", str(good), "--accelerator", "h100-sxm", "--json")
    assert r.returncode == 0, r.stderr
    spec = json.loads(r.stdout)
    assert spec["precision"] == "fp8" and spec["hardware"]["count"] == 64
    assert {k: spec["parallelism"][k] for k in ("tp", "pp", "vpp", "dp")} == {
        "tp": 8,
        "pp": 4,
        "vpp": 2,
        "dp": 2,
    }
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {micro_batch_size: 1}\n")
    r = _wanka("import", "nemo", str(bad), "--accelerator", "h100-sxm")
    assert r.returncode == 1 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    r = _wanka("import", "nemo", str(good), "--accelerator", "h100-sxm", "--count", "60")
    assert r.returncode == 1 and "do not divide" in r.stderr and "Traceback" not in r.stderr
