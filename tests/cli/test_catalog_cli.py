"""`wanka catalog` list/show through the real typer app."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from wanka.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    "args", [["catalog", "--help"], ["catalog", "list", "--help"], ["catalog", "show", "--help"]]
)
def test_help(args: list[str]) -> None:
    """Every catalog command has help."""
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_list_accelerators_table() -> None:
    """The default listing is the accelerator table."""
    result = runner.invoke(app, ["catalog", "list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "h100-sxm" in result.output and "989.4" in result.output and "mi300x" in result.output


def test_list_models_table() -> None:
    """--kind models lists the presets with their sizes."""
    result = runner.invoke(app, ["catalog", "list", "--kind", "models"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert (
        "llama3-70b" in result.output
        and "70.55" in result.output
        and "deepseek-v3" in result.output
    )


def test_list_json_keys() -> None:
    """--json gives machine-readable records with units in the key names."""
    result = runner.invoke(app, ["catalog", "list", "--json"])
    assert result.exit_code == 0
    accs = {a["id"]: a for a in json.loads(result.stdout)}
    h100 = accs["h100-sxm"]
    assert {
        "peak_tflops",
        "hbm_gib",
        "hbm_bw_gb_s",
        "scaleup",
        "scaleout_gbit_s",
        "tdp_w",
        "price_usd",
        "software",
        "sources",
    } <= set(h100)
    assert h100["peak_tflops"]["bf16"] == pytest.approx(989.4) and h100["hbm_gib"] == pytest.approx(
        80
    )
    models = json.loads(
        runner.invoke(app, ["catalog", "list", "--kind", "models", "--json"]).stdout
    )
    assert {"id", "architecture", "params", "flops_per_token", "published", "sources"} <= set(
        models[0]
    )


def test_show_accelerator() -> None:
    """show lists every figure and its sources."""
    result = runner.invoke(app, ["catalog", "show", "h100-sxm"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert (
        "989.4 TFLOP/s" in result.output
        and "source" in result.output
        and "https://" in result.output
    )


def test_show_model_text_and_json() -> None:
    """show on a model (alias accepted) gives params total/active and FLOPs per token."""
    result = runner.invoke(app, ["catalog", "show", "llama3.1-70b"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "70,553,706,496" in result.output and "FLOPs/token" in result.output
    data = json.loads(runner.invoke(app, ["catalog", "show", "deepseek-v3", "--json"]).stdout)
    assert data["params"]["total_without_mtp"] == pytest.approx(671.0e9, rel=1e-3)
    assert (
        data["flops_per_token"]["training"] > 0
        and data["architecture"]["mla"]["kv_lora_rank"] == 512
    )


def test_show_unknown_id() -> None:
    """An unknown id is a one-line error naming the closest ids, exit code 1."""
    result = runner.invoke(app, ["catalog", "show", "h100"])
    assert result.exit_code == 1
    out = result.output.strip()
    assert "closest" in out and "h100-sxm" in out and "Traceback" not in out


def test_bad_kind() -> None:
    """An unknown --kind is a usage error."""
    assert runner.invoke(app, ["catalog", "list", "--kind", "chips"]).exit_code != 0
