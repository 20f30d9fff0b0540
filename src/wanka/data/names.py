"""Names the registry and its light readers share, importable without SQLAlchemy."""

from __future__ import annotations

import os

from wanka.errors import ConfigError

__all__ = ["HEAD_REVISION", "VERSION_TABLE", "default_db_url", "parse_ref"]

HEAD_REVISION = "data_0001"  # the newest file under migrations/versions (a test keeps them equal)
VERSION_TABLE = "alembic_version_data"  # the data history's own Alembic version table


def default_db_url() -> str:
    """`$WANKA_DB`, else `wanka.db` in the working directory (the platform service's default)."""
    return os.environ.get("WANKA_DB") or "sqlite:///wanka.db"


def parse_ref(ref: str) -> tuple[str, str | None]:
    """`name@version` -> (name, version); a bare name -> (name, None)."""
    name, sep, version = ref.partition("@")
    if not name or (sep and not version):
        raise ConfigError(f"cannot read dataset {ref!r}: write NAME@VERSION")
    return name, version or None
