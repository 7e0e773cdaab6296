"""Bearer tokens of the HTTP API: create, list, revoke, check.

A token is ``twin_`` followed by 43 URL-safe random characters (256 bits). The database keeps
only its SHA-256 (``twin.api_tokens``), so a token is shown once, when it is created; a lost
token is revoked and a new one created. The token's name is recorded as the source of the
observations it sends (``http:<name>``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg

from twin._errors import InvalidValue, Unauthenticated
from twin.db._sql import sql_text
from twin.db.engine import connect

PREFIX = "twin_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class TokenInfo:
    """One token as ``twin api token list`` shows it (never the token itself)."""

    name: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked: bool
    revoked_at: datetime | None


def digest(token: str) -> str:
    """Return the SHA-256 (hex) under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidValue(
            f"token name {name!r}: use 1-64 letters, digits, '_', '.' or '-' (first a letter "
            "or digit), e.g. the name of the gateway that sends the readings"
        )
    return name


def create(name: str, url: str | None = None) -> str:
    """Create a token named ``name`` and return it (the only time it is seen).

    A revoked token's name may be used again; a live one's may not.

    Raises
    ------
    InvalidValue
        When the name is malformed or a live token already has it.
    """
    token = PREFIX + secrets.token_urlsafe(32)
    with connect(url) as conn:
        row = conn.execute(
            sql_text("api_token_create"), {"name": _checked_name(name), "sha256": digest(token)}
        ).fetchone()
    if row is None:
        raise InvalidValue(
            f"a live token named {name!r} exists; revoke it first "
            f"(twin api token revoke {name}) or choose another name"
        )
    return token


def list_tokens(url: str | None = None) -> list[TokenInfo]:
    """Return every token's name, dates and state, by name."""
    with connect(url) as conn:
        return [TokenInfo(*row) for row in conn.execute(sql_text("api_token_list")).fetchall()]


def revoke(name: str, url: str | None = None) -> bool:
    """Revoke the token ``name``; return False when it was already revoked.

    Raises
    ------
    InvalidValue
        When no token has that name.
    """
    with connect(url) as conn:
        row = conn.execute(sql_text("api_token_revoke"), {"name": name}).fetchone()
    if row is None:
        raise InvalidValue(f"no token named {name!r}; `twin api token list` shows the tokens")
    return bool(row[0])


def check(conn: psycopg.Connection, authorization: str | None) -> str:
    """Return the name of the live token in an ``Authorization: Bearer`` header value.

    Parameters
    ----------
    conn
        Connection; the caller commits (the token's last use is recorded).
    authorization
        The header's value, or None when the request has none.

    Raises
    ------
    Unauthenticated
        When the header is missing or not ``Bearer <token>``, or the token is unknown or
        revoked (the message says which).
    """
    if not authorization:
        raise Unauthenticated(
            "missing token: send the header 'Authorization: Bearer <token>' "
            "(create one with `twin api token create NAME`)"
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    row = conn.execute(sql_text("api_token_check"), {"sha256": digest(token)}).fetchone()
    if row is None:
        raise Unauthenticated("unknown token: check it, or create one with `twin api token create`")
    name, revoked = str(row[0]), bool(row[1])
    if revoked:
        raise Unauthenticated(f"token {name!r} was revoked; ask for a new one")
    return name
