"""Alembic environment: run the platform's migrations on the connection the caller hands over.

The platform keeps its own history in `alembic_version_platform` so that other packages can keep a
separate migration history in the same database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from wanka.errors import ConfigError
from wanka.platform.models import Base

VERSION_TABLE = "alembic_version_platform"


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise ConfigError("no database URL: set sqlalchemy.url or pass a connection")
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
