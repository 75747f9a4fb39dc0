"""Care columns for the tier service plans, the worklist and the complaint figures.

customer_value (written by the fold with the state, like 0010's columns):
- preferred_store: the store with the most events in the window (the worklist's store filter);
- care_calls, care_visits: the days of the newest calls (not dropped) and store visits in the
  window, newest first, one entry per contact (at most 10): the worklist compares the n-th
  newest with the start of the plan's month, so a tier's minimum is one array subscript.

profile_customers (beside the state, like 0013's open complaint clocks; NULL for none):
- open_commitment_due_at: due times of commitments made and not fulfilled (worklist);
- closed_complaint_severity, _resolved_at, _hours, _satisfaction: the resolved complaints
  (time to resolve, satisfaction after follow-up) the ranking job's figures count.
Partial indexes keep the worklist's and the figures' scans to the rows that have any.

Existing rows are filled from their JSON state: preferred_store from the window's store
counts, the profile_customers arrays from the complaints and commitments. The care contact
days start empty (older states never counted them): each customer's next fold, or a rebuild,
fills them.

Revision ID: 0015_care_plans
Revises: 0014_rankings
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0015_care_plans"
down_revision = "0014_rankings"
branch_labels = None
depends_on = None

BACKFILL_STORE = """
UPDATE customer_value v SET preferred_store = best.store
FROM (
    SELECT DISTINCT ON (p.customer_id) p.customer_id, s.key AS store
    FROM profile_customers p, jsonb_each(p.state->'days') AS d,
         jsonb_each_text(d.value->'stores') AS s
    WHERE NOT p.erased AND jsonb_typeof(p.state->'days') = 'object'
      AND CAST(d.key AS integer) >= (CURRENT_DATE - DATE '1970-01-01') - 89
    GROUP BY p.customer_id, s.key
    ORDER BY p.customer_id, sum(CAST(s.value AS integer)) DESC, s.key
) best
WHERE v.customer_id = best.customer_id
"""
BACKFILL_CARE = """
UPDATE profile_customers SET
    open_commitment_due_at = (
        SELECT array_agg(CAST(c.value->>'due_at' AS timestamptz)
                         ORDER BY CAST(c.value->>'due_at' AS timestamptz))
        FROM jsonb_each(state->'commitments') AS c
        WHERE c.value->>'made_at' IS NOT NULL AND c.value->>'fulfilled_at' IS NULL
          AND c.value->>'due_at' IS NOT NULL
    ),
    (closed_complaint_severity, closed_complaint_resolved_at, closed_complaint_hours,
     closed_complaint_satisfaction) = (
        SELECT array_agg(c.value->>'severity' ORDER BY c.key),
               array_agg(CAST(c.value->>'resolved_at' AS timestamptz) ORDER BY c.key),
               array_agg(CASE WHEN c.value->>'opened_at' IS NOT NULL THEN greatest(0,
                   extract(epoch FROM CAST(c.value->>'resolved_at' AS timestamptz)
                   - CAST(c.value->>'opened_at' AS timestamptz)) / 3600.0) END ORDER BY c.key),
               array_agg(CAST(c.value->>'satisfaction' AS smallint) ORDER BY c.key)
        FROM jsonb_each(state->'complaints') AS c
        WHERE c.value->>'resolved_at' IS NOT NULL
    )
WHERE NOT erased AND state->>'merged_into' IS NULL AND (
    (jsonb_typeof(state->'commitments') = 'object' AND state->'commitments' <> '{}'::jsonb)
    OR (jsonb_typeof(state->'complaints') = 'object' AND state->'complaints' <> '{}'::jsonb))
"""


def upgrade() -> None:
    """Add the columns and their indexes, and fill them from the states."""
    for name in ("care_calls", "care_visits"):
        op.add_column("customer_value", sa.Column(name, ARRAY(sa.Date)))
    op.add_column("customer_value", sa.Column("preferred_store", sa.Text))
    op.create_index("customer_value_preferred_store", "customer_value", ["preferred_store"])
    columns = {
        "open_commitment_due_at": ARRAY(sa.DateTime(timezone=True)),
        "closed_complaint_severity": ARRAY(sa.Text),
        "closed_complaint_resolved_at": ARRAY(sa.DateTime(timezone=True)),
        "closed_complaint_hours": ARRAY(sa.Float),
        "closed_complaint_satisfaction": ARRAY(sa.SmallInteger),
    }
    for name, kind in columns.items():
        op.add_column("profile_customers", sa.Column(name, kind))
    op.create_index(
        "profile_customers_open_commitments",
        "profile_customers",
        ["customer_id"],
        postgresql_where=sa.text("open_commitment_due_at IS NOT NULL"),
    )
    op.create_index(
        "profile_customers_closed_complaints",
        "profile_customers",
        ["customer_id"],
        postgresql_where=sa.text("closed_complaint_resolved_at IS NOT NULL"),
    )
    op.execute(BACKFILL_STORE)
    op.execute(BACKFILL_CARE)


def downgrade() -> None:
    """Drop the indexes and the columns."""
    op.drop_index("profile_customers_closed_complaints", table_name="profile_customers")
    op.drop_index("profile_customers_open_commitments", table_name="profile_customers")
    for name in (
        "closed_complaint_satisfaction",
        "closed_complaint_hours",
        "closed_complaint_resolved_at",
        "closed_complaint_severity",
        "open_commitment_due_at",
    ):
        op.drop_column("profile_customers", name)
    op.drop_index("customer_value_preferred_store", table_name="customer_value")
    for name in ("preferred_store", "care_visits", "care_calls"):
        op.drop_column("customer_value", name)
