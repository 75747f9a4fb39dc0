"""Recommend catalogue, decisions and learning (owned by touchpoint_recommend).

Revision ID: 0003_recommend
Revises: 0002_profile
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0003_recommend"
down_revision = "0002_profile"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
