"""The training-data registry: datasets, immutable versions, manifests, lineage, replicas, transfers.

One database (SQLite by default, PostgreSQL by URL) shared with the platform service. The schema is
brought to the head of the data history (`alembic_version_data`) when a registry is opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Table, create_engine, delete, event, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from wanka.data.manifest import Entry, Manifest
from wanka.data.models import (
    Dataset,
    DatasetVersion,
    Lineage,
    ManifestFile,
    Replica,
    Transfer,
    utcnow,
)
from wanka.data.names import HEAD_REVISION, VERSION_TABLE, default_db_url, parse_ref
from wanka.dburl import engine_url
from wanka.errors import ConfigError, DataError
from wanka.userfile import check_id

__all__ = ["HEAD_REVISION", "Registry", "VersionRecord", "default_db_url", "parse_ref"]


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionRecord:
    """The registry's facts about one dataset version (`to_dict` is `show --json`)."""

    name: str
    version: str
    manifest_sha256: str
    files: int
    bytes: int
    format: str
    license: str | None
    source: str
    samples: int | None
    tokens: int | None
    tokens_estimated: bool
    tokenizer: str | None
    tenant: str | None
    visibility: str
    created_at: str
    replicas: tuple[dict[str, str], ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__slots__}
        d["replicas"] = list(self.replicas)
        return d


def _record(v: DatasetVersion, replicas: list[Replica] | None = None) -> VersionRecord:
    ds = v.dataset
    return VersionRecord(
        name=ds.name,
        version=v.version,
        manifest_sha256=v.manifest_sha256,
        files=v.files,
        bytes=v.bytes,
        format=v.format,
        license=v.license,
        source=v.source,
        samples=v.samples,
        tokens=v.tokens,
        tokens_estimated=v.tokens_estimated,
        tokenizer=v.tokenizer,
        tenant=ds.tenant,
        visibility=ds.visibility,
        created_at=v.created_at.isoformat(timespec="seconds") + "Z",
        replicas=tuple(
            {
                "location": r.location,
                "endpoint": r.endpoint,
                "verified_at": r.verified_at.isoformat(timespec="seconds") + "Z",
            }
            for r in replicas or []
        ),
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _migrate(engine: Engine) -> None:
    """Bring the schema to HEAD_REVISION with the data history's Alembic scripts."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        with engine.connect() as c:
            if (
                c.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
                == HEAD_REVISION
            ):
                return
    except DBAPIError:
        pass  # no version table yet: a new database
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Registry:
    """Read and write the registry; every method is one transaction."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_db_url()
        try:
            self.engine = create_engine(engine_url(self.url), pool_pre_ping=True)
        except Exception as e:  # noqa: BLE001 - a malformed URL or a missing driver
            raise ConfigError(f"cannot open database {self.url!r}: {e}") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            _migrate(self.engine)
        except OperationalError as e:
            raise ConfigError(f"cannot open database {self.url!r}: {e.orig}") from None

    # -- lookups ---------------------------------------------------------------------------------

    def _dataset(self, s: Session, name: str) -> Dataset:
        ds = s.scalar(select(Dataset).where(Dataset.name == name))
        if ds is None:
            names = list(s.scalars(select(Dataset.name)))
            if not names:
                raise ConfigError(f"unknown dataset {name!r}: the registry holds none yet")
            check_id("dataset", name, names, see="wanka data list")
        assert ds is not None
        return ds

    def _version(self, s: Session, ref: str) -> DatasetVersion:
        name, version = parse_ref(ref)
        ds = self._dataset(s, name)
        versions = {v.version: v for v in ds.versions}
        if version is None:
            raise ConfigError(f"say which version of {name}: {', '.join(sorted(versions))}")
        check_id(f"version of {name}:", version, versions, see=f"wanka data show {name}")
        return versions[version]

    def get(self, ref: str) -> VersionRecord:
        with Session(self.engine) as s:
            v = self._version(s, ref)
            reps = list(s.scalars(select(Replica).where(Replica.version_id == v.id)))
            return _record(v, reps)

    def manifest(self, ref: str) -> Manifest:
        with Session(self.engine) as s:
            v = self._version(s, ref)
            rows = s.execute(
                select(ManifestFile.path, ManifestFile.size_bytes, ManifestFile.sha256).where(
                    ManifestFile.version_id == v.id
                )
            )
            return Manifest.of(Entry(path=p, size_bytes=n, sha256=h) for p, n, h in rows)

    def versions(
        self, name: str | None = None, *, tenant: str | None = None
    ) -> list[VersionRecord]:
        """Every version (of one dataset), oldest first; with `tenant`, only what it may see."""
        with Session(self.engine) as s:
            q = select(DatasetVersion).join(Dataset).order_by(Dataset.name, DatasetVersion.id)
            if name is not None:
                q = q.where(Dataset.id == self._dataset(s, name).id)
            if tenant is not None:
                q = q.where((Dataset.tenant == tenant) | (Dataset.visibility == "public"))
            return [_record(v) for v in s.scalars(q)]

    # -- writes ----------------------------------------------------------------------------------

    def register(
        self,
        manifest: Manifest,
        *,
        name: str,
        version: str,
        source: str,
        fmt: str,
        license: str | None = None,
        samples: int | None = None,
        tokens: int | None = None,
        tokens_estimated: bool = True,
        tokenizer: str | None = None,
        tenant: str | None = None,
        visibility: str = "private",
        parents: tuple[str, ...] = (),
        command: str | None = None,
    ) -> VersionRecord:
        """Record a new immutable version. The same name@version with the same content is a no-op;
        with other content it is an error (versions never change)."""
        if not name or "@" in name or not version or "@" in version:
            raise ConfigError(f"cannot register {name}@{version}: names and versions have no '@'")
        try:
            return self._register(
                manifest,
                name=name,
                version=version,
                source=source,
                fmt=fmt,
                license=license,
                samples=samples,
                tokens=tokens,
                tokens_estimated=tokens_estimated,
                tokenizer=tokenizer,
                tenant=tenant,
                visibility=visibility,
                parents=parents,
                command=command,
            )
        except IntegrityError:
            raise DataError(
                f"{name}@{version} was registered by another process at the same time: "
                "run `wanka data show` to see it"
            ) from None

    def _register(
        self,
        manifest: Manifest,
        *,
        name: str,
        version: str,
        source: str,
        fmt: str,
        license: str | None,
        samples: int | None,
        tokens: int | None,
        tokens_estimated: bool,
        tokenizer: str | None,
        tenant: str | None,
        visibility: str,
        parents: tuple[str, ...],
        command: str | None,
    ) -> VersionRecord:
        with Session(self.engine) as s, s.begin():
            ds = s.scalar(select(Dataset).where(Dataset.name == name))
            if ds is None:
                ds = Dataset(name=name, tenant=tenant, visibility=visibility)
                s.add(ds)
                s.flush()
            old = next((v for v in ds.versions if v.version == version), None)
            if old is not None:
                if old.manifest_sha256 != manifest.sha256:
                    raise DataError(
                        f"{name}@{version} is already registered with other content "
                        f"(manifest {old.manifest_sha256[:12]}); register it as a new version"
                    )
                return _record(old)
            parent_rows = [self._version(s, p) for p in parents]
            v = DatasetVersion(
                dataset=ds,
                version=version,
                manifest_sha256=manifest.sha256,
                files=manifest.files,
                bytes=manifest.size_bytes,
                format=fmt,
                license=license,
                source=source,
                samples=samples,
                tokens=tokens,
                tokens_estimated=tokens_estimated,
                tokenizer=tokenizer,
            )
            s.add(v)
            s.flush()
            s.execute(
                cast(Table, ManifestFile.__table__).insert(),
                [
                    {
                        "version_id": v.id,
                        "path": e.path,
                        "size_bytes": e.size_bytes,
                        "sha256": e.sha256,
                    }
                    for e in manifest.entries
                ],
            )
            for p in parent_rows:
                s.add(Lineage(child_id=v.id, parent_id=p.id, command=command))
            s.flush()
            return _record(v)

    def record_replica(self, ref: str, location: str, endpoint: str = "") -> None:
        """Record (or refresh) a verified replica. Call only after every file verified."""
        with Session(self.engine) as s, s.begin():
            v = self._version(s, ref)
            q = select(Replica).where(
                Replica.version_id == v.id,
                Replica.location == location,
                Replica.endpoint == endpoint,
            )
            rep = s.scalar(q)
            if rep is None:
                s.add(Replica(version_id=v.id, location=location, endpoint=endpoint))
            else:
                rep.verified_at = utcnow()

    def drop_replica(self, ref: str, location: str, endpoint: str = "") -> bool:
        """Forget a replica that no longer verifies; True when there was one."""
        with Session(self.engine) as s, s.begin():
            v = self._version(s, ref)
            r = s.execute(
                delete(Replica).where(
                    Replica.version_id == v.id,
                    Replica.location == location,
                    Replica.endpoint == endpoint,
                )
            )
            return bool(cast(CursorResult[Any], r).rowcount)

    def has_replica(self, ref: str, location: str, endpoint: str = "") -> bool:
        return any(
            r["location"] == location and r["endpoint"] == endpoint for r in self.get(ref).replicas
        )

    def lineage(self, ref: str) -> dict[str, Any]:
        """Parents (recursively) and children of a version, with the commands that derived them."""
        with Session(self.engine) as s:
            v = self._version(s, ref)

            def name(vid: int) -> str:
                row = s.get(DatasetVersion, vid)
                assert row is not None
                return f"{row.dataset.name}@{row.version}"

            def up(vid: int, seen: set[int]) -> list[dict[str, Any]]:
                out = []
                for link in s.scalars(select(Lineage).where(Lineage.child_id == vid)):
                    if link.parent_id in seen:
                        continue
                    seen.add(link.parent_id)
                    out.append(
                        {
                            "ref": name(link.parent_id),
                            "command": link.command,
                            "parents": up(link.parent_id, seen),
                        }
                    )
                return out

            children = [
                {"ref": name(link.child_id), "command": link.command}
                for link in s.scalars(select(Lineage).where(Lineage.parent_id == v.id))
            ]
            return {"ref": name(v.id), "parents": up(v.id, {v.id}), "children": children}

    # -- transfers -------------------------------------------------------------------------------

    def start_transfer(self, ref: str, source: str, destination: str, tenant: str | None) -> int:
        with Session(self.engine) as s, s.begin():
            v = self._version(s, ref)
            for t in s.scalars(
                select(Transfer).where(
                    Transfer.version_id == v.id,
                    Transfer.destination == destination,
                    Transfer.state == "running",
                )
            ):
                t.state, t.finished_at = "interrupted", utcnow()  # a copy killed before it ended
            t = Transfer(
                version_id=v.id,
                tenant=tenant,
                source=source,
                destination=destination,
                state="running",
            )
            s.add(t)
            s.flush()
            return t.id

    def finish_transfer(
        self, tid: int, *, state: str, error: str | None = None, **counts: int
    ) -> None:
        with Session(self.engine) as s, s.begin():
            t = s.get(Transfer, tid)
            if t is None:
                raise DataError(f"no transfer {tid}")
            t.state, t.error, t.finished_at = state, error, utcnow()
            for k, n in counts.items():
                setattr(t, k, n)

    def transfers(self, *, tenant: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with Session(self.engine) as s:
            q = select(Transfer).order_by(Transfer.id.desc()).limit(limit)
            if tenant is not None:
                q = q.where(Transfer.tenant == tenant)
            out = []
            for t in s.scalars(q):
                v = s.get(DatasetVersion, t.version_id)
                assert v is not None
                out.append(
                    {
                        "id": t.id,
                        "dataset": f"{v.dataset.name}@{v.version}",
                        "source": t.source,
                        "destination": t.destination,
                        "state": t.state,
                        "files_copied": t.files_copied,
                        "files_skipped": t.files_skipped,
                        "bytes": t.bytes,
                        "error": t.error,
                        "started_at": t.started_at.isoformat(timespec="seconds") + "Z",
                    }
                )
            return out
