"""Connections to the twin's PostGIS: the project's own cluster or ``TWIN_DATABASE_URL``."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from urllib.parse import urlsplit

import psycopg
import sqlalchemy as sa
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from twin._errors import ConfigError, DatabaseError, tool_message
from twin.config import Settings, get_settings
from twin.db._sql import sql_text

MIN_POSTGIS_MAJOR = 3


def database_url(settings: Settings | None = None) -> str:
    """Return the libpq URL of the twin's database (``postgresql://…``).

    Parameters
    ----------
    settings
        Settings to read; the process settings by default.

    Returns
    -------
    str
        A URL that psql, psycopg and SQLAlchemy accept.

    Raises
    ------
    DatabaseError
        When no external URL is set and the own cluster was never created.
    """
    settings = settings or get_settings()
    if settings.database_url:
        return _checked_url(settings.database_url)
    from twin.db.cluster import LocalCluster  # noqa: PLC0415 - cluster imports this module

    return LocalCluster(settings).url()


def _checked_url(url: str) -> str:
    """Normalise an external URL to ``postgresql://`` and reject what is not one."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in {"postgresql", "postgres"} or not parts.path.strip("/"):
        raise ConfigError(
            f"TWIN_DATABASE_URL {describe_url(url)!r} is not a PostgreSQL URL; "
            "expected postgresql://user:password@host:port/database"
        )
    return "postgresql" + url[len(parts.scheme) :]


_URL_PASSWORD = re.compile(r"(?P<head>^[a-z0-9+.-]+://[^:/@?#]*:)(?P<pw>.*)(?=@[^@]*$)", re.I)
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)[^&]*", re.I)
_DSN_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)('[^']*'|\S+)", re.I)


def describe_url(url: str) -> str:
    """Return ``url`` (or a ``key=value`` DSN) with any password masked, for messages."""
    masked = _URL_PASSWORD.sub(r"\g<head>***", url, count=1)
    masked = _QUERY_PASSWORD.sub(r"\g<head>***", masked)
    return _DSN_PASSWORD.sub(r"\g<head>***", masked)


def libpq_env(url: str) -> tuple[str, dict[str, str]]:
    """Split the password off ``url`` for command-line tools, so that ``ps`` never shows it.

    Returns
    -------
    tuple of (str, dict)
        A libpq connection string without password, and the environment (with
        ``PGPASSWORD`` when there is one) to run the tool in.
    """
    params = conninfo_to_dict(url)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: str(v) for k, v in params.items()}), env


def sqlalchemy_url(url: str) -> str:
    """Return the SQLAlchemy form of a libpq URL, using the psycopg 3 driver."""
    return "postgresql+psycopg" + url[url.index(":") :]


@cache
def engine(url: str | None = None) -> sa.Engine:
    """Return a pooled SQLAlchemy engine for ``url`` (the twin's database by default)."""
    return sa.create_engine(sqlalchemy_url(url or database_url()), pool_pre_ping=True)


@contextmanager
def connect(url: str | None = None, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """Open a psycopg connection; turn connection failures into one readable error.

    Parameters
    ----------
    url
        libpq URL; the twin's database by default.
    autocommit
        Open the connection in autocommit mode.

    Yields
    ------
    psycopg.Connection
        The open connection; committed on normal exit, rolled back on error.

    Raises
    ------
    DatabaseError
        When the server cannot be reached or refuses the login.
    """
    url = url or database_url()
    try:
        conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        reason = tool_message(str(exc)) if str(exc).strip() else type(exc).__name__
        raise DatabaseError(
            f"cannot connect to PostGIS at {describe_url(url)}: {reason}. "
            "Check TWIN_DATABASE_URL, or unset it and run `twin db up` "
            "for the project's own cluster."
        ) from exc
    with conn:
        yield conn


def postgis_version(conn: psycopg.Connection) -> str:
    """Return the PostGIS version of the connected database, creating the extension if allowed.

    Raises
    ------
    DatabaseError
        When PostGIS is missing and cannot be created, or is older than 3.
    """
    row = conn.execute(sql_text("postgis_version")).fetchone()
    if row is None:
        try:
            conn.execute(sql_text("create_postgis"))
        except psycopg.Error as exc:
            conn.rollback()
            raise DatabaseError(
                "the database has no PostGIS and it cannot be created "
                f"({exc.diag.message_primary}); "
                "ask its administrator to run CREATE EXTENSION postgis"
            ) from exc
        row = conn.execute(sql_text("postgis_version")).fetchone()
    version = str(row[0]) if row else "0"
    if int(version.split(".", 1)[0]) < MIN_POSTGIS_MAJOR:
        raise DatabaseError(f"PostGIS {version} is too old: twin needs PostGIS 3 or newer")
    return version
