"""The registry calls of `wanka data copy`, on a SQLite registry, without importing SQLAlchemy.

Importing SQLAlchemy costs about as much CPU as hashing a few hundred MiB, which a copy of a small
dataset would feel. So for the common case (a SQLite file already at the newest schema) `copy` reads
the manifest and records its transfer and replica with the standard library's sqlite3, on the same
tables that `models.py` declares and the data history's migrations create. Anything else (another
database, a new or older schema, an unknown name that deserves the nearest-name error) goes through
`Registry`. tests/data/test_fastpath.py checks that both read and write the same rows.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from wanka.data.manifest import Entry, Manifest
from wanka.data.names import HEAD_REVISION, VERSION_TABLE, parse_ref

__all__ = ["CopyRegistry", "open_copy_registry"]


def _now() -> str:
    """A timestamp as SQLAlchemy's SQLite DateTime stores it (naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


@dataclass(frozen=True, slots=True)
class _Version:
    id: int
    source: str


class CopyRegistry:
    """The five registry calls `ops.copy_version` makes, in plain SQL on SQLite."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _version(self, ref: str) -> _Version:
        name, version = parse_ref(ref)
        row = self.conn.execute(
            "SELECT v.id, v.source FROM data_versions v JOIN data_datasets d ON d.id = v.dataset_id"
            " WHERE d.name = ? AND v.version = ?",
            (name, version),
        ).fetchone()
        if row is None:
            raise LookupError(ref)
        return _Version(*row)

    def get(self, ref: str) -> _Version:
        return self._version(ref)

    def manifest(self, ref: str) -> Manifest:
        rows = self.conn.execute(
            "SELECT path, size_bytes, sha256 FROM data_manifest_files WHERE version_id = ?",
            (self._version(ref).id,),
        )
        return Manifest.of(Entry(path=p, size_bytes=n, sha256=h) for p, n, h in rows)

    def start_transfer(self, ref: str, source: str, destination: str, tenant: str | None) -> int:
        vid, now = self._version(ref).id, _now()
        with self.conn:
            self.conn.execute(
                "UPDATE data_transfers SET state = 'interrupted', finished_at = ?"
                " WHERE version_id = ? AND destination = ? AND state = 'running'",
                (now, vid, destination),
            )
            cur = self.conn.execute(
                "INSERT INTO data_transfers (version_id, tenant, source, destination, state,"
                " files_copied, files_skipped, bytes, started_at)"
                " VALUES (?, ?, ?, ?, 'running', 0, 0, 0, ?)",
                (vid, tenant, source, destination, now),
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def finish_transfer(
        self,
        tid: int,
        *,
        state: str,
        error: str | None = None,
        files_copied: int = 0,
        files_skipped: int = 0,
        bytes: int = 0,
    ) -> None:
        with self.conn:
            self.conn.execute(
                "UPDATE data_transfers SET state = ?, error = ?, finished_at = ?, files_copied = ?,"
                " files_skipped = ?, bytes = ? WHERE id = ?",
                (state, error, _now(), files_copied, files_skipped, bytes, tid),
            )

    def record_replica(self, ref: str, location: str, endpoint: str = "") -> None:
        vid, now = self._version(ref).id, _now()
        with self.conn:
            cur = self.conn.execute(
                "UPDATE data_replicas SET verified_at = ?"
                " WHERE version_id = ? AND location = ? AND endpoint = ?",
                (now, vid, location, endpoint),
            )
            if cur.rowcount == 0:
                self.conn.execute(
                    "INSERT INTO data_replicas (version_id, location, endpoint, verified_at)"
                    " VALUES (?, ?, ?, ?)",
                    (vid, location, endpoint, now),
                )


def _sqlite_path(url: str) -> Path | None:
    """The file of a plain `sqlite:///FILE` URL; None for anything else."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url or url == prefix:
        return None
    return Path(url[len(prefix) :])


def open_copy_registry(url: str, ref: str) -> CopyRegistry | None:
    """A CopyRegistry when `url` is an existing SQLite file at the newest schema that knows `ref`;
    None when the caller should open a full Registry instead."""
    path = _sqlite_path(url)
    if path is None or not path.is_file():
        return None
    try:
        conn = sqlite3.connect(path, timeout=10.0, check_same_thread=False)
    except sqlite3.Error:
        return None
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        head = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
        if head is not None and head[0] == HEAD_REVISION:
            reg = CopyRegistry(conn)
            reg.get(ref)
            return reg
    except (sqlite3.Error, LookupError):
        pass
    conn.close()
    return None
