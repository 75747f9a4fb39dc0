"""Identity: customers, their keyed identifiers, per-customer data keys, merges.

Also ingest_event_ids: the event ids ingest accepted recently (its idempotency window).

Revision ID: 0001_identity
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_identity"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.Text, primary_key=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merged_into", sa.Text, nullable=True),
    )
    op.create_table(
        "customer_identifiers",
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("digest", sa.Text, primary_key=True),
        sa.Column(
            "customer_id",
            sa.Text,
            sa.ForeignKey("customers.customer_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("sealed", sa.Text, nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_customer_identifiers_customer", "customer_identifiers", ["customer_id"])
    op.create_table(
        "customer_keys",
        sa.Column(
            "customer_id",
            sa.Text,
            sa.ForeignKey("customers.customer_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("wrapped_key", postgresql.BYTEA, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "ingest_event_ids",
        sa.Column("event_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("customer_id", sa.Text, nullable=True),
        sa.Column(
            "claimed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_ingest_event_ids_claimed_at", "ingest_event_ids", ["claimed_at"])


def downgrade() -> None:
    op.drop_index("ix_ingest_event_ids_claimed_at")
    op.drop_table("ingest_event_ids")
    op.drop_table("customer_keys")
    op.drop_index("ix_customer_identifiers_customer")
    op.drop_table("customer_identifiers")
    op.drop_table("customers")
