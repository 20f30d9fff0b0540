"""Local-to-local file copy in the kernel, verified by hashing the destination bytes.

The bytes move with `copy_file_range` (no trip through user space; a reflink where the file system
offers one) into the temp file, and the hasher reads the temp file back as the copy advances, so
the sha256 compared with the manifest is that of the bytes that will sit under the final name: a
read-back verification that costs one hashing pass. For large files the copy of the next segment
overlaps the hashing of the previous one.
"""

from __future__ import annotations

import errno
import hashlib
import os
import queue
import threading
from collections.abc import Callable

from wanka.data.manifest import CHUNK_BYTES

__all__ = ["KernelCopyUnsupported", "copy_and_hash"]

SEGMENT_BYTES = 16 << 20  # copy_file_range call size: the hasher trails the copier by one segment
PIPELINE_MIN_BYTES = 32 << 20  # smaller files copy then hash in one thread

_UNSUPPORTED = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}


class KernelCopyUnsupported(Exception):
    """copy_file_range cannot copy between these two files; stream them instead."""


def _copy(fin: int, fout: int, limit_bytes: int, step: Callable[[int], None], segment: int) -> None:
    """Copy from offset 0 until EOF or `limit_bytes`, calling `step(offset)` after each segment."""
    off = 0
    while off < limit_bytes:
        try:
            n = os.copy_file_range(fin, fout, min(segment, limit_bytes - off), off, off)
        except OSError as e:
            if off == 0 and e.errno in _UNSUPPORTED:
                raise KernelCopyUnsupported() from None
            raise
        if n == 0:
            break
        off += n
        step(off)


def _hash_range(fd: int, h: hashlib._Hash, start: int, end: int, buf: bytearray) -> None:
    view = memoryview(buf)
    pos = start
    while pos < end:
        k = os.preadv(fd, [view[: min(len(buf), end - pos)]], pos)
        if k == 0:
            break
        h.update(view[:k])
        pos += k


def copy_and_hash(
    src: str,
    fout: int,
    expected_bytes: int,
    after_segment: Callable[[int], None] | None = None,
    segment_bytes: int = SEGMENT_BYTES,
) -> tuple[int, str]:
    """Copy file `src` into the open file `fout`; return (bytes, sha256) of what `fout` now holds.

    Copies at most `expected_bytes + 1` bytes (one more reveals a source that grew).
    `after_segment(n)` is called with each segment's size once it is copied (bandwidth, progress).
    """
    limit = expected_bytes + 1
    buf = bytearray(CHUNK_BYTES)
    h = hashlib.sha256()
    last = [0]

    def step_counted(off: int) -> None:
        if after_segment is not None:
            after_segment(off - last[0])
        last[0] = off

    with open(src, "rb", buffering=0) as fi:
        fin = fi.fileno()
        if expected_bytes < PIPELINE_MIN_BYTES:
            _copy(fin, fout, limit, step_counted, segment_bytes)
            _hash_range(fout, h, 0, last[0], buf)
            return last[0], h.hexdigest()
        done: queue.SimpleQueue[int | BaseException | None] = queue.SimpleQueue()

        def on_segment(off: int) -> None:
            step_counted(off)
            done.put(off)

        def pump() -> None:
            try:
                _copy(fin, fout, limit, on_segment, segment_bytes)
            except BaseException as e:  # noqa: BLE001 - handed to the hashing thread, which re-raises it
                done.put(e)
                return
            done.put(None)

        t = threading.Thread(target=pump, daemon=True)
        t.start()
        hashed = 0
        try:
            while (item := done.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                _hash_range(fout, h, hashed, item, buf)
                hashed = item
        finally:
            t.join()
    return hashed, h.hexdigest()
