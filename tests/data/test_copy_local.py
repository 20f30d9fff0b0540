"""Register, copy, verify, corrupt, repair and interrupt copies between local directories."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wanka.cli.main import app
from wanka.data import mover
from wanka.data.manifest import PARTIAL_SUFFIX, walk_files
from wanka.data.ops import copy_version, register_path, verify_version
from wanka.data.registry import Registry
from wanka.errors import DataError

runner = CliRunner()


def wanka(*args: str) -> tuple[int, dict | list | None, str]:
    r = runner.invoke(app, ["data", *args])
    try:
        out = json.loads(r.stdout)
    except ValueError:
        out = None
    return r.exit_code, out, r.output


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def flip(p: Path, at: int = 3) -> None:
    b = bytearray(p.read_bytes())
    b[at] ^= 1
    p.write_bytes(bytes(b))


def test_register_copy_verify_corrupt_repair(corpus: Path, tmp_path: Path, db_url: str) -> None:
    """The whole loop through the CLI: each step's JSON keys and exit codes."""
    total = sum((corpus / r).stat().st_size for r in walk_files(corpus))
    rc, reg, _ = wanka(
        "register", str(corpus), "--name", "c", "--version", "1", "--db", db_url, "--json"
    )
    assert (
        rc == 0
        and reg["files"] == 12
        and reg["bytes"] == total
        and len(reg["manifest_sha256"]) == 64
    )
    dst = tmp_path / "dst"
    rc, cp, _ = wanka("copy", "c@1", str(dst), "--db", db_url, "--json")
    assert rc == 0 and cp["files_copied"] == 12 and cp["files_skipped"] == 0
    assert cp["bytes"] == total and cp["verified"] is True
    assert all(sha(dst / r) == sha(corpus / r) for r in walk_files(corpus))
    rc, v, _ = wanka("verify", "c@1", str(dst), "--db", db_url, "--json")
    assert rc == 0 and v["ok"] is True
    victim = dst / "shard-1" / "part-005.jsonl"
    flip(victim)
    rc, v, out = wanka("verify", "c@1", str(dst), "--db", db_url, "--json")
    assert rc == 1 and v["mismatched"] == ["shard-1/part-005.jsonl"] and "part-005.jsonl" in out
    assert Registry(db_url).get("c@1").replicas == ()  # a replica that stops verifying is dropped
    rc, cp, _ = wanka("copy", "c@1", str(dst), "--db", db_url, "--json")
    assert rc == 0 and cp["files_copied"] == 1 and cp["files_skipped"] == 11
    assert sha(victim) == sha(corpus / "shard-1" / "part-005.jsonl")
    assert [r["location"] for r in Registry(db_url).get("c@1").replicas] == [str(dst)]


def test_verify_names_missing_and_extra(corpus: Path, tmp_path: Path, db_url: str) -> None:
    """Missing and extra files are named, exit 1."""
    reg = Registry(db_url)
    register_path(reg, corpus, name="c", version="1")
    dst = tmp_path / "dst"
    copy_version(reg, "c@1", str(dst))
    (dst / "shard-0" / "part-001.jsonl").unlink()
    (dst / "shard-2" / "stray.txt").write_text("not in the manifest\n")
    rc, v, out = wanka("verify", "c@1", str(dst), "--db", db_url, "--json")
    assert (
        rc == 1
        and v["missing"] == ["shard-0/part-001.jsonl"]
        and v["extra"] == ["shard-2/stray.txt"]
    )
    assert "part-001.jsonl" in out and "stray.txt" in out


def test_changed_source_never_lands(corpus: Path, tmp_path: Path, db_url: str) -> None:
    """A source byte changed after registration: exit 1, no file under that name, no replica."""
    reg = Registry(db_url)
    register_path(reg, corpus, name="c", version="1")
    flip(corpus / "shard-0" / "part-000.jsonl", 7)
    dst = tmp_path / "dst"
    rc, _, out = wanka("copy", "c@1", str(dst), "--db", db_url)
    assert rc == 1 and "part-000.jsonl" in out
    assert not (dst / "shard-0" / "part-000.jsonl").exists()
    assert not [r for r in walk_files(dst) if r.endswith(PARTIAL_SUFFIX)]
    assert reg.get("c@1").replicas == ()
    assert reg.transfers()[0]["state"] == "failed"


def test_source_changing_during_registration(corpus: Path, db_url: str, monkeypatch) -> None:
    """A file that changes while it is hashed is refused, and nothing is registered."""
    from wanka.data import manifest

    real = manifest.hash_file

    def hash_then_touch(path):  # another writer appends while we read
        out = real(path)
        with open(path, "ab") as f:
            f.write(b"{}\n")
        return out

    monkeypatch.setattr(manifest, "hash_file", hash_then_touch)
    rc, _, out = wanka("register", str(corpus), "--name", "c", "--version", "1", "--db", db_url)
    assert rc == 1 and "changed while it was being registered" in out
    assert Registry(db_url).versions() == []


def test_disk_full_aborts_with_one_line(
    corpus: Path, tmp_path: Path, db_url: str, monkeypatch
) -> None:
    """ENOSPC while writing: exit 1 with one line, no partial file, no replica recorded."""
    reg = Registry(db_url)
    register_path(reg, corpus, name="c", version="1")

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mover, "copy_and_hash", full)
    dst = tmp_path / "dst"
    r = runner.invoke(app, ["data", "copy", "c@1", str(dst), "--db", db_url])
    assert r.exit_code == 1 and "disk full" in r.output and len(r.output.strip().splitlines()) == 1
    assert walk_files(dst) == []
    assert reg.get("c@1").replicas == ()


def test_unwritable_destination_and_unknown_names(corpus: Path, db_url: str) -> None:
    """One-line errors: a destination under a file; a misspelt dataset or version."""
    register_path(Registry(db_url), corpus, name="corpus", version="1")
    bad = corpus / "shard-0" / "part-000.jsonl" / "x"
    r = runner.invoke(app, ["data", "copy", "corpus@1", str(bad), "--db", db_url])
    assert (
        r.exit_code == 1 and "cannot write" in r.output and len(r.output.strip().splitlines()) == 1
    )
    rc, _, out = wanka("show", "corpsu@1", "--db", db_url)
    assert rc == 1 and "closest: corpus" in out
    rc, _, out = wanka("copy", "corpus@2", "/tmp/x", "--db", db_url)
    assert rc == 1 and "unknown version of corpus: '2'" in out and "closest: 1" in out


def test_versions_are_immutable(corpus: Path, db_url: str) -> None:
    """Re-registering the same content is a no-op; other content under the same version fails."""
    reg = Registry(db_url)
    a = register_path(reg, corpus, name="c", version="1")
    assert register_path(reg, corpus, name="c", version="1").manifest_sha256 == a.manifest_sha256
    (corpus / "new.jsonl").write_text('{"text": "more"}\n')
    with pytest.raises(DataError, match="already registered with other content"):
        register_path(reg, corpus, name="c", version="1")


def test_bandwidth_limit_holds(tmp_path: Path, db_url: str, corpus_factory) -> None:
    """--bwlimit caps the rate of all workers together (within scheduling slack)."""
    src = corpus_factory(tmp_path / "src", files=4, big_bytes=3 << 20)
    reg = Registry(db_url)
    register_path(reg, src, name="c", version="1")
    t = time.monotonic()
    res = copy_version(reg, "c@1", str(tmp_path / "dst"), bwlimit=2 << 20, workers=4)
    took = time.monotonic() - t
    assert res.bytes > 3 << 20 and took >= (res.bytes / (2 << 20)) * 0.8


def test_kill_9_mid_copy_then_resume(tmp_path: Path, db_url: str, corpus_factory) -> None:
    """kill -9 of a bandwidth-limited copy leaves no wrong file under a final name; the rerun
    skips what landed, copies the rest and verifies."""
    src = corpus_factory(tmp_path / "src", files=8, big_bytes=6 << 20)
    reg = Registry(db_url)
    register_path(reg, src, name="c", version="1")
    man = reg.manifest("c@1").by_path()
    dst = tmp_path / "dst"
    cmd = [sys.executable, "-m", "wanka.cli.main", "data", "copy", "c@1", str(dst)]
    p = subprocess.Popen(
        [*cmd, "--db", db_url, "--bwlimit", "2M", "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
        f.endswith(PARTIAL_SUFFIX) for f in walk_files(dst) if dst.is_dir()
    ):
        time.sleep(0.05)
    time.sleep(0.5)
    assert p.poll() is None, "the copy ended before it could be killed"
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    landed = [r for r in walk_files(dst) if r in man]
    assert all(sha(dst / r) == man[r].sha256 for r in landed)
    assert len(landed) < len(man)
    res = copy_version(reg, "c@1", str(dst))
    assert res.files_skipped >= len(landed) and res.files_copied == len(man) - res.files_skipped
    assert verify_version(reg, "c@1", str(dst)).ok
    assert not [r for r in walk_files(dst) if r.endswith(PARTIAL_SUFFIX)]
    states = [t["state"] for t in reg.transfers()]
    assert states[0] == "succeeded" and "interrupted" in states
