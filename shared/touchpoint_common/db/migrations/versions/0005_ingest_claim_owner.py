"""Ingest claims name their owner and carry the merges made under them.

ingest_event_ids.owner: the instance id of the ingest process that holds the claim (it holds
an advisory lock on that id while it lives; a free lock means the owner died).
ingest_event_ids.merged_customer_ids: customers an identify merged while claimed, so a retry
after a failed produce still announces them.
status 'released': a claim given back after a failed produce that must keep its merges.

Revision ID: 0005_ingest_claim_owner
Revises: 0004_consumer_offsets
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_ingest_claim_owner"
down_revision = "0004_consumer_offsets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the owner and merged customer ids to the claims."""
    op.add_column("ingest_event_ids", sa.Column("owner", sa.Integer, nullable=True))
    op.add_column(
        "ingest_event_ids",
        sa.Column("merged_customer_ids", postgresql.ARRAY(sa.Text), nullable=True),
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_column("ingest_event_ids", "merged_customer_ids")
    op.drop_column("ingest_event_ids", "owner")
