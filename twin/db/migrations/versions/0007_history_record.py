"""History triggers build the record without turning the geometry into GeoJSON first.

Same history rows as before (same record keys and values), about three times cheaper per
row: a 100,000-row import spent half its time in ``to_jsonb(row) - 'geom'``.

Revision ID: 0007
Revises: 0005
"""

from alembic import op

from twin.db._sql import sql_text

revision = "0007"
down_revision = "0005"


def upgrade() -> None:
    op.execute(sql_text("schema_0007"))


def downgrade() -> None:
    op.execute(sql_text("schema_0007_down"))
