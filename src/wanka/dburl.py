"""Database URLs as SQLAlchemy wants them, for every package that opens a database.

A user writes `postgresql://...` (the form `psql`, libpq and most tools take); SQLAlchemy reads that
as "use psycopg2", which wanka does not depend on. psycopg 3 is the driver wanka depends on, so the
URL is mapped to `postgresql+psycopg://...`. Other URLs (SQLite, an explicit driver) pass unchanged.

Layer: imports nothing of wanka, so the platform store and the data registry both use it.
"""

from __future__ import annotations

__all__ = ["engine_url"]

_POSTGRES = "postgresql://"
_PSYCOPG = "postgresql+psycopg://"


def engine_url(url: str) -> str:
    """`url` with a bare `postgresql://` scheme mapped to the psycopg 3 driver."""
    if url.startswith(_POSTGRES):
        return _PSYCOPG + url[len(_POSTGRES) :]
    return url
