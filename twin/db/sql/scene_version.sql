-- The register's version for the Map page's caches: the newest history entry (every insert,
-- update and delete of any register row adds one), 0 for an empty register.
SELECT coalesce(max(history_id), 0) AS version FROM register.history
