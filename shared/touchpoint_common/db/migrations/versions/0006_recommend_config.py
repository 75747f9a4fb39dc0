"""Recommend config versions in PostgreSQL, so every replica serves the same config.

recommend_config_versions: each accepted config (PUT through admin) as a new version with its
author (the API key id, else a header or 'unknown') and time; the newest is in force. The
packaged default.yaml seeds version 1 when the table is empty (done by the service at start).

Revision ID: 0006_recommend_config
Revises: 0005_ingest_claim_owner
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_recommend_config"
down_revision = "0005_ingest_claim_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the versions table."""
    op.create_table(
        "recommend_config_versions",
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("body", postgresql.JSONB, nullable=False),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("recommend_config_versions")
