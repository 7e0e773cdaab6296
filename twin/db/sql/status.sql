-- What `twin db status` reports: server and PostGIS versions, applied migration.
SELECT current_setting('server_version') AS postgresql,
       (SELECT extversion FROM pg_extension WHERE extname = 'postgis') AS postgis,
       CASE WHEN to_regclass('twin.alembic_version') IS NOT NULL
            THEN (xpath('/row/version_num/text()',
                        query_to_xml('SELECT version_num FROM twin.alembic_version', false, true, '')))[1]::text
       END AS revision
