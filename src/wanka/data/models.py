"""The registry's tables (SQLAlchemy 2). Every table is prefixed `data_`; the schema is migrated by
its own Alembic history (version table `alembic_version_data`), so it can share one database with the
platform service's tables without either history blocking the other."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Base",
    "Dataset",
    "DatasetVersion",
    "Lineage",
    "ManifestFile",
    "Replica",
    "Transfer",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Dataset(Base):
    __tablename__ = "data_datasets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    tenant: Mapped[str | None] = mapped_column(String(200), index=True)
    """Owner tenant; none for datasets registered outside the platform service."""
    visibility: Mapped[str] = mapped_column(String(16), default="private")
    """private (the owner only) | public (every tenant)."""
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    versions: Mapped[list[DatasetVersion]] = relationship(back_populates="dataset")


class DatasetVersion(Base):
    __tablename__ = "data_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("data_datasets.id"), index=True)
    version: Mapped[str] = mapped_column(String(100))
    manifest_sha256: Mapped[str] = mapped_column(String(64), index=True)
    files: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(32))
    license: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    """Where the files were registered from; the default source of a copy."""
    samples: Mapped[int | None] = mapped_column(BigInteger)
    tokens: Mapped[int | None] = mapped_column(BigInteger)
    tokens_estimated: Mapped[bool] = mapped_column(Boolean, default=True)
    tokenizer: Mapped[str | None] = mapped_column(Text)
    """The tokenizer file the tokens were counted with; none: a bytes-based estimate."""
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    dataset: Mapped[Dataset] = relationship(back_populates="versions")


class ManifestFile(Base):
    __tablename__ = "data_manifest_files"
    version_id: Mapped[int] = mapped_column(ForeignKey("data_versions.id"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))


class Lineage(Base):
    __tablename__ = "data_lineage"
    child_id: Mapped[int] = mapped_column(ForeignKey("data_versions.id"), primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("data_versions.id"), primary_key=True)
    command: Mapped[str | None] = mapped_column(Text)
    """The command that derived the child from the parent."""


class Replica(Base):
    """A verified copy of a version: recorded only after every file matched the manifest."""

    __tablename__ = "data_replicas"
    __table_args__ = (UniqueConstraint("version_id", "location", "endpoint"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("data_versions.id"), index=True)
    location: Mapped[str] = mapped_column(Text)
    endpoint: Mapped[str] = mapped_column(String(500), default="")
    verified_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Transfer(Base):
    __tablename__ = "data_transfers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("data_versions.id"), index=True)
    tenant: Mapped[str | None] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(Text)
    destination: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    """running | succeeded | failed | interrupted."""
    files_copied: Mapped[int] = mapped_column(Integer, default=0)
    files_skipped: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
