"""`wanka validate` through typer's CliRunner: per-case errors, summaries by group and split."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from wanka.cli.main import app
from wanka.perf.validate import pct, split_of

runner = CliRunner()

RUN = {
    "model": {
        "layers": 8,
        "hidden": 1024,
        "heads": 16,
        "kv_heads": 4,
        "ffn_hidden": 2816,
        "vocab": 32000,
        "seq_len": 2048,
        "type": "dense",
    },
    "hardware": {"accelerator": "h100-sxm", "count": 16, "gpus_per_node": 8},
    "parallelism": {"tp": 2, "pp": 2, "micro_batch_size": 1, "global_batch_size": 64},
    "precision": "bf16",
}


def _write(tmp_path: Path, runs) -> Path:
    p = tmp_path / "val.yaml"
    p.write_text(yaml.safe_dump(runs))
    return p


def _runs() -> list[dict]:
    out = []
    for i, tok in enumerate([20000.0, 30000.0, 40000.0, 50000.0]):
        out.append(
            dict(
                json.loads(json.dumps(RUN)),
                id=f"fam-{i:03d}",
                source="https://example.org/x",
                measured={"tokens_per_s_per_gpu": tok, "peak_memory_gib": 20.0},
            )
        )
    return out


def test_json_has_cases_and_summary(tmp_path):
    """--json gives {"cases", "summary"}: every measured run is a case with its relative error."""
    r = runner.invoke(app, ["validate", str(_write(tmp_path, _runs())), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert set(out) == {"cases", "summary"} and len(out["cases"]) == 4
    c = out["cases"][0]
    assert (
        c["rel_error"]
        == c["predicted_tokens_per_s_per_gpu"] / c["measured_tokens_per_s_per_gpu"] - 1
    )
    assert {"dense_moe", "held_out", "all", "peak_memory", "split_rule"} <= set(out["summary"])
    errs = [abs(x["rel_error"]) for x in out["cases"]]
    assert out["summary"]["dense_moe"]["all"]["median_abs"] == pct(errs, 0.5)
    assert out["summary"]["peak_memory"]["n"] == 4
    assert out["summary"]["all"]["by_family"]["fam"]["n"] == 4


def test_split_is_reported_separately(tmp_path):
    """Each case carries its split (sha1 rule) and the summary counts train and held-out apart."""
    out = json.loads(
        runner.invoke(app, ["validate", str(_write(tmp_path, _runs())), "--json"]).stdout
    )
    for c in out["cases"]:
        assert c["split"] == split_of(c["id"])
    s = out["summary"]["dense_moe"]
    assert s["train"]["n"] + s["held_out"]["n"] == s["all"]["n"] == 4


def test_bad_case_is_listed_and_others_validated(tmp_path):
    """A case that cannot be read is listed with its error; the rest are still validated; exit 0."""
    runs = _runs()
    runs[1]["hardware"]["accelerator"] = "h100"
    r = runner.invoke(app, ["validate", str(_write(tmp_path, runs)), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert "closest" in out["cases"][1]["error"]
    assert out["summary"]["predicted"] == 3


def test_table_output(tmp_path):
    """Without --json: summary tables by group."""
    r = runner.invoke(app, ["validate", str(_write(tmp_path, _runs())), "--cases"])
    assert r.exit_code == 0, r.output
    assert "held-out" in r.stdout and "by accelerator" in r.stdout and "fam-000" in r.stdout


def test_malformed_file_is_one_line_exit_1(tmp_path):
    """A malformed YAML file: one-line error with line and column, exit 1, no traceback."""
    p = tmp_path / "bad.yaml"
    p.write_text("- id: [unclosed\n")
    r = runner.invoke(app, ["validate", str(p)])
    assert r.exit_code == 1 and "Traceback" not in r.output and "bad.yaml:" in r.stderr
