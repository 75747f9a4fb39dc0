"""Find merge records by the identifier keys they hold.

customer_merges.identifier_keys ("kind:digest") follow their identifiers: when a rotation
re-digests an identifier, or an erase deletes it, the records naming it are rewritten in the
same transaction. A GIN index finds those records (`identifier_keys && ARRAY[...]`) without
scanning the table once per batch or per re-keyed identifier.

Revision ID: 0011_merge_keys
Revises: 0010_customer_value
"""

from alembic import op

revision = "0011_merge_keys"
down_revision = "0010_customer_value"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index customer_merges.identifier_keys for overlap queries."""
    op.create_index(
        "customer_merges_identifier_keys",
        "customer_merges",
        ["identifier_keys"],
        postgresql_using="gin",
    )


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("customer_merges_identifier_keys", table_name="customer_merges")
