"""The data operations behind `wanka data` and the platform's dataset staging: each one reads or
writes the registry and, for copies, records a replica only after every file verified."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from wanka.data.manifest import build_manifest, detect_format
from wanka.data.mover import CopyResult, VerifyResult, copy_manifest, verify_store
from wanka.data.stats import count_version
from wanka.data.stores import Store, open_store
from wanka.errors import WankaError
from wanka.userfile import check_readable

if TYPE_CHECKING:  # the registry (SQLAlchemy) is imported only by who opens one
    from wanka.data.fastpath import CopyRegistry
    from wanka.data.registry import Registry, VersionRecord

__all__ = ["copy_version", "register_path", "store_endpoint", "verify_version"]

Progress = Callable[[int, int], None]


def store_endpoint(store: Store) -> str:
    """The endpoint a store's location is relative to ('' for local paths)."""
    return getattr(store, "endpoint_url", None) or ""


def register_path(
    reg: Registry,
    path: str | Path,
    *,
    name: str,
    version: str,
    license: str | None = None,
    tokenizer: Path | None = None,
    text_field: str = "text",
    parents: tuple[str, ...] = (),
    command: str | None = None,
    tenant: str | None = None,
    public: bool = False,
    workers: int = 4,
    progress: Callable[[int], None] | None = None,
) -> VersionRecord:
    """Hash the files under `path`, count samples and tokens, and record the version."""
    path = Path(path).absolute()
    if tokenizer is not None:
        check_readable(tokenizer, what="tokenizer (a Hugging Face tokenizer.json)")
    for p in parents:  # fail on an unknown parent before the long hashing pass
        reg.get(p)
    manifest = build_manifest(path, workers=workers, progress=progress)
    counts = count_version(path, manifest, tokenizer=tokenizer, field=text_field)
    return reg.register(
        manifest,
        name=name,
        version=version,
        source=str(path if path.is_dir() else path.parent),
        fmt=detect_format(manifest),
        license=license,
        samples=counts.samples,
        tokens=counts.tokens,
        tokens_estimated=counts.tokens_estimated,
        tokenizer=str(Path(tokenizer).absolute()) if tokenizer else None,
        tenant=tenant,
        visibility="public" if public else "private",
        parents=parents,
        command=command,
    )


def copy_version(
    reg: Registry | CopyRegistry,
    ref: str,
    dest: str,
    *,
    source: str | None = None,
    endpoint_url: str | None = None,
    workers: int = 4,
    bwlimit: float | None = None,
    tenant: str | None = None,
    progress: Progress | None = None,
) -> CopyResult:
    """Copy a version to `dest`, verify it, and record the replica; the transfer is logged."""
    rec = reg.get(ref)
    manifest = reg.manifest(ref)
    src = open_store(source or rec.source, endpoint_url=endpoint_url)
    dst = open_store(dest, endpoint_url=endpoint_url)
    tid = reg.start_transfer(ref, src.location, dst.location, tenant)
    try:
        res = copy_manifest(manifest, src, dst, workers=workers, bwlimit=bwlimit, progress=progress)
    except WankaError as e:
        reg.finish_transfer(tid, state="failed", error=str(e))
        raise
    except KeyboardInterrupt:
        reg.finish_transfer(tid, state="interrupted", error="interrupted")
        raise
    reg.record_replica(ref, dst.location, store_endpoint(dst))
    reg.finish_transfer(
        tid,
        state="succeeded",
        files_copied=res.files_copied,
        files_skipped=res.files_skipped,
        bytes=res.bytes,
    )
    return res


def verify_version(
    reg: Registry,
    ref: str,
    location: str,
    *,
    endpoint_url: str | None = None,
    workers: int = 4,
    progress: Progress | None = None,
) -> VerifyResult:
    """Compare `location` with the version's manifest; a location that matches is recorded as a
    replica, one that does not is dropped from the replicas."""
    manifest = reg.manifest(ref)
    store = open_store(location, endpoint_url=endpoint_url)
    res = verify_store(manifest, store, workers=workers, progress=progress)
    if res.ok:
        reg.record_replica(ref, store.location, store_endpoint(store))
    else:
        reg.drop_replica(ref, store.location, store_endpoint(store))
    return res
