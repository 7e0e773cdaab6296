-- The database's schema revision (the API answers only when the database does).
SELECT version_num FROM twin.alembic_version
