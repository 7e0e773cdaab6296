-- How many of the register's database roles exist (3 when least privilege is available).
SELECT count(*) FROM pg_roles WHERE rolname IN ('twin_viewer', 'twin_editor', 'twin_admin')
