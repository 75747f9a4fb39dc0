"""Open complaints' clocks beside each profile state, for the overdue-complaints gauge.

Two parallel arrays on profile_customers, written by the fold with the state (same statement,
same transaction): the severity and opening time of each open complaint, NULL when the customer
has none. The gauge counts overdue ones with SQL under the current response-time policy (due
times are not stored, so changing the policy needs no rewrite); a partial index keeps that
count to the few rows with open complaints. Existing rows are filled from their JSON state.

Revision ID: 0011_complaints
Revises: 0010_customer_value
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0011_complaints"
down_revision = "0010_customer_value"
branch_labels = None
depends_on = None

BACKFILL = """
UPDATE profile_customers SET (open_complaint_severity, open_complaint_opened_at) = (
    SELECT array_agg(c.value->>'severity' ORDER BY c.key),
           array_agg(CAST(c.value->>'opened_at' AS timestamptz) ORDER BY c.key)
    FROM jsonb_each(state->'complaints') AS c
    WHERE c.value->>'opened_at' IS NOT NULL AND c.value->>'resolved_at' IS NULL
)
WHERE NOT erased AND jsonb_typeof(state->'complaints') = 'object'
  AND state->'complaints' <> '{}'::jsonb AND state->>'merged_into' IS NULL
"""


def upgrade() -> None:
    """Add the two columns, their partial index, and fill them from the states."""
    op.add_column("profile_customers", sa.Column("open_complaint_severity", ARRAY(sa.Text)))
    op.add_column(
        "profile_customers",
        sa.Column("open_complaint_opened_at", ARRAY(sa.DateTime(timezone=True))),
    )
    op.create_index(
        "profile_customers_open_complaints",
        "profile_customers",
        ["customer_id"],
        postgresql_where=sa.text("open_complaint_opened_at IS NOT NULL"),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    """Drop the index and the columns."""
    op.drop_index("profile_customers_open_complaints", table_name="profile_customers")
    op.drop_column("profile_customers", "open_complaint_opened_at")
    op.drop_column("profile_customers", "open_complaint_severity")
