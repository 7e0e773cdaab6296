"""``twin db up | down | status | url | backup | restore`` as functions."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from twin._errors import DatabaseError, DataFileError, SetupError, exception_reason, tool_message
from twin.config import Settings, get_settings
from twin.db._sql import sql_text
from twin.db.cluster import LocalCluster
from twin.db.engine import (
    connect,
    database_url,
    describe_url,
    engine,
    libpq_env,
    postgis_version,
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: twin_viewer, twin_editor and twin_admin (``register_roles.sql`` counts those present).
_REGISTER_ROLES = 3


@dataclass(frozen=True)
class DatabaseStatus:
    """What ``twin db status`` shows."""

    url: str
    own_cluster: bool
    running: bool
    postgresql: str | None = None
    postgis: str | None = None
    revision: str | None = None


def head_revision() -> str:
    """Return the newest migration's revision id."""
    from alembic.config import Config  # noqa: PLC0415 - Alembic is only needed to migrate
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise SetupError(f"no migrations found in {MIGRATIONS}")
    return head


def migrate(url: str | None = None) -> list[str]:
    """Apply every pending Alembic migration, then create or extend the register tables.

    Returns
    -------
    list of str
        What the asset-class files changed in the register (see ``twin.register.schema``).

    Raises
    ------
    DatabaseError
        When a migration fails (it is rolled back; the message quotes the database).
    """
    from alembic import command  # noqa: PLC0415 - Alembic is only needed to migrate
    from alembic.config import Config  # noqa: PLC0415
    from sqlalchemy.exc import DBAPIError  # noqa: PLC0415

    from twin.register import schema  # noqa: PLC0415 - imports the class catalog
    from twin.sensors import catalog as sensor_catalog  # noqa: PLC0415

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine(url or database_url()).begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        with connect(url) as pg, pg.transaction():
            done = schema.sync(pg)
            sensor_catalog.sync(pg)
            return done
    except (DBAPIError, psycopg.Error) as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
        raise DatabaseError(
            f"migrating the database failed and was rolled back: {exception_reason(cause)}"
        ) from exc


def _ensure_database(cluster: LocalCluster) -> None:
    with connect(cluster.url("postgres"), autocommit=True) as conn:
        exists = conn.execute(
            sql_text("database_exists"), {"name": cluster.settings.database}
        ).fetchone()
        if exists is None:
            conn.execute(
                sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cluster.settings.database))
            )


def up(settings: Settings | None = None, *, apply_migrations: bool = True) -> str:
    """Make the twin's database ready: cluster created and running, PostGIS, migrations.

    Idempotent and quick when everything is already up.

    Parameters
    ----------
    settings
        Settings to use; the process settings by default.
    apply_migrations
        Apply pending migrations (off when a restore brings its own schema).

    Returns
    -------
    str
        The database URL.
    """
    settings = settings or get_settings()
    if not settings.database_url:
        cluster = LocalCluster(settings)
        cluster.ensure_installed()
        cluster.init()
        cluster.start()
        _ensure_database(cluster)
    url = database_url(settings)
    with connect(url) as conn:
        postgis_version(conn)
    if apply_migrations:
        migrate(url)
    return url


def down(settings: Settings | None = None) -> None:
    """Stop the own cluster (an external database is left alone)."""
    settings = settings or get_settings()
    if settings.database_url:
        raise SetupError("TWIN_DATABASE_URL points at an external PostGIS; twin does not stop it")
    LocalCluster(settings).stop()


def status(settings: Settings | None = None) -> DatabaseStatus:
    """Report where the database is, whether it runs, and its versions."""
    settings = settings or get_settings()
    own = not settings.database_url
    if own:
        cluster = LocalCluster(settings)
        if not cluster.running():
            where = f"{cluster.data_dir} (port {settings.port})"
            return DatabaseStatus(url=where, own_cluster=True, running=False)
    url = database_url(settings)
    with connect(url) as conn:
        row = conn.execute(sql_text("status")).fetchone()
    postgresql, postgis, revision = row if row else (None, None, None)
    return DatabaseStatus(
        url=describe_url(url),
        own_cluster=own,
        running=True,
        postgresql=postgresql,
        postgis=postgis,
        revision=revision,
    )


def _client_tool(name: str, settings: Settings) -> str:
    return LocalCluster(settings).tool(name)


def backup(path: Path, settings: Settings | None = None) -> None:
    """Write the ``twin`` and ``register`` schemas (data, migration state) to ``path``.

    Raises
    ------
    SetupError
        When pg_dump fails; the message quotes its error.
    """
    settings = settings or get_settings()
    dsn, env = libpq_env(database_url(settings))
    done = subprocess.run(
        [_client_tool("pg_dump", settings), "--format=custom", "--schema=twin", "--schema=register",
         f"--file={path}", f"--dbname={dsn}"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    if done.returncode != 0:
        raise SetupError(f"backup to {path} failed: {tool_message(done.stderr)}")


def restore(path: Path, settings: Settings | None = None) -> None:
    """Replace the ``twin`` and ``register`` schemas by the backup in ``path``, in one transaction.

    The database and PostGIS are created first, so restoring into an empty cluster works;
    the old schema is dropped and the backup restored in a single transaction, then any
    newer migrations are applied. On any error nothing changes.

    Raises
    ------
    DataFileError
        When ``path`` is missing, not a twin backup, or cannot be read to its end (a
        truncated file): the database is not touched.
    DatabaseError
        When the restore fails (and was rolled back).
    """
    settings = settings or get_settings()
    if not path.is_file():
        raise DataFileError(f"{path}: no such backup file")
    pg_restore = _client_tool("pg_restore", settings)
    listing = subprocess.run(
        [pg_restore, "--list", str(path)], capture_output=True, text=True, check=False
    )
    if listing.returncode != 0 or " twin alembic_version " not in listing.stdout:
        raise DataFileError(f"{path}: not a twin backup (make one with `twin db backup FILE`)")
    url = up(settings, apply_migrations=False)
    # The backup's grants name the register's roles; a fresh cluster has none yet. Where they
    # cannot be created (no CREATEROLE), the grants are left out and `migrate` grants again.
    with connect(url, autocommit=True) as conn:
        conn.execute(sql_text("register_roles_create"))
        roles = conn.execute(sql_text("register_roles")).fetchone()
    privileges = [] if roles is not None and roles[0] == _REGISTER_ROLES else ["--no-privileges"]
    dsn, env = libpq_env(url)
    with tempfile.TemporaryDirectory(prefix="twin-restore-") as tmp:
        # The whole script first: piped, a backup that breaks off midway gave psql a script
        # of complete statements that ended early, and psql committed it at the end of input.
        script = Path(tmp) / "restore.sql"
        read = subprocess.run(
            [pg_restore, "--no-owner", *privileges, f"--file={script}", str(path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if read.returncode != 0:
            raise DataFileError(
                f"{path}: cannot read the backup, nothing restored: {tool_message(read.stderr)}"
            )
        done = subprocess.run(
            [_client_tool("psql", settings), "-X", "-q", "-v", "ON_ERROR_STOP=1",
             "--single-transaction", "-c",
             "DROP SCHEMA IF EXISTS register CASCADE; DROP SCHEMA IF EXISTS twin CASCADE",
             "-f", str(script), f"--dbname={dsn}"],
            capture_output=True, text=True, check=False, env=env,
        )  # fmt: skip
    if done.returncode != 0:
        raise DatabaseError(
            f"restore of {path} failed and was rolled back: {tool_message(done.stderr)}"
        )
    migrate(url)


def server_versions(conn: psycopg.Connection) -> dict[str, str]:
    """Return PostgreSQL, PostGIS, GEOS and PROJ versions of the connected server."""
    row = conn.execute(sql_text("server_versions")).fetchone()
    if row is None:  # pragma: no cover - a SELECT without FROM always returns a row
        raise DatabaseError("the server returned no version row")
    return dict(zip(("PostgreSQL", "PostGIS", "GEOS", "PROJ"), map(str, row), strict=True))
