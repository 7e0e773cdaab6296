-- The asset register: schema "register", one table per asset class (created from assets/*.toml
-- by `twin db migrate`), the history every change writes, app users and database roles.
-- The generic twin.assets / twin.buildings tables of revision 0002 move into class tables.

DROP TABLE IF EXISTS twin.assets, twin.buildings;

CREATE SCHEMA IF NOT EXISTS register;
COMMENT ON SCHEMA register IS
    'Asset register: one table per asset class (assets/<class>.toml), every change kept in register.history.';

-- Numbers of assets created without an id (QGIS, ogr2ogr, the app): <class>:<number>.
CREATE SEQUENCE register.asset_number START 1000001;

-- Who makes the current change: the app/CLI user (twin.user setting) or the database login.
CREATE FUNCTION register.actor() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce(nullif(current_setting('twin.user', true), ''), session_user::text) $$;

CREATE FUNCTION register.reason() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('twin.reason', true), '') $$;

CREATE TABLE register.history (
    history_id  bigserial PRIMARY KEY,
    class       text NOT NULL,
    asset_id    text NOT NULL,
    version     integer NOT NULL,
    operation   text NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,
    changed_by  text NOT NULL,
    reason      text,
    record      jsonb NOT NULL,
    geom        geometry(Geometry, 3794)
);
COMMENT ON TABLE register.history IS
    'Every version of every register row: valid_from/valid_to, who, why. Written only by triggers.';
CREATE INDEX history_asset_idx ON register.history (asset_id, version);
CREATE INDEX history_open_idx ON register.history (class, asset_id) WHERE valid_to IS NULL;
CREATE INDEX history_time_idx ON register.history USING brin (valid_from);

-- Row trigger before INSERT: a new row starts at version 1 (a re-created one after its last
-- version in the history), stamped with who and when.
CREATE FUNCTION register.stamp_insert() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.id IS NULL OR NEW.id = '' THEN
        NEW.id := TG_TABLE_NAME || ':' || nextval('register.asset_number');
    END IF;
    NEW.version := 1 + coalesce((SELECT max(h.version) FROM register.history h
                                 WHERE h.asset_id = NEW.id AND h.class = TG_TABLE_NAME), 0);
    NEW.changed_by := register.actor();
    NEW.changed_at := now();
    NEW.change_reason := register.reason();
    RETURN NEW;
END $$;

-- Row trigger before UPDATE: ids are stable; an edit made on an older version than the stored
-- one is refused (SQLSTATE TW409); an update that changes nothing is skipped.
CREATE FUNCTION register.stamp_update() RETURNS trigger
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

-- Statement triggers after each change write the history from the transition tables.
CREATE FUNCTION register.log_insert() RETURNS trigger
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

CREATE FUNCTION register.log_update() RETURNS trigger
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

CREATE FUNCTION register.log_delete() RETURNS trigger
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

-- Users of the app and the CLI. Passwords are stored as scrypt hashes only.
CREATE TABLE register.users (
    name          text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_.-]{1,39}$'),
    full_name     text,
    role          text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled      boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE register.users IS 'Users who may sign in to edit; roles viewer, editor, admin.';

-- Database roles behind the app roles (least privilege); grants on class tables follow in
-- `twin db migrate`. Roles are cluster-wide, so they are created only when missing.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['twin_viewer', 'twin_editor', 'twin_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
    GRANT twin_viewer TO twin_editor;
    GRANT twin_editor TO twin_admin;
    EXECUTE format('GRANT twin_admin TO %I', current_user);
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'cannot create the roles twin_viewer/twin_editor/twin_admin (%); '
        'ask the database administrator to create them', SQLERRM;
END $$;
