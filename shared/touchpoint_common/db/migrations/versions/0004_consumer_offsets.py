"""One offsets table for every tracked consumer (profile fold, recommend learner, ...).

consumer_offsets: the next Kafka offset per (group_id, topic, partition), written in the same
transaction as the state it produced. Replaces profile_offsets and recommend_learner_offsets;
their positions are copied over, so no consumer re-reads or skips a record across the upgrade.

Revision ID: 0004_consumer_offsets
Revises: 0003_recommend
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_consumer_offsets"
down_revision = "0003_recommend"
branch_labels = None
depends_on = None

_COLUMNS = "topic, partition, next_offset, updated_at"


def _offsets_table(name: str, group_column: str) -> None:
    op.create_table(
        name,
        sa.Column(group_column, sa.Text, primary_key=True),
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def upgrade() -> None:
    _offsets_table("consumer_offsets", "group_id")
    op.execute(
        f"INSERT INTO consumer_offsets (group_id, {_COLUMNS}) "  # noqa: S608 (constant)
        f"SELECT consumer_group, {_COLUMNS} FROM profile_offsets"
    )
    op.execute(
        f"INSERT INTO consumer_offsets (group_id, {_COLUMNS}) "  # noqa: S608 (constant)
        f"SELECT group_id, topic, partition, next_offset, coalesce(updated_at, now()) "
        "FROM recommend_learner_offsets ON CONFLICT DO NOTHING"
    )
    op.drop_table("profile_offsets")
    op.drop_table("recommend_learner_offsets")


def downgrade() -> None:
    _offsets_table("profile_offsets", "consumer_group")
    _offsets_table("recommend_learner_offsets", "group_id")
    op.execute(
        f"INSERT INTO profile_offsets (consumer_group, {_COLUMNS}) "  # noqa: S608 (constant)
        f"SELECT group_id, {_COLUMNS} FROM consumer_offsets WHERE group_id NOT LIKE '%learner%'"
    )
    op.execute(
        f"INSERT INTO recommend_learner_offsets (group_id, {_COLUMNS}) "  # noqa: S608 (constant)
        f"SELECT group_id, {_COLUMNS} FROM consumer_offsets WHERE group_id LIKE '%learner%'"
    )
    op.drop_table("consumer_offsets")
