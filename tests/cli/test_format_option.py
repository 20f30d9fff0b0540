"""`--format table|csv|md|json` on the table commands, through one implementation (cli.common)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from wanka.cli.main import app

runner = CliRunner()
EXAMPLE = "examples/llama3-70b-h100.yaml"


def _run(*args: str):
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return r.stdout


def test_predict_csv_is_a_clean_csv_file():
    rows = list(csv.reader(io.StringIO(_run("predict", EXAMPLE, "--format", "csv"))))
    assert rows[0] == ["quantity", "value", "share of step"]
    assert any(r[0] == "tokens/s per GPU" for r in rows)


def test_format_json_is_the_json_output():
    assert json.loads(_run("predict", EXAMPLE, "--format", "json")) == json.loads(
        _run("predict", EXAMPLE, "--json")
    )


@pytest.mark.parametrize(
    "args",
    [
        ["catalog", "list"],
        [
            "collective",
            "--op",
            "all-reduce",
            "--accelerator",
            "h100-sxm",
            "--gpus",
            "64",
            "--bytes",
            "1GB",
        ],
        [
            "search",
            "--model",
            "llama3-8b",
            "--accelerator",
            "h100-sxm",
            "--count",
            "16",
            "--global-batch-size",
            "64",
            "--seq-len",
            "1024",
        ],
    ],
)
def test_markdown_tables(args):
    out = _run(*args, "--format", "md")
    blocks = [b for b in out.split("\n\n") if b.lstrip().startswith("|")]
    assert blocks, out
    for b in blocks:
        lines = b.strip().splitlines()
        assert len(lines) >= 3 and set(lines[1]) <= {"|", "-"}
        assert len({ln.count("|") - ln.count("\\|") for ln in lines}) == 1  # one column count


def test_unknown_format_is_a_one_line_error():
    r = runner.invoke(app, ["predict", EXAMPLE, "--format", "xml"])
    assert r.exit_code == 1 and "--format must be one of" in r.output


def test_format_does_not_leak_into_the_next_command():
    """One process running two commands (as the test runner does): the second prints rich tables."""
    _run("catalog", "list", "--format", "csv")
    out = _run("catalog", "list")
    assert "┃" in out or "│" in out
