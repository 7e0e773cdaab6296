-- Columns of a table with their nullability and type (for checking frames before staging).
SELECT column_name, is_nullable = 'NO' AS required, data_type
FROM information_schema.columns
WHERE table_schema = %(schema)s AND table_name = %(table)s
ORDER BY ordinal_position
