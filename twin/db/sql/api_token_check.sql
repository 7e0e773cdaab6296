-- The token with this SHA-256 (name, revoked); a live one is marked used (at most once a
-- minute, so that parallel requests of one client do not queue on its row).
WITH found AS (
    SELECT name, revoked, last_used_at FROM twin.api_tokens WHERE token_sha256 = %(sha256)s
), used AS (
    UPDATE twin.api_tokens t SET last_used_at = now()
    FROM found f
    WHERE t.name = f.name AND NOT f.revoked
      AND (f.last_used_at IS NULL OR f.last_used_at < now() - interval '1 minute')
)
SELECT name, revoked FROM found
