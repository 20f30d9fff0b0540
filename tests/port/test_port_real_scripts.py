"""`wanka port` on real, unmodified open-source training scripts (tests/port/data, see SOURCES.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from port_oracle import DATA, REAL_SCRIPTS, comment_and_docstring_lines, cuda_lines

from wanka.port import fix, scan
from wanka.port.rules import TARGETS

# The CUDA-specific lines of each script, read by hand (1-based), and the rules expected on them.
EXPECTED = {
    "mingpt/mingpt/trainer.py": {
        38: {"cuda-availability", "cuda-device-string"},
        67: {"pin-memory"},
    },
    "nanogpt/train.py": {
        68: {"nccl-backend"},
        71: {"cuda-device-string"},
        72: {"cuda-availability", "cuda-capability"},
        108: {"cuda-device-string"},
        110: {"cuda-device-select"},
        126: {"cuda-backend-flag"},
        127: {"cudnn-flag"},
        129: {"cuda-device-string", "device-type-compare"},
        182: {"cuda-amp"},
        212: {"device-type-compare"},
        213: {"pin-memory"},
    },
    "pytorch-examples/dcgan/main.py": {
        50: {"cuda-seed"},
        52: {"cudnn-flag"},
        54: {"cuda-availability"},
        129: {"cuda-tensor-type"},
        131: {"data-parallel"},
        165: {"cuda-tensor-type"},
        167: {"data-parallel"},
        186: {"cuda-method"},
        187: {"cuda-method"},
        188: {"cuda-method"},
        189: {"cuda-method"},
        190: {"cuda-method"},
    },
    "pytorch-examples/super_resolution/main.py": {
        28: {"cuda-availability"},
        37: {"cuda-device-string"},
    },
    "pytorch-examples/word_language_model/main.py": {
        48: {"cuda-availability"},
        52: {"cuda-seed"},
        68: {"cuda-method"},
        84: {"cuda-method"},
    },
}


@pytest.fixture(scope="module")
def scanned():
    return scan(DATA)


def test_data_is_licensed():
    """Every third-party project in the test data ships its license."""
    for project in ("mingpt", "nanogpt", "pytorch-examples"):
        text = (DATA / project / "LICENSE").read_text()
        assert "Permission" in text or "Redistribution" in text
    assert set(EXPECTED) == set(REAL_SCRIPTS)


@pytest.mark.parametrize("rel", REAL_SCRIPTS)
def test_every_cuda_line_found(scanned, rel):
    """Each hand-listed CUDA line is found with the expected rules, and the token oracle agrees."""
    text = (DATA / rel).read_text()
    found: dict[int, set[str]] = {}
    for f in scanned.findings:
        if f.file == rel:
            found.setdefault(f.line, set()).add(f.rule)
    assert found == EXPECTED[rel]
    assert cuda_lines(text) <= set(found)


@pytest.mark.parametrize("rel", REAL_SCRIPTS)
def test_no_finding_in_comments_or_docstrings(scanned, rel):
    """Comments and docstrings mention CUDA all the time; they are never findings."""
    text = (DATA / rel).read_text()
    quiet = comment_and_docstring_lines(text)
    assert quiet, "the oracle should see some comments"
    assert not {f.line for f in scanned.findings if f.file == rel} & quiet


def test_score_explained(scanned):
    """Each target gets a score with its explanation; ROCm (HIP keeps 'cuda') is the most portable."""
    s = scanned.score
    assert set(s) == set(TARGETS)
    assert s["rocm"].score > s["npu"].score
    assert all(0 <= x.score <= x.after_fix <= 100 for x in s.values())
    assert "score" in s["npu"].explanation and s["npu"].breaks > 0


@pytest.mark.parametrize("target", TARGETS)
def test_fix_then_rescan_has_no_breaks(real_tree: Path, target: str):
    """After `port fix --write`: no `breaks` for the target, every file compiles, a second fix changes nothing."""
    before = {p: p.read_text() for p in real_tree.rglob("*.py")}
    res = fix(real_tree, target, write=True)
    assert not res.errors
    assert len(res.written) == len(REAL_SCRIPTS)
    after = scan(real_tree, [target])
    assert not after.errors
    assert [f for f in after.findings if f.targets[target]["severity"] == "breaks"] == []
    for p, old in before.items():
        new = p.read_text()
        compile(new, str(p), "exec")
        # Lossless: every comment line of the original is still there, in order.
        old_comments = [ln.strip() for ln in old.splitlines() if ln.strip().startswith("#")]
        new_comments = [
            ln.strip()
            for ln in new.splitlines()
            if ln.strip().startswith("#") and "wanka port" not in ln
        ]
        assert new_comments == old_comments
    again = fix(real_tree, target)
    assert again.diff() == ""
    assert all(not f.changed for f in again.files)


def test_fix_is_minimal(real_tree: Path):
    """Only CUDA-specific lines change: the rest of each file is byte-identical (plus the preamble)."""
    res = fix(real_tree, "npu")
    for ff in res.files:
        changed = [
            ln[1:]
            for ln in ff.diff().splitlines()
            if ln.startswith("-") and not ln.startswith("---")
        ]
        for ln in filter(str.strip, changed):  # difflib may re-pair an unchanged blank line
            assert re.search(r"cuda|nccl|cudnn|allow_tf32", ln), ln
