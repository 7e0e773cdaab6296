"""Synthetic city: local streets, buildings, assets, population grid, synth runs.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from twin.db._sql import sql_text

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute(sql_text("schema_0002"))


def downgrade() -> None:
    op.execute(sql_text("schema_0002_down"))
