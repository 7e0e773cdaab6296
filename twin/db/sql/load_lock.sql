-- One load at a time: a second `twin load` waits for the first to commit or roll back.
SELECT pg_advisory_xact_lock(hashtext('twin.load'))
