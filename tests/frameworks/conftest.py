"""Shared fixtures: the frameworks' own checkers (Megatron-LM, torchtitan), run in the frameworks venv."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


def megatron_python() -> str:
    """The Python that has torch + megatron-core 0.16.1 (`.ci/run` builds it); fail in CI if absent."""
    exe = os.environ.get("WANKA_MEGATRON_PYTHON", str(ROOT / ".ci" / "frameworks-venv/bin/python"))
    if not Path(exe).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Megatron-LM checker Python {exe} missing: .ci/run should have built it")
        pytest.skip(f"no Megatron-LM checker Python at {exe} (run .ci/run once to build it)")
    return exe


def _megatron_validate(paths: list[Path], arch: int) -> list[dict]:
    """Megatron-LM's parse_args + validate_args verdict for each launch script."""
    return _run_checker("megatron_check.py", paths, arch)


def _run_checker(script: str, paths: list[Path], arch: int) -> list[dict]:
    out = subprocess.run(
        [megatron_python(), str(HERE / script), str(arch), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == len(paths), out.stderr[-2000:]
    return rows


def _torchtitan_validate(paths: list[Path], arch: int) -> list[dict]:
    """torchtitan 0.3.0's ConfigManager + ParallelDims + model checks on each config module."""
    return _run_checker("torchtitan_check.py", paths, arch)


@pytest.fixture
def torchtitan_validate():
    """`torchtitan_validate(paths, arch)`: torchtitan's own verdict on each config module."""
    return _torchtitan_validate


def _bridge_validate(paths: list[Path], arch: int) -> list[dict]:
    """megatron-core 0.16.1's config classes (what Megatron-Bridge's ConfigContainer is made of)."""
    return _run_checker("bridge_check.py", paths, arch)


@pytest.fixture
def bridge_validate():
    """`bridge_validate(paths, arch)`: the verdict on each Megatron-Bridge override YAML."""
    return _bridge_validate


@pytest.fixture
def megatron_validate():
    """`megatron_validate(paths, arch)`: Megatron-LM's own verdict on each launch script."""
    return _megatron_validate
