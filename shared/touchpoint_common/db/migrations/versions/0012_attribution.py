"""Attribution: the store and agent that asked for a decision, so acceptance can be reported
by store (and agent).

recommend_decisions.store_id, .agent_id: from the next-offers request (query parameters) and
its offer_presented event; null when the request did not say, and on decisions made before.

Revision ID: 0012_attribution
Revises: 0011_merge_keys
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_attribution"
down_revision = "0011_merge_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add recommend_decisions.store_id and agent_id (nullable: no table rewrite)."""
    for column in ("store_id", "agent_id"):
        op.add_column("recommend_decisions", sa.Column(column, sa.Text, nullable=True))


def downgrade() -> None:
    """Drop them."""
    for column in ("agent_id", "store_id"):
        op.drop_column("recommend_decisions", column)
