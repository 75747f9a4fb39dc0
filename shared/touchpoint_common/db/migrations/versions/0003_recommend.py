"""Recommend catalogue, decisions and learning (owned by touchpoint_recommend).

Decisions and their offers (contacts) are a projection of the offer_presented events the
service produces: the learner can rebuild them from the topic. Posteriors hold the evidence
per segment x offer; the Beta prior comes from the config so it can change without a
migration. Learner offsets are committed in the same transaction as the state they produced.

Revision ID: 0003_recommend
Revises: 0002_profile
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_recommend"
down_revision = "0002_profile"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recommend_decisions",
        sa.Column("decision_id", sa.Text, primary_key=True),
        sa.Column("customer_id", sa.Text, nullable=True),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("segment", sa.Text, nullable=False),
        sa.Column("strategy", sa.Text, nullable=False),
        sa.Column("holdout", sa.Boolean, nullable=False),
        sa.Column("offers", postgresql.JSONB, nullable=False),
        sa.Column("config_version", sa.Text, nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_recommend_decisions_customer", "recommend_decisions", ["customer_id", "decided_at"]
    )
    op.create_table(
        "recommend_contacts",
        sa.Column("decision_id", sa.Text, primary_key=True),
        sa.Column("offer_id", sa.Text, primary_key=True),
        sa.Column("customer_id", sa.Text, nullable=True),
        sa.Column("segment", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=True),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("holdout", sa.Boolean, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("presented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_recommend_contacts_customer", "recommend_contacts", ["customer_id", "presented_at"]
    )
    op.create_table(
        "recommend_posteriors",
        sa.Column("segment", sa.Text, primary_key=True),
        sa.Column("offer_id", sa.Text, primary_key=True),
        sa.Column("successes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("failures", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "recommend_offer_usage",
        sa.Column("offer_id", sa.Text, primary_key=True),
        sa.Column("presented", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("accepted", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "recommend_learner_offsets",
        sa.Column("group_id", sa.Text, primary_key=True),
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("recommend_learner_offsets")
    op.drop_table("recommend_offer_usage")
    op.drop_table("recommend_posteriors")
    op.drop_index("ix_recommend_contacts_customer")
    op.drop_table("recommend_contacts")
    op.drop_index("ix_recommend_decisions_customer")
    op.drop_table("recommend_decisions")
