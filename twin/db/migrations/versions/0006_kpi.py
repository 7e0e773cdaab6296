"""KPI engine: snapshots of computed results and entered values of the manual indicators.

The catalog of indicators and the strategy's areas is data (``twin/kpi/catalog.toml``).

Revision ID: 0006
Revises: 0004
"""

from alembic import op

from twin.db._sql import sql_text

revision = "0006"
down_revision = "0004"


def upgrade() -> None:
    op.execute(sql_text("schema_0006"))


def downgrade() -> None:
    op.execute(sql_text("schema_0006_down"))
