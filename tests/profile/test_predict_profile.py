"""`wanka predict --profile FILE` uses a measured chip profile (when the option exists)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from wanka.cli.main import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "llama3-70b-h100.yaml"
LOW = Path(__file__).parent / "ascend_like.yaml"  # efficiencies below the catalog's


def _has_profile_option() -> bool:
    r = runner.invoke(app, ["predict", "--help"])
    return r.exit_code == 0 and "--profile" in r.output


def _run_spec(tmp_path: Path) -> Path:
    if EXAMPLE.exists():
        return EXAMPLE
    p = tmp_path / "run.yaml"
    p.write_text(
        "id: llama3-70b-h100\nmodel: {preset: llama3-70b}\nhardware: {accelerator: h100-sxm, count: 1024}\n"
        "parallelism: {tp: 8, pp: 4, micro_batch_size: 1, global_batch_size: 1024}\nprecision: bf16\n"
    )
    return p


def test_predict_with_profile(tmp_path):
    """A profile with lower software efficiency than the catalog makes the run slower."""
    assert _has_profile_option()
    spec = _run_spec(tmp_path)
    base = runner.invoke(app, ["predict", str(spec), "--json"])
    prof = runner.invoke(app, ["predict", str(spec), "--profile", str(LOW), "--json"])
    assert base.exit_code == 0 and prof.exit_code == 0, prof.output
    b, p = json.loads(base.stdout)[0], json.loads(prof.stdout)[0]
    assert p["tokens_per_s_per_gpu"] < b["tokens_per_s_per_gpu"]
    assert p["step_time_s"] > b["step_time_s"]


def test_predict_with_generated_numpy_profile(tmp_path):
    """`wanka profile --backend numpy` output is accepted by `wanka predict --profile` and changes the result."""
    assert _has_profile_option()
    out = tmp_path / "cpu.yaml"
    assert (
        runner.invoke(
            app, ["profile", "--backend", "numpy", "--quick", "--out", str(out)]
        ).exit_code
        == 0
    )
    spec = _run_spec(tmp_path)
    base = runner.invoke(app, ["predict", str(spec), "--json"])
    prof = runner.invoke(app, ["predict", str(spec), "--profile", str(out), "--json"])
    assert prof.exit_code == 0, prof.output
    assert (
        json.loads(prof.stdout)[0]["tokens_per_s_per_gpu"]
        != json.loads(base.stdout)[0]["tokens_per_s_per_gpu"]
    )
