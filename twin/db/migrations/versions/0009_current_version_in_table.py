"""The current version of an asset is its row: the history stops copying it.

History entries keep version, who, when and why for every version; the record and geometry
of a version are written when it ends (an update or delete). ``register.versions`` returns
an asset's history with the current version filled in from its table.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

from twin.db._sql import sql_text

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.execute(sql_text("schema_0009"))


def downgrade() -> None:
    op.execute(sql_text("schema_0009_down"))
