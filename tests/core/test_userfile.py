"""The one user-file reader and the edge validators: every problem is one line naming the file."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from wanka.errors import CatalogError, ConfigError
from wanka.userfile import (
    MAX_ACCELERATORS,
    check_count,
    check_id,
    check_number,
    check_writable,
    read_data,
    read_json,
    read_source,
    read_text,
)


def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize(
    ("name", "content", "phrase"),
    [
        ("a.yaml", b"\x00\x01\x02binary", "binary file"),  # a NUL byte
        ("a.yaml", "k: caf\xe9\n".encode("latin-1"), "not UTF-8"),  # undecodable
        ("a.yaml", b"k: [1\n", "malformed YAML"),
        ("a.json", b'{"k": 1,}', "malformed JSON"),
        ("a.yaml", b"k: {x: .nan}\n", "k.x is not a finite number"),
        ("a.yaml", b"k: [1, .inf]\n", "k[1] is not a finite number"),
        ("a.json", b'{"k": NaN}', "k is not a finite number"),
    ],
)
def test_bad_files_are_one_line(tmp_path: Path, name: str, content: bytes, phrase: str):
    """Binary, undecodable, malformed and non-finite files: one line, starting with the path."""
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(ConfigError) as e:
        read_data(p)
    msg = _one_line(e)
    assert msg.startswith(str(p)) and phrase in msg


def test_missing_directory_and_too_large(tmp_path: Path):
    with pytest.raises(ConfigError, match="file not found"):
        read_data(tmp_path / "none.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        read_data(tmp_path)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" * 300)
    with pytest.raises(ConfigError, match="too large"):
        read_text(big, max_bytes=1000)


def test_good_files_parse(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("\ufeffk: [1, 2.5]\n", encoding="utf-8")  # a BOM is fine
    assert read_data(tmp_path / "a.yaml") == {"k": [1, 2.5]}
    (tmp_path / "c.txt").write_text('{"x": 1}')
    assert read_json(tmp_path / "c.txt") == {"x": 1}


def test_python_source(tmp_path: Path):
    """Source in a declared encoding is fine; binary or undecodable source is refused."""
    ok = tmp_path / "ok.py"
    ok.write_bytes("# -*- coding: latin-1 -*-\ns = 'caf\xe9'\n".encode("latin-1"))
    assert read_source(ok).startswith(b"# -*-")
    bad = tmp_path / "bad.py"
    bad.write_bytes(b"\xff\xfe\x00x = 1\n")
    with pytest.raises(ConfigError, match="binary"):
        read_source(bad)
    bad.write_bytes("s = 'caf\xe9'\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="known encoding"):
        read_source(bad)


def test_read_only_file_is_not_writable(tmp_path: Path):
    p = tmp_path / "ro.py"
    p.write_text("x = 1\n")
    p.chmod(0o444)
    with pytest.raises(ConfigError, match="read-only"):
        check_writable(p)
    p.chmod(0o644)
    assert check_writable(p) == p


@pytest.mark.parametrize(
    ("value", "phrase"),
    [
        (math.nan, "finite"),
        (math.inf, "finite"),
        (-1.0, "positive"),
        (0.0, "positive"),
        (2e5, "at most"),
    ],
)
def test_check_number(value: float, phrase: str):
    with pytest.raises(ConfigError, match=phrase):
        check_number("--link-gbit", value, maximum=1e5)


def test_check_count_bounds():
    assert check_count("--gpus", 8) == 8
    assert check_count("--gpus", MAX_ACCELERATORS) == MAX_ACCELERATORS
    with pytest.raises(ConfigError, match="at most 1e\\+07"):
        check_count("--gpus", MAX_ACCELERATORS + 1)
    with pytest.raises(ConfigError, match="whole number"):
        check_count("--gpus", 2.5)


def test_check_id_suggests_the_nearest():
    assert check_id("policy", "fifo", ["fifo", "sjf"]) == "fifo"
    with pytest.raises(CatalogError) as e:
        check_id("accelerator", "h100-sxn", ["h100-sxm", "b200", "mi300x"], error=CatalogError)
    assert "closest: h100-sxm" in str(e.value)
