-- A new token (or a new one for a revoked name); no row back when the name has a live token.
INSERT INTO twin.api_tokens AS t (name, token_sha256)
VALUES (%(name)s, %(sha256)s)
ON CONFLICT (name) DO UPDATE SET
    token_sha256 = EXCLUDED.token_sha256, created_at = now(), created_by = session_user,
    last_used_at = NULL, revoked = false, revoked_at = NULL
WHERE t.revoked
RETURNING t.name
