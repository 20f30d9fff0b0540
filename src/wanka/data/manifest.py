"""Content manifests: every file of a dataset version with its size and sha256.

A manifest lists each file by its path relative to the dataset root (POSIX separators, UTF-8),
its size in bytes and the sha256 of its content. The manifest's own sha256 names the version's
content: it is the sha256 of the canonical text, one line per file sorted by path,

    <sha256 hex>  <size in bytes>  <relative path>\\n

so two versions with the same files have the same `manifest_sha256` wherever they were registered.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from wanka.errors import ConfigError, DataError

__all__ = [
    "CHUNK_BYTES",
    "PARTIAL_SUFFIX",
    "Entry",
    "Manifest",
    "build_manifest",
    "detect_format",
    "hash_file",
    "walk_files",
]

CHUNK_BYTES = 4 << 20  # read size: large enough that sha256 and the copy run at memory speed
PARTIAL_SUFFIX = ".wanka-partial"  # a file being written by the mover; never a dataset file

#: Dataset formats by file name; the version's format is that of most of its bytes.
_FORMATS = {
    ".jsonl": "jsonl",
    ".jsonl.gz": "jsonl",
    ".jsonl.zst": "jsonl",
    ".parquet": "parquet",
    ".bin": "megatron",
    ".idx": "megatron",
    ".tar": "webdataset",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One file of a dataset version."""

    path: str
    """Path relative to the dataset root, POSIX separators."""
    size_bytes: int
    sha256: str
    """Hex digest of the file's content."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    """Every file of a dataset version, sorted by path."""

    entries: tuple[Entry, ...]

    @property
    def files(self) -> int:
        return len(self.entries)

    @property
    def size_bytes(self) -> int:
        return sum(e.size_bytes for e in self.entries)

    @property
    def sha256(self) -> str:
        """The sha256 of the canonical manifest text: the identity of the version's content."""
        h = hashlib.sha256()
        for e in self.entries:
            h.update(f"{e.sha256}  {e.size_bytes}  {e.path}\n".encode())
        return h.hexdigest()

    def by_path(self) -> dict[str, Entry]:
        return {e.path: e for e in self.entries}

    @staticmethod
    def of(entries: Iterable[Entry]) -> Manifest:
        return Manifest(entries=tuple(sorted(entries, key=lambda e: e.path)))


def walk_files(root: Path) -> list[str]:
    """Every regular file under `root`, as sorted POSIX paths relative to it (symlinks followed)."""
    out = []
    for dirpath, _dirs, names in os.walk(root, followlinks=True):
        for name in names:
            full = os.path.join(dirpath, name)
            if os.path.isfile(full):
                out.append(Path(os.path.relpath(full, root)).as_posix())
    return sorted(out)


def hash_file(path: Path | str) -> tuple[int, str]:
    """(size in bytes, sha256 hex) of a file's content, read in streaming fashion."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK_BYTES)
    view = memoryview(buf)
    n = 0
    with open(path, "rb", buffering=0) as f:
        while k := f.readinto(buf):
            h.update(view[:k])
            n += k
    return n, h.hexdigest()


def _stable_entry(root: Path, rel: str) -> Entry:
    """Hash one file, refusing it if it changed (size, mtime or inode) while it was read."""
    full = root / rel
    before = os.stat(full)
    size, digest = hash_file(full)
    after = os.stat(full)
    key = (before.st_size, before.st_mtime_ns, before.st_ino)
    if key != (after.st_size, after.st_mtime_ns, after.st_ino) or size != after.st_size:
        raise DataError(
            f"{rel} changed while it was being registered: register again once the source is stable"
        )
    return Entry(path=rel, size_bytes=size, sha256=digest)


def build_manifest(
    root: Path | str,
    *,
    workers: int = 4,
    progress: Callable[[int], None] | None = None,
) -> Manifest:
    """Hash every file under `root` (in parallel) into a manifest.

    Args:
        root: the dataset directory (or a single file, registered under its own name).
        workers: files hashed at once.
        progress: called with the bytes of each file once it is hashed.
    """
    root = Path(root)
    if root.is_file():
        root, rels = root.parent, [root.name]
    elif root.is_dir():
        rels = [r for r in walk_files(root) if not r.endswith(PARTIAL_SUFFIX)]
    else:
        raise ConfigError(f"no such file or directory: {root}")
    if not rels:
        raise ConfigError(f"{root} holds no files to register")

    def one(rel: str) -> Entry:
        e = _stable_entry(root, rel)
        if progress is not None:
            progress(e.size_bytes)
        return e

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        entries = list(pool.map(one, rels))
    return Manifest.of(entries)


def detect_format(manifest: Manifest) -> str:
    """jsonl | parquet | megatron | webdataset | files: the format of most of the version's bytes."""
    weight: dict[str, int] = {}
    paths = {e.path.lower() for e in manifest.entries}
    for e in manifest.entries:
        name = e.path.lower()
        fmt = next((f for suf, f in _FORMATS.items() if name.endswith(suf)), "files")
        if fmt == "megatron" and not {name[:-4] + ".bin", name[:-4] + ".idx"} <= paths:
            fmt = "files"  # a Megatron indexed dataset is a .bin with its .idx
        weight[fmt] = weight.get(fmt, 0) + e.size_bytes + 1
    return max(weight, key=lambda k: weight[k]) if weight else "files"
