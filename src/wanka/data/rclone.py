"""A store on any rclone remote (`rclone:REMOTE:PATH`), for remotes boto3 does not reach (SFTP,
HDFS, Azure Blob, Google Drive, vendor object stores...). It needs `rclone` on PATH and the remote
configured the rclone way (`rclone config`, or `RCLONE_CONFIG_<NAME>_<KEY>` variables).

Each file streams through `rclone rcat` to `.NAME.wanka-partial` and is renamed with `rclone moveto`
only once its bytes matched the manifest; reads (and the mover's read-back check) use `rclone cat`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import IO

from wanka.data.manifest import CHUNK_BYTES, PARTIAL_SUFFIX
from wanka.errors import ConfigError, DataError

__all__ = ["RcloneStore"]


def _env() -> dict[str, str]:
    # rclone 1.60 fails on a custom CA bundle variable meant for boto3
    return {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}


class _RcloneWriter:
    def __init__(self, store: RcloneStore, rel: str) -> None:
        self.store, self.final = store, store.path(rel)
        head, _, name = rel.rpartition("/")
        self.tmp = store.path(
            f"{head}/.{name}{PARTIAL_SUFFIX}" if head else f".{name}{PARTIAL_SUFFIX}"
        )
        self.proc = subprocess.Popen(
            ["rclone", "rcat", self.tmp],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=_env(),
        )
        assert self.proc.stdin is not None
        self.stdin: IO[bytes] = self.proc.stdin

    def write(self, chunk: memoryview | bytes) -> None:
        try:
            self.stdin.write(chunk)
        except BrokenPipeError:
            self.abort()
            raise DataError(f"rclone rcat {self.tmp} stopped: {self._err()}") from None

    def _err(self) -> str:
        err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
        return (err.strip().splitlines() or ["no message"])[-1]

    def commit(self) -> None:
        self.stdin.close()
        if self.proc.wait() != 0:
            msg = self._err()
            self.abort()
            raise DataError(f"rclone rcat {self.tmp} failed: {msg}")
        self.store.run("moveto", self.tmp, self.final)

    def abort(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.store.run("deletefile", self.tmp, check=False)


class RcloneStore:
    """`rclone:REMOTE:PATH`: a path on an rclone remote."""

    def __init__(self, spec: str) -> None:
        if not shutil.which("rclone"):
            raise ConfigError(
                f"{spec}: rclone is not on PATH; install it (apt-get install rclone) "
                "or use a local path or s3://BUCKET/PREFIX"
            )
        self.base = spec[len("rclone:") :].rstrip("/")
        if ":" not in self.base:
            raise ConfigError(f"cannot read {spec!r}: write rclone:REMOTE:PATH")
        self.location = spec.rstrip("/")

    def path(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        p = subprocess.run(["rclone", *args], check=False, capture_output=True, env=_env())
        if check and p.returncode != 0:
            msg = (p.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
            raise DataError(f"rclone {args[0]} {args[1] if len(args) > 1 else ''} failed: {msg}")
        return p

    def prepare(self) -> None:
        self.run("mkdir", self.base)

    def list(self) -> dict[str, int]:
        p = self.run("lsjson", "-R", "--files-only", self.base, check=False)
        if p.returncode != 0:
            return {}  # no such directory yet
        return {o["Path"]: int(o["Size"]) for o in json.loads(p.stdout or b"[]")}

    def remove_partials(self) -> None:
        for rel in self.list():
            if rel.endswith(PARTIAL_SUFFIX):
                self.run("deletefile", self.path(rel), check=False)

    def matches(self, entry: object) -> bool:
        from wanka.data.manifest import Entry

        assert isinstance(entry, Entry)
        try:
            return self.hash(entry.path) == (entry.size_bytes, entry.sha256)
        except DataError:
            return False

    def chunks(self, rel: str) -> Iterator[bytes]:
        p = subprocess.Popen(
            ["rclone", "cat", self.path(rel)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_env(),
        )
        assert p.stdout is not None
        try:
            while chunk := p.stdout.read(CHUNK_BYTES):
                yield chunk
        finally:
            p.stdout.close()
            rc = p.wait()
        if rc != 0:
            err = p.stderr.read().decode(errors="replace") if p.stderr else ""
            raise DataError(f"rclone cat {self.path(rel)} failed: {err.strip()[-200:]}")

    def begin(self, rel: str) -> _RcloneWriter:
        return _RcloneWriter(self, rel)

    def hash(self, rel: str) -> tuple[int, str]:
        import hashlib

        h, n = hashlib.sha256(), 0
        for chunk in self.chunks(rel):
            h.update(chunk)
            n += len(chunk)
        return n, h.hexdigest()

    def delete(self, rel: str) -> None:
        self.run("deletefile", self.path(rel), check=False)
