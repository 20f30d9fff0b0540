"""The platform store: one SQLAlchemy engine, migrations, and read/write transactions.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and every write transaction
starts with `BEGIN IMMEDIATE` so two writers queue instead of failing on a lock upgrade.
PostgreSQL serialises admitters with a row lock on the pool (`UPDATE pools SET lock_seq = ...`).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from wanka.dburl import engine_url
from wanka.errors import ConfigError
from wanka.platform.auth import new_token
from wanka.platform.models import Token

__all__ = ["Store", "default_url", "init_store", "new_id", "now"]

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version_platform"


def now() -> float:
    return time.time()


def new_id() -> str:
    return uuid.uuid4().hex


def default_url() -> str:
    """`$WANKA_PLATFORM_DB`, else a SQLite file under ~/.wanka."""
    env = os.environ.get("WANKA_PLATFORM_DB")
    if env:
        return env
    path = Path.home() / ".wanka" / "platform.db"
    return f"sqlite:///{path}"


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get their folder created and the pragmas above."""
    url = engine_url(url)
    try:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[1] if "///" in url else ""
            if path and path != ":memory:":
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, pool_size=16, max_overflow=48, pool_timeout=60)
            _sqlite_setup(engine)
            return engine
        return create_engine(
            url, pool_size=16, max_overflow=32, pool_timeout=60, pool_pre_ping=True
        )
    except (ArgumentError, ModuleNotFoundError) as e:
        raise ConfigError(f"cannot use database URL {url!r}: {e}") from None


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest platform migration (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Store:
    """Engine + session factory with read and write transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as s:
            yield s

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success; on SQLite it holds the write lock from BEGIN."""
        with self._sessions() as s:
            s.connection(execution_options={"write": True})
            yield s
            s.commit()

    def check(self) -> None:
        """Raise ConfigError when the database is unreachable or not initialised."""
        try:
            tables = inspect(self.engine).get_table_names()
        except OperationalError as e:
            raise ConfigError(f"cannot open the platform database: {e.orig}") from None
        if VERSION_TABLE not in tables:
            raise ConfigError(
                "the platform database is not initialised; run `wanka platform init --db URL`"
            )

    def dispose(self) -> None:
        self.engine.dispose()


def init_store(url: str) -> str | None:
    """Create or upgrade the schema; return a new admin token the first time, else None."""
    store = Store(url)
    try:
        try:
            migrate(store.engine)
        except OperationalError as e:
            raise ConfigError(f"cannot initialise the platform database: {e.orig}") from None
        with store.write() as s:
            if s.scalar(select(Token.id).where(Token.role == "admin").limit(1)):
                return None
            plain, row = new_token(role="admin", tenant_id=None, at=now(), token_id=new_id())
            s.add(row)
        return plain
    finally:
        store.dispose()
