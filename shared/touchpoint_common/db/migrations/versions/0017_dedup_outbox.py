"""The fold's dedup sets apart from the state the view reads; the decisions' outbox.

profile_customers.dedup: the packed dedup sets of the state (touchpoint_profile.fold.dedup),
written with the state by the fold and read only by the fold (NULL: a row written before this
column, whose state still holds them).

kafka_outbox: records owed to Kafka, written in the transaction of what they report (the
recommend decision and its offer_presented event), sent in id order by the relay
(touchpoint_common.kafka.outbox) and marked sent; sent rows are pruned after a day.

Revision ID: 0017_dedup_outbox
Revises: 0016_traces
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_dedup_outbox"
down_revision = "0016_traces"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add profile_customers.dedup and create kafka_outbox."""
    op.add_column("profile_customers", sa.Column("dedup", sa.Text, nullable=True))
    op.create_table(
        "kafka_outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("record_key", sa.LargeBinary, nullable=True),
        sa.Column("record_value", sa.LargeBinary, nullable=True),
        sa.Column("header_names", sa.Text, nullable=False),
        sa.Column("header_values", sa.Text, nullable=False),
        sa.Column("dedup_key", sa.Text, nullable=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False, server_default="default"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "kafka_outbox_owed",
        "kafka_outbox",
        ["scope", "id"],
        postgresql_where=sa.text("sent_at IS NULL"),
    )


def downgrade() -> None:
    """Drop kafka_outbox and profile_customers.dedup."""
    op.drop_table("kafka_outbox")
    op.drop_column("profile_customers", "dedup")
