"""A narrow row of value figures per customer, written by the fold with the state.

customer_value: what the base-wide ranking job (ABC by profit, F/M quintiles, R x F x M bands,
CLV fit) and the managers' figures read with SQL, so they never decode 10 million JSON states.
All money is in the reporting currency (`reporting_currency`); amounts in other currencies
without a configured rate are left out (never summed across currencies). Window figures are as
of the customer's last folded event (`as_of`).

Revision ID: 0010_customer_value
Revises: 0009_identity_merges
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_customer_value"
down_revision = "0009_identity_merges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create customer_value and the indexes the ranking job scans by."""
    op.create_table(
        "customer_value",
        sa.Column("customer_id", sa.Text, primary_key=True),
        sa.Column("reporting_currency", sa.Text, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_frequency", sa.Integer, nullable=False, server_default="0"),
        sa.Column("window_monetary", sa.Numeric(18, 2), nullable=False, server_default="0"),
        sa.Column("window_profit", sa.Numeric(18, 2), nullable=False, server_default="0"),
        sa.Column("lifetime_purchases", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lifetime_monetary", sa.Numeric(18, 2), nullable=False, server_default="0"),
        sa.Column("lifetime_profit", sa.Numeric(18, 2), nullable=False, server_default="0"),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_purchase_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_purchase_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("member_tier", sa.Text, nullable=True),
    )
    op.create_index("customer_value_window_profit", "customer_value", ["window_profit"])
    op.create_index("customer_value_last_purchase", "customer_value", ["last_purchase_at"])


def downgrade() -> None:
    """Drop customer_value."""
    op.drop_table("customer_value")
