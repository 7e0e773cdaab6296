"""Test fixtures: a throwaway PostGIS cluster that the test run creates, loads and removes.

The user's own cluster (``.twin/``) and any ``TWIN_DATABASE_URL`` are never touched: the
run points ``TWIN_*`` at a temporary directory and a free port before anything connects.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyogrio
import pytest

from twin.load.catalog import TABLE_KEYS

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "gis_data"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pytest_configure(config: pytest.Config) -> None:
    """Create and start the throwaway cluster before collection (the header shows its versions)."""
    from twin import db
    from twin.config import get_settings

    root = Path(tempfile.mkdtemp(prefix="twin-test-"))
    root.chmod(0o755)  # the postgres system user must reach the cluster directory
    os.environ.pop("TWIN_DATABASE_URL", None)
    os.environ.update(
        TWIN_CLUSTER_DIR=str(root / "cluster"),
        TWIN_PORT=str(_free_port()),
        TWIN_DATABASE="twin_test",
        TWIN_DATA_DIR=str(DATA_DIR),
        TWIN_MQTT_PORT=str(_free_port()),
    )
    os.environ.pop("TWIN_MQTT_URL", None)
    get_settings.cache_clear()
    config.stash[_ROOT] = root
    db.up()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the throwaway cluster and delete it."""
    from twin.config import get_settings
    from twin.db.cluster import LocalCluster

    root = config.stash.get(_ROOT, None)
    if root is None:
        return
    LocalCluster(get_settings()).stop()
    shutil.rmtree(root, ignore_errors=True)


_ROOT = pytest.StashKey[Path]()


def pytest_report_header(config: pytest.Config) -> list[str]:  # noqa: ARG001 - hook signature
    """Show the versions the suite runs against."""
    from twin import db
    from twin.db.manage import server_versions

    with db.connect() as conn:
        versions = server_versions(conn)
    versions["GDAL"] = pyogrio.__gdal_version_string__
    return ["twin test database: " + ", ".join(f"{k} {v}" for k, v in versions.items())]


@pytest.fixture(scope="session")
def db_url() -> str:
    """URL of the throwaway test database."""
    from twin import db

    return db.database_url()


@pytest.fixture(scope="session")
def mqtt_url() -> Iterator[str]:
    """The test run's own mosquitto (under the throwaway cluster directory, on a free port)."""
    from twin.mqtt.broker import Broker

    broker = Broker()
    url = broker.up()
    try:
        yield url
    finally:
        broker.down()


@pytest.fixture(scope="session")
def loaded(db_url: str) -> str:
    """The test database with the shipped Maribor data loaded."""
    from twin.load.maribor import load

    load(url=db_url)
    return db_url


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A private copy of gis_data/ that a test may corrupt."""
    target = tmp_path / "gis_data"
    shutil.copytree(DATA_DIR, target)
    for path in target.iterdir():
        path.chmod(0o644)
    return target


@pytest.fixture
def cli_env() -> dict[str, str]:
    """Environment for running the ``twin`` CLI against the test database."""
    return {**os.environ}


#: Every table the Maribor load writes.
TWIN_TABLES = (*TABLE_KEYS, "datasets")


def db_state(url: str) -> dict[str, list[tuple[str, str]]]:
    """Return every real twin row's identity and version (xmin): equal states = nothing changed.

    The synthetic layers' entries in ``twin.datasets`` belong to ``twin synth`` and are left out.
    """
    from twin import db

    with db.connect(url) as conn:
        return {
            table: conn.execute(
                f"SELECT ctid::text, xmin::text FROM twin.{table} "
                f"{'WHERE NOT synthetic' if table == 'datasets' else ''} ORDER BY ctid"
            ).fetchall()
            for table in TWIN_TABLES
        }


def row_counts(url: str) -> dict[str, int]:
    """Return the row count of every twin table."""
    from twin import db

    with db.connect(url) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM twin.{table}").fetchone()[0]
            for table in TWIN_TABLES
        }
