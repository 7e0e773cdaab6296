"""Alembic environment: runs on the connection twin hands over in ``config.attributes``."""

from alembic import context
from sqlalchemy import text

connection = context.config.attributes["connection"]
connection.execute(text("CREATE SCHEMA IF NOT EXISTS twin"))
context.configure(connection=connection, version_table_schema="twin", transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
