"""Identity rows name the key that made them, so the KEK and the HMAC key can be rotated.

customer_keys.kek_id: the id of the key-encryption key the data key is wrapped with.
customer_identifiers.hmac_key_id: the id of the HMAC key the digest was made with.
Existing rows get 'k1', the default id of today's keys (TOUCHPOINT_PII_KEK_ID and
TOUCHPOINT_PII_HMAC_KEY_ID default to it). The server default stays so a replica still
running the previous release writes the right id during a rolling upgrade.

Revision ID: 0007_key_ids
Revises: 0006_recommend_config
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_key_ids"
down_revision = "0006_recommend_config"
branch_labels = None
depends_on = None

TODAYS_KEY_ID = "k1"


def upgrade() -> None:
    """Add the key-id columns; existing rows get today's key id."""
    for table, column in (("customer_keys", "kek_id"), ("customer_identifiers", "hmac_key_id")):
        op.add_column(
            table,
            sa.Column(column, sa.Text, nullable=False, server_default=TODAYS_KEY_ID),
        )
    op.create_index("customer_keys_kek_id", "customer_keys", ["kek_id"])
    op.create_index("customer_identifiers_hmac_key_id", "customer_identifiers", ["hmac_key_id"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("customer_identifiers_hmac_key_id", table_name="customer_identifiers")
    op.drop_index("customer_keys_kek_id", table_name="customer_keys")
    op.drop_column("customer_identifiers", "hmac_key_id")
    op.drop_column("customer_keys", "kek_id")
