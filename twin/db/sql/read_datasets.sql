-- Every loaded file with its provenance, and whether its target table exists (a name in schema
-- twin, or schema.name for the register):
-- only tables found here are counted, so a name from this table never reaches SQL unchecked.
SELECT
    d.name,
    d.title,
    d.table_name,
    d.file,
    d.row_count,
    d.source,
    d.licence,
    d.attribution,
    d.synthetic,
    d.loaded_at,
    EXISTS (
        SELECT 1
        FROM information_schema.tables AS t
        WHERE (t.table_schema = 'twin' AND t.table_name = d.table_name)
           OR (t.table_schema = 'register' AND 'register.' || t.table_name = d.table_name)
    ) AS table_exists
FROM twin.datasets AS d
ORDER BY d.table_name, d.name
