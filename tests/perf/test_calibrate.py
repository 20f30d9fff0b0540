"""`wanka calibrate`: fitting one chip's software efficiency to measured runs, and its bad inputs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from wanka.errors import ConfigError
from wanka.perf.calibrate import apply_fractions, calibrate_runs, usable_runs
from wanka.perf.predict import evaluate_run
from wanka.spec import load_runs

VALIDATION = Path(__file__).parents[2] / "validation" / "training_runs.yaml"


def _rows(pred, n):
    rows = [r for r in yaml.safe_load(VALIDATION.read_text()) if pred(r)]
    return rows[:n]


def _write(tmp_path: Path, rows) -> Path:
    p = tmp_path / "runs.yaml"
    p.write_text(yaml.safe_dump(rows))
    return p


def test_recovers_a_known_gemm_efficiency(tmp_path: Path) -> None:
    """Runs 'measured' by the model itself at a GEMM fraction 20% below the catalog: the fit finds it."""
    rows = _rows(
        lambda r: r["id"].startswith("llmfoundry") and "h100" in r["hardware"]["accelerator"], 4
    )
    runs = load_runs(_write(tmp_path, rows))
    acc = runs[0].hardware.accelerator
    true_gemm = acc.software_efficiency.gemm * 0.8
    slow = apply_fractions(acc, {"gemm": true_gemm}, "test")
    synth = [
        dataclasses.replace(
            r,
            measured={
                "tokens_per_s_per_gpu": float(
                    evaluate_run(r, accelerator=slow).tokens_per_s_per_gpu[0]
                )
            },
        )
        for r in runs
    ]
    fit = calibrate_runs(synth)
    assert fit["accelerator"] == acc.id
    assert fit["parameters"]["gemm"]["fitted"] == pytest.approx(true_gemm, rel=0.06)
    assert fit["in_sample"]["after"]["median_abs"] < fit["in_sample"]["before"]["median_abs"]
    assert fit["in_sample"]["after"]["p90_abs"] < 0.03
    p = fit["parameters"]["gemm"]
    assert p["free"] and p["loo_max"] - p["loo_min"] < 0.05 * p["fitted"]


def test_bad_inputs_are_one_line_errors(tmp_path: Path) -> None:
    two = _rows(lambda r: r["hardware"]["accelerator"] == "a100-80gb", 2)
    with pytest.raises(ConfigError, match="at least 3"):
        usable_runs(load_runs(_write(tmp_path, two)), None)
    mixed = _rows(lambda r: r["hardware"]["accelerator"] == "a100-80gb", 3) + _rows(
        lambda r: r["hardware"]["accelerator"] == "h100-sxm", 3
    )
    with pytest.raises(ConfigError, match="several accelerators"):
        usable_runs(load_runs(_write(tmp_path, mixed)), None)
    runs, acc = usable_runs(load_runs(_write(tmp_path, mixed)), "h100-sxm")
    assert acc == "h100-sxm" and len(runs) == 3
    nomeas = [dict(r, measured=None) for r in mixed]
    with pytest.raises(ConfigError, match="no measured.tokens_per_s_per_gpu"):
        usable_runs(load_runs(_write(tmp_path, nomeas)), "h100-sxm")


def test_cli_writes_a_profile_that_predict_reads(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from wanka.cli.main import app
    from wanka.profile import load_profile

    rows = _rows(lambda r: r["hardware"]["accelerator"] == "a100-80gb", 3)
    runs = _write(tmp_path, rows)
    out = tmp_path / "prof.yaml"
    cli = CliRunner()
    res = cli.invoke(app, ["calibrate", str(runs), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    prof = load_profile(out)
    assert prof.backend == "calibrate" and prof.accelerator == "a100-80gb"
    assert any("leave-one-out" in n for n in prof.notes)
    res = cli.invoke(app, ["predict", str(runs), "--profile", str(out), "--json"])
    assert res.exit_code == 0, res.output
    bad = cli.invoke(app, ["calibrate", str(_write(tmp_path, rows[:2])), "--out", str(out)])
    assert bad.exit_code == 1 and bad.output.strip().startswith("error:")
    assert "Traceback" not in bad.output
