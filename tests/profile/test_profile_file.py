"""`wanka profile` (numpy backend), the profile file format and `apply_profile`."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from wanka.catalogs import get_accelerator
from wanka.cli.main import app
from wanka.errors import ConfigError
from wanka.profile import (
    SCHEMA,
    Sweep,
    apply_profile,
    dump_profile,
    load_profile,
    parse_profile,
    run_profile,
)

runner = CliRunner()
FIXTURE = Path(__file__).parent / "ascend_like.yaml"
TINY = Sweep(
    gemm_shapes=((32, 32, 32), (64, 64, 64)),
    gemm_dtypes=("float32",),
    attention_shapes=((1, 1, 32, 16),),
    memory_bytes=(1 << 16,),
    collective_bytes=(),
    repeats=1,
)


@pytest.fixture(scope="module")
def measured():
    return run_profile(backend="numpy", quick=True)


def test_numpy_profile_is_valid(measured, tmp_path):
    """The numpy profile covers gemm, attention and memory, states its measured peaks and round-trips."""
    classes = {k.kernel_class for k in measured.kernels}
    assert classes == {"gemm", "attention", "memory"}
    assert measured.peak_reference.source == "measured"
    assert "best achieved GEMM rate on the largest shape" in measured.peak_reference.note
    assert measured.software_efficiency.gemm == pytest.approx(
        1.0
    )  # the largest GEMM defines the peak
    assert all(0 < k.fraction_of_peak <= 1.5 for k in measured.kernels)
    assert measured.software_efficiency.collective is None
    p = tmp_path / "p.yaml"
    dump_profile(measured, p)
    again = load_profile(p)
    assert again == measured
    assert yaml.safe_load(p.read_text())["schema"] == SCHEMA


def test_catalog_peaks(tmp_path):
    """With --accelerator the fractions are against that chip's catalog peaks (tiny for a CPU)."""
    prof = run_profile(backend="numpy", accelerator_id="h100-sxm", sweep=TINY)
    assert prof.accelerator == "h100-sxm" and prof.peak_reference.source == "catalog:h100-sxm"
    assert 0 < prof.software_efficiency.gemm < 0.2


def _base() -> dict:
    return yaml.safe_load(FIXTURE.read_text())


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(extra=1), "unknown key"),
        (lambda d: d["software_efficiency"].update(gemm=0.0), r"in \(0, 1.5\]"),
        (lambda d: d["software_efficiency"].update(attention=1.6), r"in \(0, 1.5\]"),
        (lambda d: d["kernels"][0].update(fraction_of_peak=-0.1), r"in \(0, 1.5\]"),
        (lambda d: d["kernels"][0].update(flavour="x"), "unknown key"),
        (lambda d: d["kernels"][1].update({"class": "conv"}), "class must be one of"),
        (lambda d: d.update(schema="wanka-profile/9"), "schema must be"),
        (lambda d: d.update(backend="jax"), "backend must be"),
        (lambda d: d.update(measured_at="yesterday"), "ISO date"),
        (lambda d: d.pop("peak_reference"), "missing key"),
        (lambda d: d["kernels"][0].update(m=-4), "positive integer"),
    ],
)
def test_validation(mutate, message):
    """Unknown keys, fractions outside (0, 1.5] and malformed fields are rejected with a clear message."""
    d = _base()
    mutate(d)
    with pytest.raises(ConfigError, match=message):
        parse_profile(d)


def test_apply_profile_replaces_software_efficiency():
    acc = get_accelerator("h100-sxm")
    prof = load_profile(FIXTURE)
    new = apply_profile(acc, prof)
    se = new.software_efficiency
    assert (se.gemm, se.attention, se.memory_bw, se.collective) == (0.30, 0.20, 0.40, 0.30)
    assert "wanka profile" in se.source and new.peak_flops == acc.peak_flops and new.id == acc.id
    assert acc.software_efficiency.gemm != 0.30  # the catalog record itself is untouched (frozen)


def test_apply_profile_keeps_catalog_collective_and_refuses_other_chip(measured):
    acc = get_accelerator("mi300x")
    assert (
        apply_profile(acc, measured).software_efficiency.collective
        == acc.software_efficiency.collective
    )
    d = _base()
    d["accelerator"] = "h100-sxm"
    with pytest.raises(ConfigError, match="measured on 'h100-sxm'"):
        apply_profile(acc, parse_profile(d))


def test_cli_profile_quick(tmp_path):
    """`wanka profile --backend numpy --quick --out F --json` writes a valid profile."""
    out = tmp_path / "cpu.yaml"
    r = runner.invoke(
        app, ["profile", "--backend", "numpy", "--quick", "--out", str(out), "--json"]
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["path"] == str(out) and data["backend"] == "numpy"
    assert load_profile(out).software_efficiency.memory_bw > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--backend", "jax"], "unknown backend"),
        (["--accelerator", "h1000"], "unknown accelerator"),
        (["--out", "/nonexistent-dir/p.yaml"], "does not exist"),
    ],
)
def test_cli_profile_bad_input(tmp_path, args, message):
    r = runner.invoke(
        app,
        ["profile", "--quick", *args]
        + ([] if "--out" in args else ["--out", str(tmp_path / "p.yaml")]),
    )
    assert r.exit_code == 1 and message in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed")
def test_cli_profile_torch_missing(tmp_path):
    """Without PyTorch, the torch backend is a one-line error."""
    r = runner.invoke(
        app, ["profile", "--backend", "torch", "--quick", "--out", str(tmp_path / "p.yaml")]
    )
    assert r.exit_code == 1 and "PyTorch" in r.stderr


def test_load_profile_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_profile(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: [unclosed\n")
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_profile(bad)
