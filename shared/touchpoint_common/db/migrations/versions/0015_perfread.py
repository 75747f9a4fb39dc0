"""The fold's dedup sets apart from the state the view reads; the decisions' outbox.

profile_customers.dedup: the packed dedup sets of the state (touchpoint_profile.fold.dedup),
written with the state by the fold and read only by the fold (NULL: a row written before this
column, whose state still holds them).

Revision ID: 0015_perfread
Revises: 0014_rankings
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_perfread"
down_revision = "0014_rankings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add profile_customers.dedup."""
    op.add_column("profile_customers", sa.Column("dedup", sa.Text, nullable=True))


def downgrade() -> None:
    """Drop profile_customers.dedup."""
    op.drop_column("profile_customers", "dedup")
