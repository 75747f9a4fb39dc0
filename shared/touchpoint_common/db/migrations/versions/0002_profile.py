"""Profile projection (owned by touchpoint_profile).

Revision ID: 0002_profile
Revises: 0001_identity
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0002_profile"
down_revision = "0001_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
