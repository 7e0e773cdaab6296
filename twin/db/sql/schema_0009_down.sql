-- Back to revision 0008: the history holds the version in force of every row again (with
-- its record), log_update reads only the new rows, register.changes goes, Point classes are
-- checked with ST_IsValid.

DROP FUNCTION register.versions(text, text);
ALTER TABLE register.history DROP CONSTRAINT history_ended;

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT c.conrelid::regclass AS tab, c.conname
        FROM pg_constraint c
        JOIN pg_class r ON r.oid = c.conrelid
        JOIN pg_namespace n ON n.oid = r.relnamespace AND n.nspname = 'register'
        JOIN geometry_columns g ON g.f_table_schema = 'register' AND g.f_table_name = r.relname
             AND g.f_geometry_column = 'geom' AND g.type = 'POINT'
        WHERE c.contype = 'c' AND c.conname LIKE '%\_geom\_valid'
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', t.tab, t.conname);
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (ST_IsValid(geom))',
                       t.tab, t.conname);
    END LOOP;
END $$;

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT tg.tgrelid::regclass AS tab, tg.tgname, c.relname
        FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
        WHERE tg.tgfoid = 'register.log_update()'::regprocedure AND NOT tg.tgisinternal
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.tab);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION register.log_update()',
                       t.tgname, t.tab);
        EXECUTE format(
            'INSERT INTO register.history '
            '(class, asset_id, version, operation, valid_from, changed_by, reason, record, geom) '
            'SELECT %L, t.id, t.version, register.started_by(%L, t.id, t.version), t.changed_at, '
            't.changed_by, t.change_reason, %s, t.geom FROM %s t ORDER BY t.id',
            t.relname, t.relname, register.record_sql(t.tab, 't'), t.tab);
    END LOOP;
END $$;
DROP FUNCTION register.install_log_update(regclass, text);
DROP FUNCTION register.install_geom_valid(regclass, text);
DROP FUNCTION register.current_record(text, text);
DROP FUNCTION register.started_by(text, text, integer);
DROP TABLE register.changes;

COMMENT ON TABLE register.history IS
    'Every version of every register row: valid_from/valid_to, who, why. Written only by triggers.';

-- Statement trigger after INSERT: continue the versions of re-created assets (rows that
-- skipped the row trigger), then write a history row per inserted row.
CREATE OR REPLACE FUNCTION register.log_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = register, public, pg_temp
    AS $$
DECLARE
    source text := 'new_rows';
    small boolean := (SELECT count(*) FROM (SELECT 1 FROM new_rows
                                            LIMIT register.small_statement()) s)
                     < register.small_statement();
    renumber boolean;
BEGIN
    IF small THEN
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
        source := format('(SELECT t.* FROM %I.%I t JOIN new_rows r ON r.id = t.id)',
                         TG_TABLE_SCHEMA, TG_TABLE_NAME);
    ELSIF small THEN
        INSERT INTO register.history
            (class, asset_id, version, operation, valid_from, changed_by, reason, record, geom)
        SELECT TG_TABLE_NAME, n.id, n.version, 'insert', n.changed_at, n.changed_by,
               n.change_reason, to_jsonb(jsonb_populate_record(n, '{"geom": null}')) - 'geom',
               n.geom
        FROM new_rows n;
        RETURN NULL;
    END IF;
    EXECUTE format(
        'INSERT INTO register.history '
        '(class, asset_id, version, operation, valid_from, changed_by, reason, record, geom) '
        'SELECT %L, n.id, n.version, ''insert'', n.changed_at, n.changed_by, n.change_reason, '
        '%s, n.geom FROM %s n',
        TG_TABLE_NAME, register.record_sql(TG_RELID, 'n'), source);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION register.log_update() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = register, public, pg_temp
    AS $$
BEGIN
    IF register.renumbering() THEN
        RETURN NULL;  -- log_insert continuing versions; it writes the history itself
    END IF;
    UPDATE register.history h SET valid_to = n.changed_at
    FROM new_rows n
    WHERE h.asset_id = n.id AND h.class = TG_TABLE_NAME AND h.valid_to IS NULL;
    IF (SELECT count(*) FROM (SELECT 1 FROM new_rows LIMIT register.small_statement()) s)
       < register.small_statement() THEN
        INSERT INTO register.history
            (class, asset_id, version, operation, valid_from, changed_by, reason, record, geom)
        SELECT TG_TABLE_NAME, n.id, n.version, 'update', n.changed_at, n.changed_by,
               n.change_reason, to_jsonb(jsonb_populate_record(n, '{"geom": null}')) - 'geom',
               n.geom
        FROM new_rows n;
    ELSE
        EXECUTE format(
            'INSERT INTO register.history '
            '(class, asset_id, version, operation, valid_from, changed_by, reason, record, geom) '
            'SELECT %L, n.id, n.version, ''update'', n.changed_at, n.changed_by, '
            'n.change_reason, %s, n.geom FROM new_rows n',
            TG_TABLE_NAME, register.record_sql(TG_RELID, 'n'));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION register.log_delete() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = register, public, pg_temp
    AS $$
BEGIN
    UPDATE register.history h SET valid_to = now()
    FROM old_rows o
    WHERE h.asset_id = o.id AND h.class = TG_TABLE_NAME AND h.valid_to IS NULL;
    IF (SELECT count(*) FROM (SELECT 1 FROM old_rows LIMIT register.small_statement()) s)
       < register.small_statement() THEN
        INSERT INTO register.history
            (class, asset_id, version, operation, valid_from, valid_to, changed_by, reason,
             record, geom)
        SELECT TG_TABLE_NAME, o.id, o.version + 1, 'delete', now(), now(), register.actor(),
               register.reason(), to_jsonb(jsonb_populate_record(o, '{"geom": null}')) - 'geom',
               o.geom
        FROM old_rows o;
    ELSE
        EXECUTE format(
            'INSERT INTO register.history '
            '(class, asset_id, version, operation, valid_from, valid_to, changed_by, reason, '
            ' record, geom) '
            'SELECT %L, o.id, o.version + 1, ''delete'', now(), now(), register.actor(), '
            'register.reason(), %s, o.geom FROM old_rows o',
            TG_TABLE_NAME, register.record_sql(TG_RELID, 'o'));
    END IF;
    RETURN NULL;
END $$;
