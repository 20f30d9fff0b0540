"""Golden renderings at 80 columns: no id, number or file:line is cut (no `…`), no line over 80.

Regenerate after a deliberate change of a table: `WANKA_UPDATE_GOLDEN=1 pytest tests/cli/test_80_columns.py`.
Timings (seconds, rates) are masked before the comparison; everything else must match exactly.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wanka.cli import common
from wanka.cli.main import app

runner = CliRunner()
HERE = Path(__file__).parent / "golden80"
ROOT = Path(__file__).resolve().parents[2]
_TIMING = re.compile(r"\d[\d,]*(\.\d+)? ?(s\b|/s\b)")
_SPACE = re.compile(r"[ ─━]+")

SEARCH_70B_H100 = ["search", "--model", "llama3-70b", "--accelerator", "h100-sxm", "--count"]
COMMANDS = {
    "catalog-accelerators": ["catalog", "list"],
    "catalog-models": ["catalog", "list", "--kind", "models"],
    "search": [*SEARCH_70B_H100, "64", "--global-batch-size", "512", "--top", "5"],
    # the README's search: its tenth layout carries a long option string (fsdp=full,sp,rc=selective)
    "search-readme": [*SEARCH_70B_H100, "1024", "--global-batch-size", "1024", "--seq-len", "8192"],
    "predict": ["predict", str(ROOT / "examples" / "llama3-70b-h100.yaml")],
    "plan": ["plan", str(HERE / "center-small.yaml"), "--no-report", "--top", "5"],
    "fabric-compare": ["fabric", "compare", "-n", "1024", "-a", "h100-sxm"],
    "port-scan": ["port", "scan", "{code}", "--target", "npu", "--target", "rocm"],
    "simulate": ["simulate", "--trace", "synthetic:200", "--gpus", "64"],
}


def _mask(text: str) -> str:
    """Hide wall-clock figures (`0.80 s`, `52,488/s`) that change from run to run.

    Runs of spaces and horizontal rules are collapsed too, so that a timing one digit longer
    (which moves a column edge) does not fail the comparison; every word must still match.
    """
    return _SPACE.sub(" ", _TIMING.sub("<t>", text))


@pytest.fixture
def narrow(monkeypatch):
    monkeypatch.setattr(common.console, "width", 80)
    yield


@pytest.mark.parametrize("name", list(COMMANDS))
def test_80_columns(name, narrow, tmp_path, monkeypatch):
    """The table a new user reads first fits 80 columns, cuts nothing and matches its golden file."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(
        "import torch\nx = torch.randn(4).cuda()\ntorch.cuda.synchronize()\n"
    )
    monkeypatch.chdir(tmp_path)
    argv = [a.replace("{code}", "code") for a in COMMANDS[name]]
    r = runner.invoke(app, argv)
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    golden = HERE / f"{name}.txt"
    if os.environ.get("WANKA_UPDATE_GOLDEN"):
        golden.write_text(out)
    assert _mask(out) == _mask(golden.read_text()), f"{name}: rendering changed; see {golden}"


def test_wide_shows_every_column(narrow):
    """--wide keeps the columns the 80-column table leaves out."""
    narrow_out = runner.invoke(app, ["catalog", "list"]).stdout
    wide_out = runner.invoke(app, ["catalog", "list", "--wide"]).stdout
    assert "left out to fit 80 columns" in narrow_out and "CUDA" not in narrow_out
    assert "left out" not in wide_out and "CUDA" in wide_out and "…" not in wide_out
