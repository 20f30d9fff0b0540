"""`wanka predict` through typer's CliRunner: the docs/design.md contract and every bad input of issue 3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from wanka.cli.main import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
CONTRACT = {
    "id",
    "tokens_per_s_per_gpu",
    "step_time_s",
    "model_tflops_per_gpu",
    "mfu",
    "peak_memory_gib",
    "fits",
    "breakdown",
    "assumptions",
}

GOOD = {
    "id": "good",
    "model": {
        "layers": 8,
        "hidden": 1024,
        "heads": 16,
        "kv_heads": 4,
        "ffn_hidden": 2816,
        "vocab": 32000,
        "seq_len": 2048,
    },
    "hardware": {"accelerator": "h100-sxm", "count": 16, "gpus_per_node": 8},
    "parallelism": {"tp": 2, "pp": 2, "micro_batch_size": 1, "global_batch_size": 64},
    "precision": "bf16",
}


def _run(tmp_path: Path, data, name: str = "runs.yaml", raw: str | None = None, extra=()):
    p = tmp_path / name
    p.write_text(
        raw
        if raw is not None
        else (json.dumps(data) if name.endswith(".json") else yaml.safe_dump(data))
    )
    return runner.invoke(app, ["predict", str(p), "--json", *extra])


def _bad(**over) -> dict:
    d = json.loads(json.dumps(GOOD))
    for path, v in over.items():
        node = d
        *head, last = path.split("__")
        for k in head:
            node = node[k]
        node[last] = v
    d["id"] = "bad"
    return d


def test_single_mapping_gives_a_list_with_the_contract_keys(tmp_path):
    """One run (a mapping) in, a one-element JSON list out, with every contract key."""
    r = _run(tmp_path, GOOD)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert isinstance(out, list) and len(out) == 1
    assert CONTRACT <= set(out[0])
    assert set(out[0]["breakdown"]) >= {
        "compute_s",
        "recompute_s",
        "bubble_s",
        "exposed_comm_s",
        "optimizer_s",
    }
    assert set(out[0]["breakdown"]["exposed_comm_s"]) == {"tp", "cp", "ep", "pp", "dp"}
    assert out[0]["tokens_per_s_per_gpu"] > 0 and out[0]["fits"] is True


def test_nulls_are_reported_as_assumptions(tmp_path):
    """Every null field the loader filled is named in the assumptions."""
    d = _bad(parallelism__recompute=None, parallelism__sequence_parallel=None)
    out = json.loads(_run(tmp_path, d).stdout)[0]
    text = " ".join(out["assumptions"])
    assert "recompute null" in text and "sequence_parallel null" in text


@pytest.mark.parametrize(
    ("over", "fragment"),
    [
        ({"hardware__accelerator": "h100"}, "closest"),  # unknown accelerator
        ({"model": {"preset": "llama3-71b"}}, "closest"),  # unknown preset
        (
            {"hardware__count": 24, "parallelism__dp": 4},
            "does not equal the accelerator count",
        ),  # degrees do not multiply
        ({"parallelism__dp": 3}, "does not equal the accelerator count"),  # explicit dp mismatch
        (
            {
                "model__heads": 12,
                "model__kv_heads": 12,
                "model__hidden": 1020,
                "parallelism__tp": 8,
                "hardware__count": 32,
            },
            "divisible by tp",
        ),  # heads not divisible by tp
        ({"hardware__count": -16}, "must be positive"),  # negative size
        ({"model__hidden": 0}, "must be positive"),  # zero size
        ({"parallelism__micro_batch_size": 0}, "positive"),  # zero micro-batch
    ],
)
def test_bad_run_is_a_one_line_error_and_the_others_still_run(tmp_path, over, fragment):
    """A bad run gives {"id", "error"} (one line); the good runs around it are still predicted; exit 1."""
    bad = _bad(**over)
    r = _run(tmp_path, [GOOD, bad, dict(GOOD, id="good2")])
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    out = json.loads(r.stdout)
    assert [o.get("id") for o in out] == ["good", "bad", "good2"]
    assert "error" in out[1] and fragment in out[1]["error"] and "\n" not in out[1]["error"]
    assert "tokens_per_s_per_gpu" in out[0] and "tokens_per_s_per_gpu" in out[2]


def test_unknown_accelerator_names_closest_ids(tmp_path):
    """The message for an unknown chip names real catalog ids."""
    out = json.loads(_run(tmp_path, [_bad(hardware__accelerator="h100")]).stdout)
    assert "h100-sxm" in out[0]["error"]


def test_malformed_yaml_reports_line_and_column(tmp_path):
    """A YAML syntax error is one line with file:line:column, exit 1, no traceback."""
    r = _run(tmp_path, None, raw="- id: a\n  model: {layers: 2,\n  hardware: [\n")
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    err = r.stderr.strip()
    assert "malformed YAML" in err and "runs.yaml:" in err and len(err.splitlines()) == 1
    assert any(part.isdigit() for part in err.split("runs.yaml:")[1].split(":")[:2])


def test_malformed_json_reports_line_and_column(tmp_path):
    """A JSON syntax error is one line with file:line:column, exit 1."""
    r = _run(tmp_path, None, name="runs.json", raw='[{"id": "a",\n "model": }]')
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "runs.json:2:" in r.stderr and "malformed JSON" in r.stderr


def test_missing_file_is_a_one_line_error(tmp_path):
    """A path that does not exist: one line, exit 1."""
    r = runner.invoke(app, ["predict", str(tmp_path / "nope.yaml"), "--json"])
    assert r.exit_code == 1 and "Traceback" not in r.output and "not found" in r.stderr


def test_infeasible_plan_is_an_error_entry(tmp_path):
    """A plan the step model rejects (here cp not dividing seq_len) is an error entry, not a crash."""
    d = _bad(
        parallelism__cp=3,
        model__seq_len=2048,
        hardware__count=12,
        parallelism__tp=1,
        parallelism__pp=1,
    )
    r = _run(tmp_path, [d, GOOD])
    out = json.loads(r.stdout)
    assert (
        r.exit_code == 1
        and "error" in out[0]
        and "cp" in out[0]["error"]
        and "tokens_per_s_per_gpu" in out[1]
    )


def test_table_output_shows_breakdown_and_assumptions(tmp_path):
    """Without --json: a readable table with the time breakdown and the assumptions."""
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(_bad(parallelism__recompute=None)))
    r = runner.invoke(app, ["predict", str(p)])
    assert r.exit_code == 0, r.output
    assert (
        "pipeline bubble" in r.stdout and "assumptions" in r.stdout and "recompute null" in r.stdout
    )


@pytest.mark.parametrize("example", ["llama3-70b-h100.yaml", "deepseek-v3-h800.yaml"])
def test_bundled_examples_predict(example):
    """The README quick-start examples run and produce the contract."""
    r = runner.invoke(app, ["predict", str(ROOT / "examples" / example), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert CONTRACT <= set(out[0]) and out[0]["tokens_per_s_per_gpu"] > 0


def test_profile_option_replaces_software_efficiency(tmp_path):
    """--profile applies a measured profile to runs on its accelerator (lower GEMM fraction: slower)."""
    from wanka.catalogs import get_accelerator
    from wanka.profile import dump_profile, parse_profile

    acc = get_accelerator("h100-sxm")
    prof = parse_profile(
        {
            "schema": "wanka-profile/1",
            "accelerator": "h100-sxm",
            "device": "test",
            "backend": "numpy",
            "measured_at": "2026-01-01T00:00:00Z",
            "peak_reference": {
                "source": "catalog",
                "matrix_flops_per_s": {"bf16": acc.peak("bf16")},
                "memory_bw_bytes_per_s": acc.hbm_bw_bytes_per_s,
            },
            "software_efficiency": {"gemm": 0.3, "attention": 0.2, "memory_bw": 0.5},
            "kernels": [],
        }
    )
    pf = tmp_path / "prof.yaml"
    dump_profile(prof, pf)
    base = json.loads(_run(tmp_path, GOOD).stdout)[0]
    r = _run(tmp_path, GOOD, extra=("--profile", str(pf)))
    assert r.exit_code == 0, r.output
    slow = json.loads(r.stdout)[0]
    assert slow["tokens_per_s_per_gpu"] < base["tokens_per_s_per_gpu"]
    assert any("profile" in a for a in slow["assumptions"])
