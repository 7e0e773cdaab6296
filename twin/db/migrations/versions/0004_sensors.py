"""Live sensors: properties, datastreams, observations, latest values, dead letters, thresholds.

The observed properties and thresholds themselves are data (``twin/sensors/*.toml``), written
into their tables by ``twin.sensors.catalog.sync`` after the revisions.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from twin.db._sql import sql_text

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.execute(sql_text("schema_0004"))


def downgrade() -> None:
    op.execute(sql_text("schema_0004_down"))
