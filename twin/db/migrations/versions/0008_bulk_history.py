"""Cheaper bulk writes into the register, with the same history.

The row trigger before INSERT runs only for rows not stamped as it would stamp them (the
column defaults stamp a plain INSERT or COPY); an asset re-created with an old id continues
its versions in the statement trigger, set-based. The history record is one
``jsonb_build_object`` of the row's columns; ``history_open_idx`` is dropped.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

from twin.db._sql import sql_text

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.execute(sql_text("schema_0008"))


def downgrade() -> None:
    op.execute(sql_text("schema_0008_down"))
