"""The throwaway benchmark database: created next to the user's, dropped at the end.

With the project's own cluster the database lives in that cluster (started first if it
is down, and stopped again afterwards). With ``TWIN_DATABASE_URL`` it lives on that
server. Either way the user's database is only used, if at all, to issue
``CREATE DATABASE`` / ``DROP DATABASE``; no table of it is read or written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from bench._harness import BenchDatabase
from twin._errors import SetupError
from twin.config import Settings
from twin.db.cluster import LocalCluster
from twin.db.engine import connect, database_url, engine, postgis_version
from twin.db.manage import migrate

#: Default name of the throwaway database (``TWIN_BENCH_DATABASE`` overrides it).
DEFAULT_NAME = "twin_bench"
#: Comment that marks a database as ours, so a leftover of a crashed run may be dropped.
_MARK = "twin bench: throwaway database, dropped at the end of each run"


def _with_database(url: str, name: str) -> str:
    """Return ``url`` pointing at database ``name`` on the same server."""
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def _database_name(url: str) -> str:
    return urlsplit(url).path.strip("/")


def _drop(admin_url: str, name: str) -> None:
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _create(admin_url: str, name: str) -> None:
    """Create database ``name``; drop a leftover of ours first, refuse anyone else's."""
    with connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
    if row is not None:
        if row[0] != _MARK:
            raise SetupError(
                f"database {name!r} already exists and was not made by the benchmark; "
                "set TWIN_BENCH_DATABASE to another name"
            )
        _drop(admin_url, name)
    ident = sql.Identifier(name)
    with connect(admin_url, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
        except psycopg.Error as exc:
            raise SetupError(
                f"cannot create the throwaway database {name!r} ({exc.diag.message_primary}); "
                "the benchmark needs the CREATEDB privilege on this server"
            ) from exc
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(ident, sql.Literal(_MARK)))


@contextmanager
def throwaway_database(
    settings: Settings,
    name: str = DEFAULT_NAME,
    log: Callable[[str], None] = lambda _message: None,
) -> Iterator[BenchDatabase]:
    """Create a PostGIS database with the twin schema migrated; drop it on exit.

    Parameters
    ----------
    settings
        The twin's settings: its own cluster, or ``TWIN_DATABASE_URL``.
    name
        Name of the throwaway database; must differ from the user's database.
    log
        Where to report progress.

    Yields
    ------
    BenchDatabase
        The new database.

    Raises
    ------
    SetupError
        When the name collides with the user's database or a foreign database,
        or the server refuses to create it.
    """
    cluster: LocalCluster | None = None
    started = False
    if settings.database_url:
        admin_url = database_url(settings)
    else:
        cluster = LocalCluster(settings)
        if not cluster.running():
            log("starting the twin's own PostgreSQL cluster")
            cluster.ensure_installed()
            cluster.init()
            cluster.start()
            started = True
        admin_url = cluster.url("postgres")
    user_database = _database_name(database_url(settings))
    if name == user_database:
        raise SetupError(
            f"the benchmark database {name!r} is the twin's own database; "
            "set TWIN_BENCH_DATABASE to another name"
        )
    bench_url = _with_database(admin_url, name)
    log(f"creating throwaway database {name!r}")
    _create(admin_url, name)
    try:
        with connect(bench_url) as conn:
            postgis_version(conn)
        migrate(bench_url)
        yield BenchDatabase(bench_url, name)
    finally:
        engine(bench_url).dispose()  # the pooled connections of the migrations
        log(f"dropping throwaway database {name!r}")
        _drop(admin_url, name)
        if started and cluster is not None:
            log("stopping the cluster again (it was not running before)")
            cluster.stop()
