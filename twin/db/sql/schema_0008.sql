-- Cheaper bulk writes into the register, with the same history. A 100,000-row import spent
-- most of its database time in three places, now avoided:
-- * the row trigger `stamp_insert` ran for every row and looked up earlier versions of its
--   id in the history (an index probe per row). It now runs only for a row that is not
--   already stamped as it would stamp it (version 1, changed_by = register.actor(),
--   changed_at = now(), change_reason = register.reason(), an id): the columns' defaults
--   stamp a plain INSERT or COPY exactly so, and any other value (another user's name, an
--   older time) still goes through the trigger, which overwrites it. An id that had earlier
--   versions (an asset re-created with its old id) is found afterwards, set-based, by the
--   statement trigger `log_insert`, which continues its versions;
-- * the history record was built as `to_jsonb(jsonb_populate_record(row, '{"geom": null}'))
--   - 'geom'`: a record, a jsonb with the geometry key, then a copy without it. It is now one
--   `jsonb_build_object` of the table's columns but `geom`: the same keys and values;
-- * history_open_idx (class, asset_id) WHERE valid_to IS NULL, a second text index on every
--   history row, only served closing the open version on update and delete; history_asset_idx
--   (asset_id, version) serves that as well (an asset has a few versions).

-- The transactions in which log_insert continues the versions of re-created assets. Only
-- the owner of the register (log_insert runs as its definer) writes here: the mark lets
-- that one UPDATE change the version alone, with no history row of its own; nobody else can
-- set it.
CREATE TABLE register.renumbering (
    xact xid8 PRIMARY KEY
);
COMMENT ON TABLE register.renumbering IS
    'Internal: marks log_insert continuing the versions of re-created assets. Written only by it.';
REVOKE ALL ON register.renumbering FROM PUBLIC;

CREATE FUNCTION register.renumbering() RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path = register, pg_temp
    AS $$ SELECT EXISTS (SELECT 1 FROM register.renumbering WHERE xact = pg_current_xact_id()) $$;

-- The history record of a row of table `tab` named `alias` in a query: a jsonb of every
-- column but the geometry (jsonb_build_object takes at most 50 pairs; longer rows are joined).
CREATE FUNCTION register.record_sql(tab regclass, alias text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT string_agg(format('jsonb_build_object(%s)', pairs), ' || ' ORDER BY chunk)
FROM (
    SELECT chunk, string_agg(format('%L, %I.%I', attname, alias, attname), ', ' ORDER BY attnum)
           AS pairs
    FROM (
        SELECT attname, attnum, (row_number() OVER (ORDER BY attnum) - 1) / 50 AS chunk
        FROM pg_attribute
        WHERE attrelid = tab AND attnum > 0 AND NOT attisdropped AND attname <> 'geom'
    ) a
    GROUP BY chunk
) c
$$;

-- Row trigger before UPDATE: as in revision 0003, and the one UPDATE of log_insert that
-- continues the versions of re-created assets may change the version alone.
CREATE OR REPLACE FUNCTION register.stamp_update() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    wanted integer;
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'asset ids are stable: % cannot be renamed to %', OLD.id, NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.version IS DISTINCT FROM OLD.version THEN
        IF register.renumbering() THEN
            wanted := NEW.version;
            NEW.version := OLD.version;
            IF NEW IS NOT DISTINCT FROM OLD THEN
                NEW.version := wanted;
                RETURN NEW;
            END IF;
        END IF;
        RAISE EXCEPTION 'stale edit of %: it was made on version % but the register holds version %',
            OLD.id, NEW.version, OLD.version
            USING ERRCODE = 'TW409', DETAIL = OLD.version::text;
    END IF;
    NEW.changed_by := OLD.changed_by;
    NEW.changed_at := OLD.changed_at;
    NEW.change_reason := OLD.change_reason;
    IF NEW IS NOT DISTINCT FROM OLD THEN
        RETURN NULL;
    END IF;
    NEW.version := OLD.version + 1;
    NEW.changed_by := register.actor();
    NEW.changed_at := now();
    NEW.change_reason := register.reason();
    RETURN NEW;
END $$;

-- The history triggers build the record of a big statement (an import, a merge) with
-- jsonb_build_object, composed for the table once per statement; a small one (an edit in
-- the app or QGIS, one row at a time) with the cached statement of revision 0007, which
-- saves composing and planning per statement. Both give the same record.
CREATE FUNCTION register.small_statement() RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT 200 $$;

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

DROP INDEX register.history_open_idx;

-- The stamps of a plain INSERT or COPY come from the column defaults (change_reason had
-- none), and the row trigger runs only for rows stamped otherwise (or without an id).
-- `twin db migrate` installs the same trigger on new class tables.
CREATE FUNCTION register.install_stamp_insert(tab regclass, trigger_name text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ALTER COLUMN change_reason SET DEFAULT register.reason()',
                   tab);
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', trigger_name, tab);
    EXECUTE format(
        'CREATE TRIGGER %I BEFORE INSERT ON %s FOR EACH ROW '
        'WHEN (NEW.id IS NULL OR NEW.id = '''' OR NEW.version IS DISTINCT FROM 1 '
        'OR NEW.changed_by IS DISTINCT FROM register.actor() '
        'OR NEW.changed_at IS DISTINCT FROM now() '
        'OR NEW.change_reason IS DISTINCT FROM register.reason()) '
        'EXECUTE FUNCTION register.stamp_insert()', trigger_name, tab);
END $$;

SELECT register.install_stamp_insert(tg.tgrelid::regclass, tg.tgname)
FROM pg_trigger tg
WHERE tg.tgfoid = 'register.stamp_insert()'::regprocedure AND NOT tg.tgisinternal;
