"""`wanka plan` through the CLI: JSON contract, report files, one-line errors."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from wanka.cli.main import app

runner = CliRunner()
CENTER = {
    "name": "cli",
    "goals": [
        {
            "model": "llama2-7b",
            "tokens": 2.0e10,
            "deadline_days": 30,
            "global_batch_size": 256,
            "seq_len": 2048,
        }
    ],
    "candidates": [
        {"accelerator": "h100-sxm", "available": 64, "unit_price_usd": 25000},
        {"accelerator": "ascend-910b", "available": 64, "unit_price_usd": 16000},
    ],
    "network": {"options": ["fat-tree", "rail-optimized"]},
    "limits": {"power_mw": 2, "budget_usd": 1e8},
    "counts_per_candidate": 2,
}


def _write(tmp_path, d, name="c.yaml"):
    f = tmp_path / name
    f.write_text(yaml.safe_dump(d))
    return f


def test_json_and_report(tmp_path):
    out = tmp_path / "rep"
    r = runner.invoke(app, ["plan", str(_write(tmp_path, CENTER)), "--json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert {x["accelerator"] for x in d["designs"]} >= {"h100-sxm", "ascend-910b"}
    for x in d["designs"]:
        for k in (
            "accelerator",
            "count",
            "fabric",
            "parallelism",
            "time_to_train_days",
            "capex_usd",
            "power_mw",
            "cost_per_million_tokens_usd",
            "binding_constraint",
        ):
            assert k in x
    for name in ("report.md", "report.html", "frontier.png", "step_breakdown.png"):
        assert (out / name).exists()
    assert "Ranked designs" in (out / "report.md").read_text()


def test_rich_table(tmp_path):
    r = runner.invoke(app, ["plan", str(_write(tmp_path, CENTER)), "--no-report"])
    assert r.exit_code == 0, r.output
    assert "designs, best first" in r.stdout and "binding constraint" in r.stdout


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["candidates"][0].update(accelerator="h100-typo"),  # unknown id
        lambda d: d["candidates"][0].update(available=0),  # zero count
        lambda d: d["candidates"][0].update(available=-5),  # negative count
        lambda d: d["goals"][0].update(model="no-such-model"),  # unknown model
        lambda d: d.update(goals=[]),  # no goals
        lambda d: d.update(extra_key=1),  # unknown key
    ],
)
def test_bad_centres(tmp_path, mutate):
    d = json.loads(json.dumps(CENTER))
    mutate(d)
    r = runner.invoke(app, ["plan", str(_write(tmp_path, d)), "--no-report"])
    assert r.exit_code == 1
    assert len(r.stderr.strip().splitlines()) == 1


def test_malformed_and_missing(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("goals: [\n")
    for path in (str(f), str(tmp_path / "missing.yaml")):
        r = runner.invoke(app, ["plan", path])
        assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1


def test_profile_slows_the_profiled_candidate(tmp_path):
    """--profile replaces software efficiency: a low-efficiency profile lengthens time-to-train."""
    from pathlib import Path

    prof = Path(__file__).resolve().parents[1] / "profile" / "ascend_like.yaml"
    one = dict(CENTER, candidates=[CENTER["candidates"][0]])
    f = _write(tmp_path, one)
    base = runner.invoke(app, ["plan", str(f), "--json", "--no-report"])
    slow = runner.invoke(app, ["plan", str(f), "--json", "--no-report", "--profile", str(prof)])
    assert base.exit_code == 0 and slow.exit_code == 0, slow.output
    best = lambda r: min(d["time_to_train_days"] for d in json.loads(r.stdout)["designs"])
    assert best(slow) > best(base) * 1.5
