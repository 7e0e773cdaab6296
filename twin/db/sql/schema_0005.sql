-- Tokens of the HTTP API (`twin serve api`): a client pushing readings sends
-- `Authorization: Bearer <token>`. Only the SHA-256 of a token is kept; the token itself is
-- shown once by `twin api token create NAME`. Its name is the source of what it ingests.

CREATE TABLE twin.api_tokens (
    name          text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    token_sha256  text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL DEFAULT session_user,
    last_used_at  timestamptz,
    revoked       boolean NOT NULL DEFAULT false,
    revoked_at    timestamptz,
    CHECK (revoked = (revoked_at IS NOT NULL))
);
COMMENT ON TABLE twin.api_tokens IS
    'Bearer tokens of the HTTP API: name, SHA-256 of the token (never the token), revocation.';
