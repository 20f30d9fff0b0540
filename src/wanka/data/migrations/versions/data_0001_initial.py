"""The data registry: datasets, versions, manifests, lineage, replicas, transfers.

Revision ID: data_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "data_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_datasets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("tenant", sa.String(200), index=True),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "data_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "dataset_id", sa.Integer, sa.ForeignKey("data_datasets.id"), nullable=False, index=True
        ),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False, index=True),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("license", sa.String(200)),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("samples", sa.BigInteger),
        sa.Column("tokens", sa.BigInteger),
        sa.Column("tokens_estimated", sa.Boolean, nullable=False),
        sa.Column("tokenizer", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("dataset_id", "version"),
    )
    op.create_table(
        "data_manifest_files",
        sa.Column("version_id", sa.Integer, sa.ForeignKey("data_versions.id"), primary_key=True),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_table(
        "data_lineage",
        sa.Column("child_id", sa.Integer, sa.ForeignKey("data_versions.id"), primary_key=True),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("data_versions.id"), primary_key=True),
        sa.Column("command", sa.Text),
    )
    op.create_table(
        "data_replicas",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "version_id", sa.Integer, sa.ForeignKey("data_versions.id"), nullable=False, index=True
        ),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("endpoint", sa.String(500), nullable=False),
        sa.Column("verified_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("version_id", "location", "endpoint"),
    )
    op.create_table(
        "data_transfers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "version_id", sa.Integer, sa.ForeignKey("data_versions.id"), nullable=False, index=True
        ),
        sa.Column("tenant", sa.String(200), index=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("destination", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("files_copied", sa.Integer, nullable=False),
        sa.Column("files_skipped", sa.Integer, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
    )


def downgrade() -> None:
    for name in (
        "data_transfers",
        "data_replicas",
        "data_lineage",
        "data_manifest_files",
        "data_versions",
        "data_datasets",
    ):
        op.drop_table(name)
