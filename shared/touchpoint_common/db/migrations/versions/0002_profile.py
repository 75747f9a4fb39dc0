"""Profile projection (owned by touchpoint_profile).

profile_customers: one row per customer, its bounded fold state as JSONB.
profile_offsets: the next Kafka offset per (group, topic, partition), written in the same
transaction as the state it produced: the consumer resumes from here after a crash.

Revision ID: 0002_profile
Revises: 0001_identity
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_profile"
down_revision = "0001_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profile_customers",
        sa.Column("customer_id", sa.Text, primary_key=True),
        sa.Column("state", postgresql.JSONB, nullable=False),
        sa.Column("erased", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "profile_offsets",
        sa.Column("consumer_group", sa.Text, primary_key=True),
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("profile_offsets")
    op.drop_table("profile_customers")
