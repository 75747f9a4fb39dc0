"""The base-wide ranking runs: one versioned row per run of the ranking job.

rankings: the `BaseRanking` the views evaluate with (cut points, ABC thresholds, CLV fit) and
the figures managers read (ABC shares, lifecycle counts, churn), as JSON; the newest version
is the current ranking. Written only by `touchpoint_profile.ranking`.

Revision ID: 0014_rankings
Revises: 0013_complaints
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014_rankings"
down_revision = "0013_complaints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create rankings."""
    op.create_table(
        "rankings",
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ranking", postgresql.JSONB, nullable=False),
        sa.Column("figures", postgresql.JSONB, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
    )


def downgrade() -> None:
    """Drop rankings."""
    op.drop_table("rankings")
