"""The SQLite fast path of `copy` reads and writes the same rows as the SQLAlchemy registry."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from wanka.data.fastpath import open_copy_registry
from wanka.data.ops import copy_version, register_path
from wanka.data.registry import Registry


def test_fast_path_agrees_with_the_registry(corpus: Path, tmp_path: Path, db_url: str) -> None:
    """Same manifest; its transfer and replica rows read back through SQLAlchemy."""
    reg = Registry(db_url)
    register_path(reg, corpus, name="c", version="1")
    fast = open_copy_registry(db_url, "c@1")
    assert fast is not None
    assert fast.manifest("c@1") == reg.manifest("c@1")
    assert fast.get("c@1").source == reg.get("c@1").source
    dst = tmp_path / "dst"
    copy_version(fast, "c@1", str(dst))
    copy_version(fast, "c@1", str(dst))  # refreshes the replica, does not duplicate it
    rec = reg.get("c@1")
    assert [r["location"] for r in rec.replicas] == [str(dst)]
    assert rec.replicas[0]["verified_at"].endswith("Z")
    t = reg.transfers()
    assert [x["state"] for x in t] == ["succeeded", "succeeded"]
    assert t[1]["files_copied"] == 12 and t[0]["files_skipped"] == 12


def test_fast_path_steps_aside(corpus: Path, tmp_path: Path, db_url: str) -> None:
    """Other URLs, a missing file, an unknown name or an older schema go to the full registry."""
    register_path(Registry(db_url), corpus, name="c", version="1")
    path = db_url[len("sqlite:///") :]
    assert open_copy_registry(db_url, "c@2") is None
    assert open_copy_registry(db_url, "nope@1") is None
    assert open_copy_registry(f"sqlite+pysqlite:///{path}", "c@1") is None
    assert open_copy_registry(f"sqlite:///{tmp_path / 'absent.db'}", "c@1") is None
    assert not (tmp_path / "absent.db").exists()
    with sqlite3.connect(path) as c:
        c.execute("UPDATE alembic_version_data SET version_num = 'data_0000'")
    assert open_copy_registry(db_url, "c@1") is None
