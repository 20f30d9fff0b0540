"""Fixtures for the port tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from port_oracle import DATA


@pytest.fixture()
def real_tree(tmp_path: Path) -> Path:
    """A private copy of the real scripts (with their licenses) that a test may rewrite."""
    dst = tmp_path / "real"
    shutil.copytree(DATA, dst)
    return dst
