"""`wanka sweep` through the CLI: results file, summary, one-line errors."""

from __future__ import annotations

import csv
import json

import pytest
import yaml
from typer.testing import CliRunner

from wanka.cli.main import app

runner = CliRunner()
SWEEP = {
    "name": "cli",
    "models": ["llama2-7b"],
    "accelerators": ["h100-sxm"],
    "counts": [8, 16],
    "global_batch_size": 64,
    "seq_len": 1024,
}


def test_sweep_csv(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(SWEEP))
    out = tmp_path / "r.csv"
    r = runner.invoke(app, ["sweep", str(f), "--out", str(out), "--workers", "1", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["tasks"] == 2 and d["results_file"] == str(out)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2 and {row["count"] for row in rows} == {"8", "16"}
    r2 = runner.invoke(app, ["sweep", str(f), "--out", str(out), "--workers", "1"])
    assert r2.exit_code == 0 and "searches" in r2.stdout


@pytest.mark.parametrize(
    "bad, extra",
    [
        ({"accelerators": ["nope"]}, []),
        ({"counts": [-1]}, []),
        ({}, ["--out", "r.xlsx"]),
        ({}, ["--workers", "0"]),
    ],
)
def test_bad_sweeps(tmp_path, bad, extra):
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({**SWEEP, **bad}))
    r = runner.invoke(app, ["sweep", str(f), *extra])
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1
