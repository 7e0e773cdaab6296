-- The register's version for the Map page's caches: the newest change (every statement that
-- inserts, updates or deletes register rows adds one), 0 for a register never written.
SELECT coalesce(max(change_id), 0) AS version FROM register.changes
