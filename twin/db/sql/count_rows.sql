-- Live row count of one table; {table} and {table_name} are composed with psycopg.sql.
SELECT {table_name} AS table_name, count(*) AS table_rows FROM {table}
