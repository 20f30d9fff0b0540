"""Dataset staging for jobs: is a verified replica of each dataset a job names at its storage
location, and if not, copy it there in the background.

`Stager(db_url).check(tenant, refs, storage)` answers (ready, reason) at once; it never blocks on a
copy. A job is ready when every `name@version` it names has a verified replica at `STORAGE/NAME/VERSION`
(or, with no storage, when each version merely exists). A missing replica starts one background copy per
(version, storage) through `ops.copy_version`, which records the replica only after every file
verified; the next check then answers ready. A tenant may stage only its own and public datasets.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from wanka.data.names import parse_ref
from wanka.data.ops import copy_version, store_endpoint
from wanka.data.registry import Registry
from wanka.data.stores import open_store
from wanka.errors import WankaError
from wanka.userfile import check_id

__all__ = ["RETRY_AFTER_S", "Stager", "staged_location"]

RETRY_AFTER_S = 30.0  # a failed copy is tried again after this long


def staged_location(storage: str, ref: str) -> str:
    """Where a job's `storage` holds `name@version`: STORAGE/NAME/VERSION."""
    name, version = parse_ref(ref)
    return f"{storage.rstrip('/')}/{name}/{version}"


@dataclass(slots=True)
class _Copy:
    thread: threading.Thread
    error: str | None = None
    failed_at: float = 0.0
    done: bool = False


@dataclass(slots=True)
class Stager:
    """Checks and starts dataset copies against one registry database."""

    db_url: str
    workers: int = 4
    _copies: dict[tuple[str, str], _Copy] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _reg: Registry | None = None

    @property
    def registry(self) -> Registry:
        if self._reg is None:
            self._reg = Registry(self.db_url)
        return self._reg

    def _visible(self, tenant: str | None, ref: str) -> str | None:
        """None when `tenant` may use `ref`, else why not (naming only datasets it may see)."""
        refs = [r.ref for r in self.registry.versions(tenant=tenant)]
        try:
            parse_ref(ref)
            check_id("dataset", ref, refs, see="wanka data list")
        except WankaError as e:
            return str(e)
        return None

    def check(
        self, tenant: str | None, refs: tuple[str, ...], storage: str | None
    ) -> tuple[bool, str]:
        """(ready, reason) for a job of `tenant` needing `refs` under `storage`."""
        waiting = []
        for ref in refs:
            why = self._visible(tenant, ref)
            if why is not None:
                return False, why
            if storage is None:
                continue
            dest = staged_location(storage, ref)
            if not self._has_replica(ref, dest):
                waiting.append(self._ensure_copy(ref, dest, tenant))
        if waiting:
            return False, "; ".join(waiting)
        return True, "verified replicas in place" if storage else "datasets registered"

    def _has_replica(self, ref: str, dest: str) -> bool:
        store = open_store(dest)
        return self.registry.has_replica(ref, store.location, store_endpoint(store))

    def _ensure_copy(self, ref: str, storage: str, tenant: str | None) -> str:
        key = (ref, storage)
        with self._lock:
            c = self._copies.get(key)
            if c is not None and c.thread.is_alive():
                return f"copying {ref} to {storage}"
            if c is not None and c.error and time.monotonic() - c.failed_at < RETRY_AFTER_S:
                return f"copy of {ref} to {storage} failed ({c.error}); retrying soon"
            c = _Copy(thread=threading.Thread(target=self._run, args=(key, tenant), daemon=True))
            self._copies[key] = c
            c.thread.start()
        return f"copying {ref} to {storage}"

    def _run(self, key: tuple[str, str], tenant: str | None) -> None:
        ref, storage = key
        c = self._copies[key]
        try:
            copy_version(self.registry, ref, storage, workers=self.workers, tenant=tenant)
        except Exception as e:  # noqa: BLE001 - shown on the job; the copy is retried later
            c.error, c.failed_at = str(e).splitlines()[0][:300], time.monotonic()
        c.done = True

    def wait(self, timeout_s: float = 60.0) -> None:
        """Wait for the background copies started so far (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        for c in list(self._copies.values()):
            c.thread.join(max(0.0, deadline - time.monotonic()))
