"""Every `--json` output on the shipped examples is byte-identical to tests/golden/*.out.

Regenerate with `python tools/golden.py --write` when a change of output is intended (and say why
in the commit message); see tests/golden/README.md.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_TOOL = Path(__file__).resolve().parents[2] / "tools" / "golden.py"
_spec = importlib.util.spec_from_file_location("wanka_golden_tool", _TOOL)
assert _spec is not None and _spec.loader is not None
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)

NAMES = [n for n in golden.COMMANDS if n not in golden.SLOW]


def test_every_golden_file_has_a_command() -> None:
    stored = {p.stem for p in golden.GOLDEN.glob("*.out")}
    assert stored == set(golden.COMMANDS), (
        "stale or missing golden files: run tools/golden.py --write"
    )


@pytest.mark.parametrize("name", NAMES)
def test_output_is_byte_identical(name: str) -> None:
    d = golden.diff(name)
    assert d == "", f"`wanka {' '.join(golden.COMMANDS[name])}` changed:\n{d}"
