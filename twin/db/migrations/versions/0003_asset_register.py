"""Asset register: schema register, history, users, database roles.

The class tables themselves are created from ``assets/*.toml`` after the Alembic revisions
(``twin.register.schema.sync``), so adding a class is adding a file.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from twin.db._sql import sql_text

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.execute(sql_text("schema_0003"))


def downgrade() -> None:
    op.execute(sql_text("schema_0003_down"))
