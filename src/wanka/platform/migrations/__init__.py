"""Alembic migration scripts of the platform store (version table `alembic_version_platform`)."""
