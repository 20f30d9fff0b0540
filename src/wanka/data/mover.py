"""Copy a dataset version between stores, file by file, verified against its manifest.

- Resume is per file: a file already at the destination with the manifest's size and sha256 is
  skipped, so a rerun after any interruption copies only what is missing or differs.
- Each file is hashed while it streams to the destination and lands under its final name only when
  its size and sha256 match the manifest (local: temp name then rename; S3: the upload completes
  only then), so a killed copy or a source that changed never leaves wrong bytes under a final name.
- Files copy in parallel (threads: hashing and I/O release the GIL); one token bucket caps the
  bandwidth of all of them together.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from wanka.data.localcopy import SEGMENT_BYTES, KernelCopyUnsupported, copy_and_hash
from wanka.data.manifest import Entry, Manifest
from wanka.data.stores import LocalStore, Store, write_error
from wanka.errors import ConfigError, DataError

__all__ = [
    "BandwidthLimit",
    "CopyResult",
    "VerifyResult",
    "copy_manifest",
    "parse_bwlimit",
    "verify_store",
]

Progress = Callable[[int, int], None]  # (bytes done, bytes total)
LIMITED_SEGMENT_BYTES = 1 << 20  # under --bwlimit, copy in small steps so the rate stays smooth


def parse_bwlimit(text: str | None) -> float | None:
    """Bytes/s from rclone-style text: `100M` = 100 MiB/s (K, M, G, T are binary, as in rclone),
    or an explicit unit such as `50MB` (1e6) or `1GiB`; `off`, `0` or nothing: no limit."""
    from wanka.units import parse_size

    if text is None or str(text).strip().lower() in ("", "0", "off"):
        return None
    t = str(text).strip()
    if t[-1:].lower() in "kmgt" and t[:-1].replace(".", "", 1).isdigit():
        t += "iB"
    try:
        return float(parse_size(t))
    except ConfigError:
        raise ConfigError(
            f"cannot read --bwlimit {text!r}: give bytes per second such as 100M (MiB/s) or 50MB"
        ) from None


class BandwidthLimit:
    """Shared by every worker: `take(n)`, called after sending n bytes, sleeps until the total
    sent by all workers is back under `rate` bytes/s."""

    def __init__(self, bytes_per_s: float) -> None:
        self.rate = bytes_per_s
        self.lock = threading.Lock()
        self.t_free = time.monotonic()  # when everything sent so far has "drained" at the rate

    def take(self, n: int) -> None:
        with self.lock:
            now = time.monotonic()
            self.t_free = max(now, self.t_free) + n / self.rate
            until = self.t_free
        if until > now:
            time.sleep(until - now)


@dataclass(slots=True, kw_only=True)
class CopyResult:
    """What a copy did."""

    files_copied: int = 0
    files_skipped: int = 0
    bytes: int = 0
    """Bytes transferred (skipped files not counted)."""
    verified: bool = False
    extra: list[str] = field(default_factory=list)
    """Files at the destination that the manifest does not list (left in place)."""
    seconds: float = 0.0


@dataclass(slots=True, kw_only=True)
class VerifyResult:
    """How a location compares to a manifest."""

    mismatched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.missing or self.extra)

    def message(self, location: str) -> str:
        parts = []
        for label, names in (
            ("mismatched", self.mismatched),
            ("missing", self.missing),
            ("extra", self.extra),
        ):
            if names:
                parts.append(f"{len(names)} {label}: {', '.join(names)}")
        return f"{location} does not match the manifest: " + "; ".join(parts)


class _Counter:
    def __init__(self, total: int, progress: Progress | None) -> None:
        self.done, self.total, self.progress = 0, total, progress
        self.lock = threading.Lock()

    def add(self, n: int) -> None:
        if self.progress is None:
            return
        with self.lock:
            self.done += n
            done = self.done
        self.progress(done, self.total)


def _transfer(
    e: Entry, src: Store, dst: Store, limit: BandwidthLimit | None, count: _Counter
) -> None:
    """Copy one file; it lands under its final name only if its bytes match the manifest."""
    try:
        local = isinstance(src, LocalStore) and isinstance(dst, LocalStore)
        if local and _transfer_kernel(e, src, dst, limit, count):  # type: ignore[arg-type]
            return
        _transfer_stream(e, src, dst, limit, count)
    except FileNotFoundError as err:
        if err.filename and str(err.filename).startswith(str(getattr(src, "root", "\0"))):
            raise _Mismatch(e.path) from None  # the source file is gone
        raise


def _transfer_kernel(
    e: Entry, src: LocalStore, dst: LocalStore, limit: BandwidthLimit | None, count: _Counter
) -> bool:
    """Local to local: copy in the kernel, hash the temp file's bytes; False if unsupported."""

    def segment(n: int) -> None:
        if limit is not None:
            limit.take(n)
        count.add(n)

    w = dst.begin(e.path)
    try:
        n, digest = copy_and_hash(
            str(src.root / e.path),
            w.f.fileno(),
            e.size_bytes,
            segment,
            segment_bytes=SEGMENT_BYTES if limit is None else LIMITED_SEGMENT_BYTES,
        )
    except KernelCopyUnsupported:
        w.abort()
        return False
    except FileNotFoundError:
        w.abort()
        raise
    except OSError as err:
        w.abort()
        raise write_error(err, str(dst.root / e.path)) from None
    except BaseException:
        w.abort()
        raise
    if n != e.size_bytes or digest != e.sha256:
        w.abort()
        raise _Mismatch(e.path)
    w.commit()
    return True


def _transfer_stream(
    e: Entry, src: Store, dst: Store, limit: BandwidthLimit | None, count: _Counter
) -> None:
    """Any stores: stream the bytes, hashing them on the way."""
    h, n = hashlib.sha256(), 0
    w = dst.begin(e.path)
    try:
        for chunk in src.chunks(e.path):
            if limit is not None:
                limit.take(len(chunk))
            h.update(chunk)
            w.write(chunk)
            n += len(chunk)
            count.add(len(chunk))
            if n > e.size_bytes:
                break  # the source grew: no need to read the rest
    except BaseException:
        w.abort()
        raise
    if n != e.size_bytes or h.hexdigest() != e.sha256:
        w.abort()
        raise _Mismatch(e.path)
    w.commit()
    if not isinstance(dst, LocalStore) and dst.hash(e.path) != (e.size_bytes, e.sha256):
        dst.delete(e.path)  # read back wrong: the store damaged it; never leave it there
        raise DataError(
            f"{dst.location}/{e.path} read back different from what was sent; removed it"
        )


class _Mismatch(Exception):
    pass


def copy_manifest(
    manifest: Manifest,
    src: Store,
    dst: Store,
    *,
    workers: int = 4,
    bwlimit: float | None = None,
    progress: Progress | None = None,
) -> CopyResult:
    """Copy every manifest file from `src` to `dst`; raise DataError unless all of them verify."""
    t0 = time.perf_counter()
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    dst.prepare()
    dst.remove_partials()
    present = dst.list()
    limit = BandwidthLimit(bwlimit) if bwlimit else None
    count = _Counter(manifest.size_bytes, progress)
    res = CopyResult()
    bad: list[str] = []
    lock = threading.Lock()

    def one(e: Entry) -> None:
        if present.get(e.path) == e.size_bytes and dst.matches(e):
            count.add(e.size_bytes)
            with lock:
                res.files_skipped += 1
            return
        try:
            _transfer(e, src, dst, limit, count)
        except _Mismatch:
            with lock:
                bad.append(e.path)
            return
        with lock:
            res.files_copied += 1
            res.bytes += e.size_bytes

    with ThreadPoolExecutor(max_workers=workers) as pool:
        biggest_first = sorted(manifest.entries, key=lambda e: -e.size_bytes)
        futures = [pool.submit(one, e) for e in biggest_first]
        try:
            for f in futures:
                f.result()  # re-raises a DataError (disk full, unwritable) from any worker
        except BaseException:
            for f in futures:
                f.cancel()  # files not started stay uncopied; started ones finish or abort
            raise
    if bad:
        raise DataError(
            f"{len(bad)} source file(s) differ from the registered manifest and were not copied: "
            f"{', '.join(sorted(bad))} (the source changed since registration?)"
        )
    after = dst.list()
    lost = [e.path for e in manifest.entries if after.get(e.path) != e.size_bytes]
    if lost:
        raise DataError(f"files vanished from the destination during the copy: {', '.join(lost)}")
    listed = manifest.by_path()
    res.extra = sorted(p for p in after if p not in listed)
    res.verified = True
    res.seconds = time.perf_counter() - t0
    return res


def verify_store(
    manifest: Manifest, store: Store, *, workers: int = 4, progress: Progress | None = None
) -> VerifyResult:
    """Re-read every file at `store` and compare it with the manifest."""
    present = store.list()
    listed = manifest.by_path()
    res = VerifyResult()
    res.missing = sorted(p for p in listed if p not in present)
    res.extra = sorted(p for p in present if p not in listed)
    todo = [e for e in manifest.entries if e.path in present]
    count = _Counter(sum(e.size_bytes for e in todo), progress)
    wrong_size = {e.path for e in todo if present[e.path] != e.size_bytes}

    def one(e: Entry) -> bool:
        if e.path in wrong_size:
            count.add(e.size_bytes)
            return False
        ok = store.hash(e.path) == (e.size_bytes, e.sha256)
        count.add(e.size_bytes)
        return ok

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        oks = list(pool.map(one, todo))
    res.mismatched = sorted(e.path for e, ok in zip(todo, oks, strict=True) if not ok)
    res.files = sum(oks)
    res.bytes = sum(e.size_bytes for e, ok in zip(todo, oks, strict=True) if ok)
    return res
