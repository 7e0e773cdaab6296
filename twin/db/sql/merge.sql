-- Merge a staged copy of a table into the table: insert new keys, update only rows
-- whose values differ, delete rows (within {scope}) whose key is no longer staged.
-- Unchanged rows are not touched, so a repeated load changes nothing.
WITH upserted AS (
    INSERT INTO {table} AS t ({columns})
    SELECT {columns} FROM {stage}
    ON CONFLICT ({key}) DO UPDATE SET ({columns}) = ROW({excluded})
    WHERE ({target}) IS DISTINCT FROM ({excluded})
    RETURNING (xmax = 0) AS inserted
),
deleted AS (
    DELETE FROM {table} AS t
    WHERE {scope} AND NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE s.{key} = t.{key})
    RETURNING 1
)
SELECT
    count(*) FILTER (WHERE inserted) AS inserted,
    count(*) FILTER (WHERE NOT inserted) AS updated,
    (SELECT count(*) FROM deleted) AS deleted
FROM upserted
