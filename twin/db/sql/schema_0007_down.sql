-- The history triggers of revision 0003 (the record built with `to_jsonb(row) - 'geom'`).

CREATE OR REPLACE FUNCTION register.log_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = register, public, pg_temp
    AS $$
BEGIN
    INSERT INTO register.history
        (class, asset_id, version, operation, valid_from, changed_by, reason, record, geom)
    SELECT TG_TABLE_NAME, n.id, n.version, 'insert', n.changed_at, n.changed_by,
           n.change_reason, to_jsonb(n) - 'geom', n.geom
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
           n.change_reason, to_jsonb(n) - 'geom', n.geom
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
           register.reason(), to_jsonb(o) - 'geom', o.geom
    FROM old_rows o;
    RETURN NULL;
END $$;
