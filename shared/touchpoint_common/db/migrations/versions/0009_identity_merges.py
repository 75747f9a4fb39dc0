"""Merges are recorded so that they can be undone (`unmerge`).

customer_merges: one row per loser of a merge: survivor, loser, the event that merged them and
when, the identifier keys ("kind:digest") the loser owned then, and the customers that had been
merged into the loser before (their merged_into was repointed to the survivor). An unmerge
stamps unmerged_at and its event id.
recommend_decisions.merged_from, recommend_contacts.merged_from: the customer a row belonged
to before a merge moved it, so the learner can move it back on unmerge.

Revision ID: 0009_identity_merges
Revises: 0008_access
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009_identity_merges"
down_revision = "0008_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create customer_merges."""
    op.create_table(
        "customer_merges",
        sa.Column("merge_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("survivor_id", sa.Text, nullable=False),
        sa.Column("loser_id", sa.Text, nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column(
            "merged_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("identifier_keys", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("followers", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("unmerged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unmerge_event_id", postgresql.UUID(as_uuid=True), nullable=True),
    )
    op.create_index("customer_merges_loser", "customer_merges", ["loser_id", "merged_at"])
    for table in ("recommend_decisions", "recommend_contacts"):
        op.add_column(table, sa.Column("merged_from", sa.Text, nullable=True))


def downgrade() -> None:
    """Drop customer_merges and recommend's merged_from."""
    for table in ("recommend_contacts", "recommend_decisions"):
        op.drop_column(table, "merged_from")
    op.drop_index("customer_merges_loser", table_name="customer_merges")
    op.drop_table("customer_merges")
