-- Every API token (never the token: only its name, dates and state).
SELECT name, created_at, created_by, last_used_at, revoked, revoked_at
FROM twin.api_tokens
ORDER BY name
