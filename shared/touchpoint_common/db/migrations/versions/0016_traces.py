"""The trace a customer's view was last written in.

profile_customers.trace_parent: the W3C `traceparent` of the newest record whose fold wrote
the row (NULL while tracing is off), so a decision that reads the view can name that trace.
Written only by the profile fold.

Revision ID: 0016_traces
Revises: 0015_care_plans
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_traces"
down_revision = "0015_care_plans"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add profile_customers.trace_parent."""
    op.add_column("profile_customers", sa.Column("trace_parent", sa.Text, nullable=True))


def downgrade() -> None:
    """Drop profile_customers.trace_parent."""
    op.drop_column("profile_customers", "trace_parent")
