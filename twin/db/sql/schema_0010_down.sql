-- Back to 0009: every import maintains the spatial index row by row.
DROP TABLE register.deferred_index;
DROP FUNCTION register.rebuild_deferred_index();
DROP FUNCTION register.defer_spatial_index(regclass, bigint);
DROP INDEX register.history_class_idx;

-- log_insert as revision 0009 left it.
-- Statement trigger after INSERT: continue the versions of re-created assets (rows that
-- skipped the row trigger); note the statement in register.changes.
CREATE OR REPLACE FUNCTION register.log_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = register, public, pg_temp
    AS $$
DECLARE
    written bigint := (SELECT count(*) FROM new_rows);
    renumber boolean;
BEGIN
    IF written < register.small_statement() THEN
        -- One index probe per row. A join can be planned as a full scan of the history
        -- index per statement when the history's statistics say it is empty (after deleting
        -- rows): a row-by-row client (ogr2ogr -append) then slows down with every row.
        renumber := EXISTS (SELECT 1 FROM new_rows n, LATERAL (
                                SELECT 1 FROM register.history h
                                WHERE h.asset_id = n.id AND h.class = TG_TABLE_NAME LIMIT 1) h
                            WHERE n.version = 1);
    ELSE
        renumber := EXISTS (SELECT 1 FROM new_rows n JOIN register.history h
                            ON h.asset_id = n.id AND h.class = TG_TABLE_NAME
                            WHERE n.version = 1);
    END IF;
    IF renumber THEN
        INSERT INTO register.renumbering VALUES (pg_current_xact_id());
        EXECUTE format(
            'UPDATE %I.%I t SET version = 1 + e.version FROM '
            '(SELECT h.asset_id, max(h.version) AS version FROM register.history h '
            ' JOIN new_rows n ON n.id = h.asset_id AND n.version = 1 '
            ' WHERE h.class = %L GROUP BY h.asset_id) e '
            'WHERE t.id = e.asset_id', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_TABLE_NAME);
        DELETE FROM register.renumbering WHERE xact = pg_current_xact_id();
    END IF;
    IF written > 0 THEN
        INSERT INTO register.changes (class, operation, rows)
        VALUES (TG_TABLE_NAME, 'insert', written);
    END IF;
    RETURN NULL;
END $$;
