"""Big imports build the spatial index once, at commit, instead of row by row.

``register.defer_spatial_index(table)`` drops a class table's GiST indexes inside the
calling transaction and notes their definitions; a deferred trigger builds them again when
the transaction commits (a rollback undoes the drop). A big insert into a class without
ended versions skips looking for re-created assets (``history_class_idx``).

Revision ID: 0010
Revises: 0009
"""

from alembic import op

from twin.db._sql import sql_text

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.execute(sql_text("schema_0010"))


def downgrade() -> None:
    op.execute(sql_text("schema_0010_down"))
