"""Where dataset files live: a local/POSIX directory or a prefix in an S3-compatible bucket.

Every store offers the same small surface to the mover: list what is there, read a file as chunks,
write a file atomically (`begin` -> `write`... -> `commit` or `abort`), and hash a file for
verification. A write is invisible under its final name until `commit`:
- local: the bytes go to `.<name>.wanka-partial` beside the final name, renamed into place on commit;
- S3: a multipart upload (or one PUT for a small file) completed only on commit; each part carries its
  `ChecksumSHA256`, so the server refuses bytes damaged on the way.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from wanka.data.manifest import CHUNK_BYTES, PARTIAL_SUFFIX, Entry, hash_file, walk_files
from wanka.errors import ConfigError, DataError

__all__ = ["LocalStore", "S3Store", "Store", "Writer", "open_store", "write_error"]

S3_PART_BYTES = 8 << 20  # multipart part size; files up to this size go up in one PUT


class Writer(Protocol):
    def write(self, chunk: memoryview | bytes) -> None: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...


class Store(Protocol):
    location: str

    def prepare(self) -> None: ...
    def remove_partials(self) -> None: ...
    def list(self) -> dict[str, int]: ...
    def matches(self, entry: Entry) -> bool: ...
    def chunks(self, rel: str) -> Iterator[memoryview | bytes]: ...
    def begin(self, rel: str) -> Writer: ...
    def hash(self, rel: str) -> tuple[int, str]: ...
    def delete(self, rel: str) -> None: ...


def write_error(e: OSError, where: str) -> DataError:
    if e.errno == errno.ENOSPC:
        return DataError(f"disk full writing {where}: free space and run the copy again")
    if e.errno == errno.EDQUOT:
        return DataError(f"disk quota exceeded writing {where}: free space and run the copy again")
    return DataError(f"cannot write {where}: {e.strerror or e}")


class _LocalWriter:
    def __init__(self, final: Path) -> None:
        self.final = final
        self.tmp = final.with_name(f".{final.name}{PARTIAL_SUFFIX}")
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            self.f = open(self.tmp, "w+b")  # noqa: SIM115 - closed in commit/abort
        except OSError as e:
            raise write_error(e, str(final)) from None

    def write(self, chunk: memoryview | bytes) -> None:
        try:
            self.f.write(chunk)
        except OSError as e:
            self.abort()
            raise write_error(e, str(self.final)) from None

    def commit(self) -> None:
        try:
            self.f.close()
            os.replace(self.tmp, self.final)
        except OSError as e:
            self.abort()
            raise write_error(e, str(self.final)) from None

    def abort(self) -> None:
        try:
            self.f.close()
        except OSError:
            pass
        self.tmp.unlink(missing_ok=True)


class LocalStore:
    """A directory on a local or POSIX parallel file system."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).absolute()
        self.location = str(self.root)

    def prepare(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".wanka-probe{PARTIAL_SUFFIX}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise DataError(
                f"cannot write to {self.root}: {e.strerror or e}; choose a writable destination"
            ) from None

    def remove_partials(self) -> None:
        for rel in walk_files(self.root):
            if rel.endswith(PARTIAL_SUFFIX):
                (self.root / rel).unlink(missing_ok=True)

    def list(self) -> dict[str, int]:
        if not self.root.is_dir():
            return {}
        return {rel: (self.root / rel).stat().st_size for rel in walk_files(self.root)}

    def matches(self, entry: Entry) -> bool:
        try:
            return hash_file(self.root / entry.path) == (entry.size_bytes, entry.sha256)
        except OSError:
            return False

    def chunks(self, rel: str) -> Iterator[memoryview | bytes]:
        buf = bytearray(CHUNK_BYTES)
        view = memoryview(buf)
        with open(self.root / rel, "rb", buffering=0) as f:
            while k := f.readinto(buf):
                yield view[:k]

    def begin(self, rel: str) -> _LocalWriter:
        return _LocalWriter(self.root / rel)

    def hash(self, rel: str) -> tuple[int, str]:
        return hash_file(self.root / rel)

    def delete(self, rel: str) -> None:
        (self.root / rel).unlink(missing_ok=True)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


class _S3Writer:
    """Buffers one part; small files go up in one PUT, larger ones as a multipart upload."""

    def __init__(self, store: S3Store, key: str) -> None:
        self.s3, self.bucket, self.key = store.client, store.bucket, key
        self.buf = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def _put_part(self) -> None:
        if self.upload_id is None:
            r = self.s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ChecksumAlgorithm="SHA256"
            )
            self.upload_id = r["UploadId"]
        body = bytes(self.buf)
        n = len(self.parts) + 1
        checksum = _b64(hashlib.sha256(body).digest())
        r = self.s3.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=n,
            Body=body,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum,
        )
        self.parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumSHA256": checksum})
        self.buf.clear()

    def write(self, chunk: memoryview | bytes) -> None:
        self.buf += chunk
        if len(self.buf) >= S3_PART_BYTES:
            self._put_part()

    def commit(self) -> None:
        if self.upload_id is None:
            body = bytes(self.buf)
            self.s3.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=body,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_b64(hashlib.sha256(body).digest()),
            )
            return
        if self.buf:
            self._put_part()
        self.s3.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},
        )

    def abort(self) -> None:
        if self.upload_id is not None:
            self.s3.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
            )
            self.upload_id = None
        self.buf.clear()


class S3Store:
    """A prefix in a bucket of an S3-compatible object store (`s3://bucket/prefix`)."""

    def __init__(self, url: str, endpoint_url: str | None = None) -> None:
        rest = url[len("s3://") :]
        self.bucket, _, prefix = rest.partition("/")
        if not self.bucket:
            raise ConfigError(f"cannot read {url!r}: write s3://BUCKET/PREFIX")
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        self.location = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.client = _s3_client(self.endpoint_url)

    def _key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def _call(self, what: str, fn: Any, **kw: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kw)
        except ClientError as e:
            err = e.response.get("Error", {})
            raise DataError(
                f"{what} {self.location}: {err.get('Code', '')} {err.get('Message', '')}".strip()
            ) from None
        except BotoCoreError as e:
            raise DataError(f"{what} {self.location}: {e}") from None

    def prepare(self) -> None:
        self._call("cannot reach bucket of", self.client.head_bucket, Bucket=self.bucket)

    def remove_partials(self) -> None:
        kw: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self._key("")}
        r = self._call("cannot list uploads in", self.client.list_multipart_uploads, **kw)
        for u in r.get("Uploads", []):
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=u["Key"], UploadId=u["UploadId"]
            )

    def list(self) -> dict[str, int]:
        out: dict[str, int] = {}
        start = self._key("")
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start
        )
        try:
            for page in pages:
                for obj in page.get("Contents", []):
                    out[obj["Key"][len(start) :]] = int(obj["Size"])
        except Exception as e:  # noqa: BLE001 - botocore errors: one line for the user
            raise DataError(f"cannot list {self.location}: {e}") from None
        return out

    def matches(self, entry: Entry) -> bool:
        """True when the object holds the entry's bytes: by the object's full sha256 checksum when
        it was put in one piece with one (validated by S3 on upload; our uploader also reads every
        object back), else by downloading and hashing it."""
        try:
            head = self.client.head_object(
                Bucket=self.bucket, Key=self._key(entry.path), ChecksumMode="ENABLED"
            )
        except Exception:  # noqa: BLE001 - absent or unreadable: copy it again
            return False
        if int(head["ContentLength"]) != entry.size_bytes:
            return False
        server = head.get("ChecksumSHA256")
        if server and "-" not in head.get("ETag", "-"):  # no "-N" ETag suffix: one piece
            return server == _b64(bytes.fromhex(entry.sha256))
        return self.hash(entry.path) == (entry.size_bytes, entry.sha256)

    def delete(self, rel: str) -> None:
        self._call(
            "cannot delete from", self.client.delete_object, Bucket=self.bucket, Key=self._key(rel)
        )

    def chunks(self, rel: str) -> Iterator[memoryview | bytes]:
        r = self._call(
            "cannot read", self.client.get_object, Bucket=self.bucket, Key=self._key(rel)
        )
        body = r["Body"]
        while chunk := body.read(CHUNK_BYTES):
            yield chunk

    def begin(self, rel: str) -> Writer:
        return _S3Writer(self, self._key(rel))

    def hash(self, rel: str) -> tuple[int, str]:
        h, n = hashlib.sha256(), 0
        for chunk in self.chunks(rel):
            h.update(chunk)
            n += len(chunk)
        return n, h.hexdigest()


def _s3_client(endpoint_url: str | None) -> Any:
    import boto3
    from botocore.config import Config

    cfg = Config(
        max_pool_connections=32,
        retries={"max_attempts": 3, "mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client("s3", endpoint_url=endpoint_url, config=cfg)


def open_store(location: str, *, endpoint_url: str | None = None) -> Store:
    """A store from a location string: `s3://bucket/prefix`, `rclone:REMOTE:PATH` or a local path."""
    if location.startswith("s3://"):
        return S3Store(location, endpoint_url)
    if location.startswith("rclone:"):
        from wanka.data.rclone import RcloneStore

        return RcloneStore(location)
    if "://" in location:
        raise ConfigError(
            f"cannot read location {location!r}: give a local path, s3://BUCKET/PREFIX "
            "or rclone:REMOTE:PATH"
        )
    return LocalStore(location)
