"""``twin db``: the project's own cluster, external PostGIS, backup and restore."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import shapely
import sqlalchemy as sa
from conftest import _free_port, row_counts

from twin import ConfigError, DatabaseError, DataFileError, SetupError, db
from twin.config import Settings, get_settings
from twin.db.cluster import LocalCluster
from twin.db.engine import describe_url, libpq_env
from twin.db.manage import head_revision


def twin_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "twin.cli", *args],
        env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def test_up_is_idempotent_and_keeps_the_running_server(db_url: str) -> None:
    cluster = LocalCluster(get_settings())
    pid_file = cluster.data_dir / "postmaster.pid"
    before = pid_file.read_text()
    assert db.up() == db_url
    assert pid_file.read_text() == before  # same server process, not a restart


def test_url_works_with_psql_and_sqlalchemy(db_url: str, cli_env) -> None:
    printed = twin_cli(cli_env, "db", "url")
    assert printed.returncode == 0
    assert printed.stdout.strip() == db_url
    psql = subprocess.run(
        ["psql", printed.stdout.strip(), "-XAtc", "select postgis_full_version()"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert psql.stdout.startswith('POSTGIS="3.')
    with sa.create_engine(db_url).connect() as conn:
        assert conn.execute(sa.text("select postgis_lib_version()")).scalar().startswith("3.")


def test_status_reports_versions_as_json(cli_env) -> None:
    done = twin_cli(cli_env, "db", "status", "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["running"] is True
    assert status["postgis"].startswith("3.")
    assert status["revision"] == head_revision()
    assert "***" in status["url"]  # the password is never printed by status


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://twin:x@127.0.0.1:{closed}/twin", "cannot connect to PostGIS"),
        ("mysql://user:pw@127.0.0.1/db", "is not a PostgreSQL URL"),
        ("postgresql://twin:wrong-password@127.0.0.1:{port}/twin_test", "password authentication"),
    ],
)
def test_wrong_database_url_gives_one_readable_line(cli_env, url: str, message: str) -> None:
    cli_env["TWIN_DATABASE_URL"] = url.format(closed=_free_port(), port=get_settings().port)
    done = twin_cli(cli_env, "db", "status")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert message in done.stderr
    assert "wrong-password" not in done.stderr


def test_external_database_is_migrated(db_url: str, cli_env) -> None:
    admin = LocalCluster(get_settings()).url("postgres")
    with db.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS twin_external")
        conn.execute("CREATE DATABASE twin_external")
    external = db_url.rsplit("/", 1)[0] + "/twin_external"
    cli_env["TWIN_DATABASE_URL"] = external
    up = twin_cli(cli_env, "db", "up")
    assert up.returncode == 0, up.stderr
    status = json.loads(twin_cli(cli_env, "db", "status", "--json").stdout)
    assert status["own_cluster"] is False
    assert status["revision"] == head_revision()


def test_external_database_without_postgis_is_explained(cli_env) -> None:
    admin = LocalCluster(get_settings()).url("postgres")
    with db.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS twin_nogis")
        conn.execute("DROP ROLE IF EXISTS twin_clerk")
        conn.execute("CREATE ROLE twin_clerk LOGIN PASSWORD 'clerk'")
        conn.execute("CREATE DATABASE twin_nogis OWNER twin_clerk")
    port = get_settings().port
    cli_env["TWIN_DATABASE_URL"] = f"postgresql://twin_clerk:clerk@127.0.0.1:{port}/twin_nogis"
    done = twin_cli(cli_env, "db", "up")
    assert done.returncode == 1
    assert "has no PostGIS and it cannot be created" in done.stderr
    assert "Traceback" not in done.stderr


def test_settings_reject_a_non_postgres_url() -> None:
    with pytest.raises(ConfigError, match="not a PostgreSQL URL"):
        db.database_url(Settings(database_url="sqlite:///twin.db"))


@pytest.fixture
def second_cluster():
    """Another, empty cluster (its own directory and port), removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="twin-test-restore-"))
    root.chmod(0o755)
    settings = Settings(cluster_dir=root / "cluster", port=_free_port(), database="twin_restored")
    yield settings
    LocalCluster(settings).stop()
    shutil.rmtree(root, ignore_errors=True)


def test_backup_restores_into_an_empty_cluster(loaded: str, tmp_path: Path, second_cluster):
    dump = tmp_path / "twin.dump"
    db.backup(dump)
    assert dump.stat().st_size > 10_000
    db.restore(dump, second_cluster)
    restored = db.database_url(second_cluster)
    assert restored != loaded
    assert row_counts(restored) == row_counts(loaded)
    assert row_counts(restored)["pois"] == 2889
    with db.connect(restored) as a, db.connect(loaded) as b:
        query = "SELECT md5(string_agg(ST_AsEWKB(geom)::text, '' ORDER BY id)) FROM twin.districts"
        assert a.execute(query).fetchone() == b.execute(query).fetchone()


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path, loaded: str) -> None:
    bogus = tmp_path / "notes.dump"
    bogus.write_text("not a dump")
    with pytest.raises(DataFileError, match="not a twin backup"):
        db.restore(bogus)
    with pytest.raises(DataFileError, match="no such backup file"):
        db.restore(tmp_path / "absent.dump")
    assert row_counts(loaded)["roads"] == 1015


def test_unreachable_database_raises_database_error() -> None:
    with (
        pytest.raises(DatabaseError, match="cannot connect"),
        db.connect(f"postgresql://x:y@127.0.0.1:{_free_port()}/none"),
    ):
        pass


def test_restore_replaces_a_schema_with_extra_objects(loaded: str, tmp_path: Path) -> None:
    dump = tmp_path / "twin.dump"
    db.backup(dump)
    with db.connect(loaded) as conn:
        conn.execute("CREATE TABLE twin.scratch (id int)")
        conn.execute("CREATE VIEW twin.main_roads AS SELECT * FROM twin.roads WHERE lanes > '1'")
        conn.execute("DELETE FROM twin.pois WHERE key = 'shop'")
    db.restore(dump)
    with db.connect(loaded) as conn:
        leftovers = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'twin' AND c.relname IN ('scratch', 'main_roads')"
        ).fetchone()
    assert leftovers == (0,)
    assert row_counts(loaded)["pois"] == 2889


@pytest.mark.parametrize("share", [0.5, 0.9])
def test_a_truncated_backup_changes_nothing(loaded: str, tmp_path: Path, share: float) -> None:
    """A backup cut off midway is refused before the database is touched (it was committed
    in part when pg_restore's output was piped into psql: complete statements, then EOF)."""
    dump = tmp_path / "twin.dump"
    db.backup(dump)
    dump.write_bytes(dump.read_bytes()[: int(dump.stat().st_size * share)])
    before = row_counts(loaded)
    with pytest.raises(DataFileError, match="cannot read the backup, nothing restored"):
        db.restore(dump)
    assert row_counts(loaded) == before


def test_tools_get_the_password_through_the_environment_only() -> None:
    dsn, env = libpq_env("postgresql://twin:s%23cr%3Ft@127.0.0.1:5432/twin?sslmode=disable")
    assert "s#cr?t" not in dsn
    assert "password" not in dsn
    assert env["PGPASSWORD"] == "s#cr?t"
    assert "sslmode=disable" in dsn


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://twin:s3cret@db:5432/twin",
        "postgresql://twin@db:5432/twin?password=s3cret",
        "host=db user=twin password=s3cret dbname=twin",
        "postgresql://twin:s3c@ret@db/twin",
    ],
)
def test_messages_never_show_a_password(url: str) -> None:
    assert "s3c" not in describe_url(url)


def test_bad_setting_is_one_readable_line(cli_env) -> None:
    cli_env["TWIN_PORT"] = "abc"
    done = twin_cli(cli_env, "db", "status")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: TWIN_PORT: Input should be a valid integer, unable to parse string as an "
        "integer (got 'abc')"
    ]


def test_migrations_go_down_and_up_again() -> None:
    admin = LocalCluster(get_settings()).url("postgres")
    with db.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS twin_updown")
        conn.execute("CREATE DATABASE twin_updown")
    url = admin.rsplit("/", 1)[0] + "/twin_updown"
    with db.connect(url) as conn:
        conn.execute("CREATE EXTENSION postgis")
    db.migrate(url)
    from alembic import command
    from alembic.config import Config

    from twin.db.manage import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    db.migrate(url)
    with db.connect(url) as conn:
        assert conn.execute("SELECT version_num FROM twin.alembic_version").fetchone() == (
            head_revision(),
        )


def test_server_on_another_port_is_explained_not_waited_for() -> None:
    settings = get_settings().model_copy(update={"port": _free_port()})
    with pytest.raises(SetupError, match="says a server runs, but none answers on port"):
        LocalCluster(settings).start()


def test_status_json_says_when_the_cluster_is_down(cli_env, tmp_path: Path) -> None:
    cli_env["TWIN_CLUSTER_DIR"] = str(tmp_path / "never-created")
    done = twin_cli(cli_env, "db", "status", "--json")
    assert done.returncode == 3
    assert json.loads(done.stdout)["running"] is False


def test_revision_0009_goes_down_and_up_keeping_every_version(db_url: str) -> None:
    """Down to 0008 the history holds the versions in force again; back up, only the rows do."""
    from alembic import command
    from alembic.config import Config

    from twin.db.manage import MIGRATIONS, migrate
    from twin.register import store

    admin = LocalCluster(get_settings()).url("postgres")
    with db.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS twin_revisions")
        conn.execute("CREATE DATABASE twin_revisions")
    url = db_url.rsplit("/", 1)[0] + "/twin_revisions"
    with db.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
    migrate(url)
    alice = store.Actor("alice", "editor")
    lamp = store.create(
        "street_light", {"lamp_type": "sodium"}, shapely.Point(15.646, 46.557), actor=alice, url=url
    )
    store.update(lamp, 1, {"power_w": 70}, actor=alice, url=url)
    before = store.history(lamp, url=url)
    current = (
        "SELECT count(*) FILTER (WHERE h.record = to_jsonb(t) - 'geom' AND h.geom = t.geom), "
        "count(*) FILTER (WHERE h.record IS NULL) FROM register.street_light t "
        "JOIN register.history h ON h.asset_id = t.id AND h.valid_to IS NULL"
    )
    index = (
        "SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam "
        "WHERE c.oid = 'register.street_light_geom_gix'::regclass"
    )
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0008")
        with db.connect(url) as conn:
            assert conn.execute(current).fetchone() == (1, 0)
            assert conn.execute(index).fetchone() == ("gist",)
        migrate(url)
        with db.connect(url) as conn:
            assert conn.execute(current).fetchone() == (0, 0)  # the row is the current one
            assert conn.execute(index).fetchone() == ("gist",)
        assert store.history(lamp, url=url) == before
        assert [v.record["power_w"] for v in before] == [None, 70]
    finally:
        engine.dispose()
        with db.connect(admin, autocommit=True) as conn:
            conn.execute("DROP DATABASE twin_revisions WITH (FORCE)")
