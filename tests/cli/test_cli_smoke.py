"""Every registered command answers --help, and the root app lists them all."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from wanka.cli.main import COMMAND_MODULES, app

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
    ["import", "megatron"],
    ["import", "torchtitan"],
    ["import", "calculon"],
]


def test_every_command_module_exists():
    """Each command group named in COMMAND_MODULES is importable and registered."""
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in COMMAND_MODULES:
        command = {"importing": "import"}.get(name, name)  # `import` is a Python keyword
        assert command in result.output, name


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
