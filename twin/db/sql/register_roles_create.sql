-- The register's database roles (cluster-wide), created when missing: by `twin db restore`
-- before a backup's grants are replayed into a fresh cluster. Same block as revision 0003.
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
END $$
