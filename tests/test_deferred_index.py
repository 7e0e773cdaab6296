"""Big imports build the spatial index at commit (``register.defer_spatial_index``, 0010).

Every check here reads the catalog: which GiST indexes a class table has inside the writing
transaction, and after it commits or rolls back. Rows this module writes carry its own
``source`` and are deleted at the end.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import psycopg
import pytest

from twin.register import bulk, store
from twin.register.importer import import_file

SOURCE = f"test deferred index {uuid.uuid4().hex[:8]}"
ALICE = store.Actor("alice", "editor")
CENTRE = (549_400.0, 157_300.0)
TABLE = "register.street_light"
GIST = (
    "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
    "WHERE i.indrelid = 'register.street_light'::regclass AND a.amname = 'gist'"
)


def gist(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """The street-light table's GiST indexes as ``(name, definition)``."""
    return [(str(n), str(d)) for n, d in conn.execute(GIST).fetchall()]


def held(conn: psycopg.Connection) -> int:
    row = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def url(loaded: str) -> Iterator[str]:
    """The loaded test database; this module's street lights removed after each test."""
    yield loaded
    with psycopg.connect(loaded) as conn:
        conn.execute(f"DELETE FROM {TABLE} WHERE source = %s", (SOURCE,))


@pytest.fixture
def during(monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[str, str]]]:
    """The table's GiST indexes as each import's COPY starts (one entry per COPY)."""
    seen: list[list[tuple[str, str]]] = []
    copy = bulk.copy_arrow

    def watched(conn: psycopg.Connection, *args: object, **kwargs: object) -> None:
        seen.append(gist(conn))
        copy(conn, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bulk, "copy_arrow", watched)
    return seen


def lights(n: int, path: Path) -> Path:
    """Write ``n`` street lights near the centre (pole codes unique to this call)."""
    rng = np.random.default_rng(n)
    prefix = f"D{uuid.uuid4().hex[:8]}"
    frame = gpd.GeoDataFrame(
        {
            "pole_code": [f"{prefix}-{i:06d}" for i in range(n)],
            "lamp_type": rng.choice(["LED", "sodium"], n),
            "source": SOURCE,
        },
        geometry=gpd.points_from_xy(
            CENTRE[0] + rng.uniform(-2_000, 2_000, n), CENTRE[1] + rng.uniform(-2_000, 2_000, n)
        ),
        crs=3794,
    )
    frame.to_file(path)
    return path


def test_the_sql_function_drops_the_index_until_commit_and_commit_rebuilds_it(url) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        before = gist(conn)
        assert before, "the street-light table has a GiST index"
        with conn.transaction():
            dropped = conn.execute(
                "SELECT register.defer_spatial_index(%s::regclass, %s)", (TABLE, held(conn) + 1)
            ).fetchone()
            assert dropped == (len(before),)
            assert gist(conn) == []
            conn.execute(
                f"INSERT INTO {TABLE} (pole_code, source, geom) "
                "VALUES (%s, %s, ST_SetSRID(ST_MakePoint(549400, 157300), 3794))",
                (f"D{uuid.uuid4().hex[:8]}", SOURCE),
            )
        assert gist(conn) == before  # the same name and definition, built at commit
        assert conn.execute("SELECT count(*) FROM register.deferred_index").fetchone() == (0,)
        # The rebuilt index holds the row written while it was away.
        with conn.transaction():
            conn.execute("SET LOCAL enable_seqscan = off")
            found = conn.execute(
                f"SELECT count(*) FROM {TABLE} WHERE source = %s AND "
                "geom && ST_MakeEnvelope(549390, 157290, 549410, 157310, 3794)",
                (SOURCE,),
            ).fetchone()
            plan = "\n".join(
                str(r[0])
                for r in conn.execute(
                    f"EXPLAIN SELECT 1 FROM {TABLE} WHERE "
                    "geom && ST_MakeEnvelope(549390, 157290, 549410, 157310, 3794)"
                ).fetchall()
            )
        assert found == (1,)
        assert f"Index Scan using {before[0][0].split('.')[1]} " in plan


def test_a_rollback_keeps_the_index_and_a_bigger_table_is_left_alone(url) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        before = gist(conn)
        with conn.transaction(force_rollback=True):
            conn.execute(
                "SELECT register.defer_spatial_index(%s::regclass, %s)", (TABLE, held(conn))
            )
            assert gist(conn) == []
        assert gist(conn) == before
        with conn.transaction(force_rollback=True):
            kept = conn.execute(
                "SELECT register.defer_spatial_index(%s::regclass, %s)", (TABLE, held(conn) - 1)
            ).fetchone()
            assert kept == (0,)
            assert gist(conn) == before
        assert conn.execute("SELECT count(*) FROM register.deferred_index").fetchone() == (0,)


def test_only_editors_may_call_it_and_only_on_register_tables(url) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction(force_rollback=True):
            conn.execute("SET LOCAL ROLE twin_viewer")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT register.defer_spatial_index(%s::regclass, 1)", (TABLE,))
        with (
            conn.transaction(force_rollback=True),
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="not a table of the asset"),
        ):
            conn.execute("SELECT register.defer_spatial_index('twin.municipality'::regclass, 1)")
        with conn.transaction(force_rollback=True):
            conn.execute("SET LOCAL ROLE twin_editor")
            conn.execute("SELECT register.defer_spatial_index(%s::regclass, 1)", (TABLE,))
        # The notes hold SQL that the owner runs at commit: nobody else may write one.
        for role in ("twin_viewer", "twin_editor", "twin_admin"):
            with conn.transaction(force_rollback=True):
                conn.execute(f"SET LOCAL ROLE {role}")
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(
                        "INSERT INTO register.deferred_index (table_name, definition) "
                        "VALUES ('register.street_light', 'DROP TABLE register.street_light')"
                    )


def test_a_busy_table_keeps_its_index(url) -> None:
    """Another session reading the table: the drop gives up after 2 s, the write goes on."""
    with (
        psycopg.connect(url, autocommit=True) as reader,
        psycopg.connect(url, autocommit=True) as writer,
    ):
        before = gist(writer)
        with reader.transaction():
            reader.execute(f"SELECT 1 FROM {TABLE} LIMIT 1")
            with writer.transaction(force_rollback=True):
                start = time.monotonic()
                dropped = writer.execute(
                    "SELECT register.defer_spatial_index(%s::regclass, %s)",
                    (TABLE, held(writer) + 1),
                ).fetchone()
                waited = time.monotonic() - start
                assert dropped == (0,)
                assert gist(writer) == before
                assert writer.execute(
                    "SELECT count(*) FROM register.deferred_index"
                ).fetchone() == (0,)
        assert 1.5 < waited < 10


def test_a_big_import_writes_without_the_index_and_commits_with_it(
    url, tmp_path, monkeypatch, during
) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        before, rows = gist(conn), held(conn) + 5
    path = lights(rows, tmp_path / "many.gpkg")
    monkeypatch.setattr(bulk, "DEFER_INDEX_ROWS", 1)
    report = import_file(path, "street_light", actor=ALICE, url=url)
    assert (report.new, report.rejected) == (rows, 0)
    assert during == [[]]
    with psycopg.connect(url, autocommit=True) as conn:
        assert gist(conn) == before
        stored = conn.execute(
            f"SELECT count(*), min(version), max(version), min(changed_by), max(changed_by) "
            f"FROM {TABLE} WHERE source = %s",
            (SOURCE,),
        ).fetchone()
        assert stored == (rows, 1, 1, "alice", "alice")


def test_a_small_import_keeps_the_index_while_writing(url, tmp_path, during) -> None:
    path = lights(20, tmp_path / "few.gpkg")
    report = import_file(path, "street_light", actor=ALICE, url=url)
    assert report.new == 20
    assert len(during) == 1
    assert during[0]


def test_a_failed_big_import_leaves_table_and_index_as_they_were(
    url, tmp_path, monkeypatch
) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        before, count, rows = gist(conn), held(conn), held(conn) + 5
    path = lights(rows, tmp_path / "many.gpkg")
    copy = bulk.copy_arrow

    def broken(conn: psycopg.Connection, *args: object, **kwargs: object) -> None:
        copy(conn, *args, **kwargs)  # type: ignore[arg-type]
        raise OSError("the connection broke after the COPY")

    monkeypatch.setattr(bulk, "copy_arrow", broken)
    monkeypatch.setattr(bulk, "DEFER_INDEX_ROWS", 1)
    with pytest.raises(OSError, match="connection broke"):
        import_file(path, "street_light", actor=ALICE, url=url)
    with psycopg.connect(url, autocommit=True) as conn:
        assert gist(conn) == before
        assert held(conn) == count
        assert conn.execute("SELECT count(*) FROM register.deferred_index").fetchone() == (0,)


def test_readers_wait_for_a_deferred_import_and_then_see_all_of_it(url, tmp_path, monkeypatch):
    """While the index is away the table is locked: a reader sees none or all of the rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = held(conn) + 5
    path = lights(rows, tmp_path / "many.gpkg")
    seen: list[int] = []
    copy = bulk.copy_arrow

    def slow(conn: psycopg.Connection, *args: object, **kwargs: object) -> None:
        copy(conn, *args, **kwargs)  # type: ignore[arg-type]
        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(0.5)  # the reader is waiting on the lock meanwhile
        threads.append(reader)

    def read() -> None:
        with psycopg.connect(url) as other:
            got = other.execute(
                f"SELECT count(*) FROM {TABLE} WHERE source = %s",
                (SOURCE,),
            ).fetchone()
            seen.append(int(got[0]) if got else -1)

    threads: list[threading.Thread] = []
    monkeypatch.setattr(bulk, "copy_arrow", slow)
    monkeypatch.setattr(bulk, "DEFER_INDEX_ROWS", 1)
    import_file(path, "street_light", actor=ALICE, url=url)
    for thread in threads:
        thread.join(timeout=30)
    assert seen == [rows]


def test_without_the_grant_an_import_keeps_the_index_and_succeeds(
    url, tmp_path, monkeypatch, during
):
    """A database whose roles lack EXECUTE on the function still imports (index in place)."""
    with psycopg.connect(url) as conn:
        before, rows = gist(conn), held(conn) + 5
    path = lights(rows, tmp_path / "many.gpkg")
    monkeypatch.setattr(bulk, "DEFER_INDEX_ROWS", 1)
    grant = "register.defer_spatial_index(regclass, bigint) {} twin_editor"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"REVOKE EXECUTE ON FUNCTION {grant.format('FROM')}")
        try:
            report = import_file(path, "street_light", actor=ALICE, url=url)
        finally:
            admin.execute(f"GRANT EXECUTE ON FUNCTION {grant.format('TO')}")
    assert report.new == rows
    assert during == [before]
