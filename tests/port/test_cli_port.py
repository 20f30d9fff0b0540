"""`wanka port scan|fix|report` through the CLI (CliRunner on the real app), bad inputs included."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from port_oracle import DATA
from typer.testing import CliRunner

from wanka.cli.main import app

runner = CliRunner()
CONTRACT = (
    '"""Train on cuda."""\nimport torch\n# move to cuda\nmodel = torch.nn.Linear(2, 2).cuda()\n'
    'torch.distributed.init_process_group("nccl")\n'
)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    d = tmp_path / "proj"
    d.mkdir()
    (d / "train.py").write_text(CONTRACT)
    return d


def test_scan_json_contract(project):
    """--json prints files, findings (file/line/col/rule/severity/message/targets) and score."""
    r = runner.invoke(app, ["port", "scan", str(project), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["files"] == ["train.py"]
    assert {f["line"] for f in out["findings"]} == {4, 5}
    f = out["findings"][0]
    assert {"file", "line", "col", "rule", "severity", "message", "targets"} <= set(f)
    assert f["file"] == "train.py" and f["col"] >= 1
    assert set(f["targets"]) == {"npu", "rocm", "xpu", "mlu", "musa", "hpu", "cpu"}
    assert (
        f["targets"]["rocm"]["severity"] == "info" and f["targets"]["npu"]["severity"] == "breaks"
    )
    assert out["score"]["npu"]["score"] < out["score"]["rocm"]["score"]
    assert "explanation" in out["score"]["npu"]


def test_scan_table_output(project):
    r = runner.invoke(app, ["port", "scan", str(project), "--target", "npu"])
    assert r.exit_code == 0
    assert "cuda-method" in r.stdout and "Portability" in r.stdout


def test_fix_write_then_diff_is_empty(project):
    """The contract: after --write, --diff exits 0 and prints nothing at all."""
    r = runner.invoke(app, ["port", "fix", str(project), "--target", "npu", "--diff"])
    assert r.exit_code == 0 and r.stdout.startswith("--- a/train.py")
    assert (project / "train.py").read_text() == CONTRACT  # --diff changes nothing
    r = runner.invoke(app, ["port", "fix", str(project), "--target", "npu", "--write"])
    assert r.exit_code == 0 and "rewrote 1 file" in r.stdout
    r = runner.invoke(app, ["port", "fix", str(project), "--target", "npu", "--diff"])
    assert r.exit_code == 0 and r.stdout == ""
    r = runner.invoke(app, ["port", "scan", str(project), "--json", "--target", "npu"])
    assert not [f for f in json.loads(r.stdout)["findings"] if f["severity"] == "breaks"]


def test_fix_json(project):
    r = runner.invoke(app, ["port", "fix", str(project), "--target", "xpu", "--json"])
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert (
        out["changed_files"] == ["train.py"]
        and out["rewrites"] == 2
        and "+++ b/train.py" in out["diff"]
    )


@pytest.mark.parametrize(
    "args",
    [
        ["port", "scan", "{missing}"],
        ["port", "fix", "{missing}", "--target", "npu"],
        ["port", "fix", "{dir}", "--target", "tpu"],
        ["port", "scan", "{dir}", "--target", "gpu"],
        ["port", "report", "{dir}", "--format", "pdf"],
        ["port", "report", "{dir}", "--run", "{missing}"],
        ["port", "report", "{dir}", "--profile", "{missing}"],
    ],
)
def test_bad_input_is_one_line_exit_1(project, args):
    """A missing path or an unknown target: one error line on stderr, exit code 1, no traceback."""
    args = [a.format(missing=project / "nope", dir=project) for a in args]
    r = runner.invoke(app, args)
    assert r.exit_code == 1
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error:")
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_unparsable_file_is_a_per_file_error(project):
    """A file that does not parse: an error entry with its location, the others scanned, exit 1."""
    (project / "broken.py").write_text("import torch\nx = (\n")
    r = runner.invoke(app, ["port", "scan", str(project), "--json"])
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert [e["file"] for e in out["errors"]] == ["broken.py"] and out["errors"][0][
        "line"
    ] is not None
    assert {f["file"] for f in out["findings"]} == {"train.py"}
    r = runner.invoke(app, ["port", "fix", str(project), "--target", "npu", "--write"])
    assert r.exit_code == 1 and "broken.py" in r.stderr
    assert "_DEVICE" in (project / "train.py").read_text()
    assert (project / "broken.py").read_text() == "import torch\nx = (\n"


def test_report_markdown_and_html(tmp_path):
    """The report groups findings by rule, gives effort per target, in Markdown or HTML."""
    proj = tmp_path / "real"
    shutil.copytree(DATA, proj)
    r = runner.invoke(app, ["port", "report", str(proj), "--target", "npu", "--target", "rocm"])
    assert r.exit_code == 0
    md = r.stdout
    assert "## Portability and effort per target" in md and "### `cuda-method`" in md
    assert "effort (h)" in md and "| npu" in md
    out = tmp_path / "r.html"
    r = runner.invoke(app, ["port", "report", str(proj), "--out", str(out)])
    assert r.exit_code == 0
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<table>" in html and "cuda-method" in html
    r = runner.invoke(app, ["port", "report", str(proj), "--json"])
    data = json.loads(r.stdout)
    assert data["groups"][0]["count"] >= 1 and data["scores"]["npu"]["effort_hours"] > 0


def test_report_expected_throughput(tmp_path):
    """With --run and --profile the report predicts the team's run on the target chip, both ways."""
    proj = tmp_path / "p"
    proj.mkdir()
    (proj / "train.py").write_text(CONTRACT)
    run = tmp_path / "run.yaml"
    run.write_text(
        "id: team-run\nmodel: {preset: llama3-8b}\nhardware: {accelerator: h100-sxm, count: 64}\n"
        "parallelism: {tp: 1, pp: 1, micro_batch_size: 1, global_batch_size: 256}\nprecision: bf16\n"
    )
    prof = tmp_path / "p.yaml"
    (prof).write_text((Path(__file__).parent.parent / "profile" / "ascend_like.yaml").read_text())
    r = runner.invoke(
        app,
        [
            "port",
            "report",
            str(proj),
            "--run",
            str(run),
            "--profile",
            str(prof),
            "--accelerator",
            "ascend-910b",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    tp = json.loads(r.stdout)["throughput"]
    if "unavailable" in tp:
        pytest.skip(f"performance model not usable here: {tp['unavailable']}")
    assert tp["accelerator"] == "ascend-910b"
    assert tp["profiled"]["tokens_per_s_per_gpu"] < tp["catalog"]["tokens_per_s_per_gpu"]
