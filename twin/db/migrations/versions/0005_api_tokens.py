"""HTTP API tokens: names and SHA-256 hashes of the bearer tokens of ``twin serve api``.

Revision 0005 was set aside for the API while the KPI engine landed as 0006, so it follows
0006: databases already at 0006 get it with the next ``twin db migrate``.

Revision ID: 0005
Revises: 0006
"""

from alembic import op

from twin.db._sql import sql_text

revision = "0005"
down_revision = "0006"


def upgrade() -> None:
    op.execute(sql_text("schema_0005"))


def downgrade() -> None:
    op.execute(sql_text("schema_0005_down"))
