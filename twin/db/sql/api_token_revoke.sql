-- Revoke a token by name; returns whether it was live before.
UPDATE twin.api_tokens AS t SET revoked = true, revoked_at = coalesce(t.revoked_at, now())
FROM (SELECT name, revoked FROM twin.api_tokens WHERE name = %(name)s FOR UPDATE) AS old
WHERE t.name = old.name
RETURNING NOT old.revoked
