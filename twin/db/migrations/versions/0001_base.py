"""Base schema: municipality, districts, base layers and the dataset register.

Revision ID: 0001
Revises:
"""

from alembic import op

from twin.db._sql import sql_text

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.execute(sql_text("schema_0001"))


def downgrade() -> None:
    op.execute(sql_text("schema_0001_down"))
