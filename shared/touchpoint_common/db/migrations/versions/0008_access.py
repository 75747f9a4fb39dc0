"""API keys (hashed, scoped) and the audit log of customer reads.

Revision ID: 0008_access
Revises: 0007_key_ids
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_access"
down_revision = "0007_key_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create api_keys and audit_log."""
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("secret_sha256", sa.Text, nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("store_ids", postgresql.ARRAY(sa.Text), nullable=True),
        sa.Column("event_types", postgresql.ARRAY(sa.Text), nullable=True),
        sa.Column("rate_per_second", sa.BigInteger, nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "audit_log",
        sa.Column("audit_id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("customer_id", sa.Text, nullable=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("fields", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("audit_log_customer", "audit_log", ["customer_id", "audit_id"])
    op.create_index("audit_log_key", "audit_log", ["key_id", "audit_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_table("audit_log")
    op.drop_table("api_keys")
