-- Back to revision 0007: the row trigger stamps every inserted row again, the history
-- record is built from the whole row, and history_open_idx returns.

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT tg.tgrelid::regclass AS tab, tg.tgname
        FROM pg_trigger tg
        WHERE tg.tgfoid = 'register.stamp_insert()'::regprocedure AND NOT tg.tgisinternal
    LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN change_reason DROP DEFAULT', t.tab);
        EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.tab);
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON %s FOR EACH ROW '
                       'EXECUTE FUNCTION register.stamp_insert()', t.tgname, t.tab);
    END LOOP;
END $$;
DROP FUNCTION register.install_stamp_insert(regclass, text);

CREATE INDEX history_open_idx ON register.history (class, asset_id) WHERE valid_to IS NULL;

CREATE OR REPLACE FUNCTION register.stamp_update() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'asset ids are stable: % cannot be renamed to %', OLD.id, NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.version IS DISTINCT FROM OLD.version THEN
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

CREATE OR REPLACE FUNCTION register.log_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = register, public, pg_temp
    AS $$
BEGIN
    INSERT INTO register.history
        (class, asset_id, version, operation, valid_from, changed_by, reason, record, geom)
    SELECT TG_TABLE_NAME, n.id, n.version, 'insert', n.changed_at, n.changed_by,
           n.change_reason, to_jsonb(jsonb_populate_record(n, '{"geom": null}')) - 'geom',
           n.geom
    FROM new_rows n;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION register.log_update() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = register, public, pg_temp
    AS $$
BEGIN
    UPDATE register.history h SET valid_to = n.changed_at
    FROM new_rows n
    WHERE h.class = TG_TABLE_NAME AND h.asset_id = n.id AND h.valid_to IS NULL;
    INSERT INTO register.history
        (class, asset_id, version, operation, valid_from, changed_by, reason, record, geom)
    SELECT TG_TABLE_NAME, n.id, n.version, 'update', n.changed_at, n.changed_by,
           n.change_reason, to_jsonb(jsonb_populate_record(n, '{"geom": null}')) - 'geom',
           n.geom
    FROM new_rows n;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION register.log_delete() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = register, public, pg_temp
    AS $$
BEGIN
    UPDATE register.history h SET valid_to = now()
    FROM old_rows o
    WHERE h.class = TG_TABLE_NAME AND h.asset_id = o.id AND h.valid_to IS NULL;
    INSERT INTO register.history
        (class, asset_id, version, operation, valid_from, valid_to, changed_by, reason, record,
         geom)
    SELECT TG_TABLE_NAME, o.id, o.version + 1, 'delete', now(), now(), register.actor(),
           register.reason(), to_jsonb(jsonb_populate_record(o, '{"geom": null}')) - 'geom',
           o.geom
    FROM old_rows o;
    RETURN NULL;
END $$;

DROP FUNCTION register.record_sql(regclass, text);
DROP FUNCTION register.small_statement();
DROP FUNCTION register.renumbering();
DROP TABLE register.renumbering;
