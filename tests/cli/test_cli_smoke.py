"""Every registered command answers --help, and the root app lists them all."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from wanka.cli.main import app

runner = CliRunner()

COMMANDS = [
    ["catalog", "list"],
    ["catalog", "show"],
    ["predict"],
    ["validate"],
    ["fabric", "design"],
    ["fabric", "compare"],
    ["fabric", "graph"],
    ["collective"],
    ["search"],
    ["plan"],
    ["sweep"],
    ["simulate"],
    ["simulate", "compare"],
    ["port", "scan"],
    ["port", "fix"],
    ["port", "report"],
    ["profile"],
    ["calibrate"],
    ["import", "megatron"],
    ["import", "torchtitan"],
    ["import", "calculon"],
    ["data", "list"],
    ["data", "show"],
    ["data", "verify"],
    ["platform", "jobs"],
    ["platform", "submit"],
    ["serve", "predict"],
    ["serve", "plan"],
    ["serve", "validate"],
    ["schema"],
]


def test_every_registered_command_is_smoke_tested():
    """The app's top-level commands are exactly the ones COMMANDS covers: a command group that fails
    to register, or a new one without a smoke test, fails here."""
    registered = set(typer.main.get_command(app).commands)
    assert registered == {argv[0] for argv in COMMANDS}


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_help(argv):
    """`wanka ... --help` exits 0 and documents --json."""
    result = runner.invoke(app, [*argv, "--help"])
    assert result.exit_code == 0, result.output
    assert "--json" in result.output


def test_version():
    """--version prints the package version."""
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("wanka ")
