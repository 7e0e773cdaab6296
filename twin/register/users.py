"""Users who may sign in to edit the register: scrypt-hashed passwords, roles.

Viewing needs no sign-in. Users are created with ``twin users add``; the password is never
stored, only its scrypt hash with a random salt (``scrypt$n$r$p$salt$hash``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import psycopg

from twin._errors import AccessDenied, InvalidValue
from twin.db._sql import sql_text
from twin.db.engine import connect
from twin.register.store import Actor, Role

ROLES: tuple[Role, ...] = ("viewer", "editor", "admin")
MIN_PASSWORD = 8
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """Return the scrypt hash of ``password`` with a fresh salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the stored hash (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(candidate, base64.b64decode(digest))


def add_user(
    name: str, password: str, role: str, full_name: str | None = None, url: str | None = None
) -> None:
    """Create a user, or reset the password and role of an existing one.

    Raises
    ------
    InvalidValue
        When the name, role or password is not acceptable.
    """
    if role not in ROLES:
        raise InvalidValue(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if len(password) < MIN_PASSWORD:
        raise InvalidValue(f"the password must have at least {MIN_PASSWORD} characters")
    try:
        with connect(url) as conn:
            conn.execute(
                sql_text("users_upsert"),
                {"name": name, "full_name": full_name, "role": role,
                 "hash": hash_password(password)},
            )  # fmt: skip
    except psycopg.errors.CheckViolation as exc:
        raise InvalidValue(
            f"user name {name!r} must be 2-40 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter"
        ) from exc


def authenticate(name: str, password: str, url: str | None = None) -> Actor:
    """Return the signed-in actor for a correct name and password.

    Raises
    ------
    AccessDenied
        When the user is unknown, disabled or the password is wrong (one message for all).
    """
    with connect(url) as conn:
        row = conn.execute(sql_text("users_get"), {"name": name}).fetchone()
    if row is None or row[2] or not verify_password(password, str(row[1])):
        raise AccessDenied("wrong user name or password")
    return Actor(name=name, role=row[0])


def list_users(url: str | None = None) -> list[dict[str, object]]:
    """Every user: name, full name, role, created, disabled (never the hash)."""
    with connect(url) as conn:
        rows = conn.execute(sql_text("users_list")).fetchall()
    keys = ("name", "full_name", "role", "created_at", "disabled")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def disable_user(name: str, url: str | None = None) -> None:
    """Stop a user from signing in (their changes stay attributed to them).

    Raises
    ------
    InvalidValue
        When there is no such user.
    """
    with connect(url) as conn:
        done = conn.execute(sql_text("users_disable"), {"name": name}).rowcount
    if not done:
        raise InvalidValue(f"no user {name!r}")
