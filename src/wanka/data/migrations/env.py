"""Alembic environment of the data registry: its own history, version table `alembic_version_data`."""

from __future__ import annotations

from alembic import context

from wanka.data.models import Base

VERSION_TABLE = "alembic_version_data"

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,  # SQLite alters tables by copy
)
with context.begin_transaction():
    context.run_migrations()
