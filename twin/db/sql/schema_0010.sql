-- Big imports build the spatial index once, after loading, instead of row by row.
--
-- Inserting 100,000 points into a GiST index one at a time costs about twice what building
-- the index over them afterwards does (the way ogr2ogr, osm2pgsql and pg_restore load). An
-- import that brings at least as many rows as its class table holds calls
-- register.defer_spatial_index() before its COPY: the table's GiST indexes are dropped
-- inside the import's transaction and their definitions noted in register.deferred_index,
-- whose deferred trigger builds them again at COMMIT. Nothing can commit without them: a
-- commit rebuilds them, a rollback undoes the drop. Until then the table is locked for
-- readers (DROP INDEX takes an ACCESS EXCLUSIVE lock), which is why small imports, and
-- big ones that cannot get the lock within two seconds, keep the incremental index.
--
-- And log_insert skips looking for re-created assets in a big write to a class that has no
-- ended versions (an index on history.class answers that).

CREATE TABLE register.deferred_index (
    xact       xid8 NOT NULL DEFAULT pg_current_xact_id(),
    table_name regclass NOT NULL,
    definition text NOT NULL
);
REVOKE ALL ON register.deferred_index FROM PUBLIC;

-- Before a write of `incoming` new rows into the register class table `tab`: when the
-- table holds no more rows than that, drop its GiST indexes until this transaction commits.
-- Return how many were dropped (0 for a bigger table, or a busy one: another session holds
-- a lock on it for more than two seconds).
CREATE FUNCTION register.defer_spatial_index(tab regclass, incoming bigint) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = register, public, pg_temp
    SET lock_timeout = '2s'
    AS $$
DECLARE
    ix record;
    held bigint;
    dropped integer := 0;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_class c
                   JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'register'
                   JOIN pg_trigger t ON t.tgrelid = c.oid
                                    AND t.tgname = c.relname || '_log_insert'
                   WHERE c.oid = tab) THEN
        RAISE EXCEPTION '% is not a table of the asset register', tab
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('SELECT count(*) FROM (SELECT FROM %s LIMIT $1) s', tab)
        INTO held USING incoming + 1;
    IF held > incoming THEN
        RETURN 0;
    END IF;
    BEGIN
        FOR ix IN SELECT i.indexrelid::regclass AS name, pg_get_indexdef(i.indexrelid) AS def
                  FROM pg_index i
                  JOIN pg_class c ON c.oid = i.indexrelid
                  JOIN pg_am a ON a.oid = c.relam AND a.amname = 'gist'
                  WHERE i.indrelid = tab
                    AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        LOOP
            INSERT INTO register.deferred_index (table_name, definition) VALUES (tab, ix.def);
            EXECUTE format('DROP INDEX %s', ix.name);
            dropped := dropped + 1;
        END LOOP;
    EXCEPTION WHEN lock_not_available OR deadlock_detected THEN
        RETURN 0;  -- the block's drops and notes are undone: the indexes stay
    END;
    RETURN dropped;
END $$;
REVOKE ALL ON FUNCTION register.defer_spatial_index(regclass, bigint) FROM PUBLIC;

-- At COMMIT: build each index noted in this transaction again, as it was defined.
CREATE FUNCTION register.rebuild_deferred_index() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = register, public, pg_temp
    AS $$
BEGIN
    EXECUTE NEW.definition;
    DELETE FROM register.deferred_index
    WHERE xact = NEW.xact AND table_name = NEW.table_name AND definition = NEW.definition;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER deferred_index_rebuild
    AFTER INSERT ON register.deferred_index
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION register.rebuild_deferred_index();

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'twin_editor') THEN
        GRANT EXECUTE ON FUNCTION register.defer_spatial_index(regclass, bigint) TO twin_editor;
    END IF;
END $$;

-- The classes with ended versions, found without reading the history: see log_insert.
CREATE INDEX history_class_idx ON register.history (class);

-- Statement trigger after INSERT: continue the versions of re-created assets (rows that
-- skipped the row trigger); note the statement in register.changes.
CREATE OR REPLACE FUNCTION register.log_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = register, public, pg_temp
    AS $$
DECLARE
    written bigint := (SELECT count(*) FROM new_rows);
    renumber boolean;
    cls text := TG_TABLE_NAME;  -- text, so that history_class_idx serves `class = cls`
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
        -- Only a class with ended versions can have re-created assets; most big writes
        -- (a first load) go to one without, and skip the join (a nested loop of 50 ms
        -- per 100,000 rows when the history's statistics say it is empty).
        renumber := EXISTS (SELECT 1 FROM register.history h WHERE h.class = cls)
                    AND EXISTS (SELECT 1 FROM new_rows n JOIN register.history h
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
