"""The asset register in PostGIS: class files, history from any client, stale edits, roles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
import pytest
import shapely

from twin._errors import AccessDenied, ConfigError, InvalidValue, StaleEdit
from twin.db.engine import libpq_env
from twin.register import bulk, schema, store
from twin.register.catalog import AssetClass, classes, read_class
from twin.register.importer import import_file
from twin.register.users import add_user, authenticate

#: The ``twin`` command of this interpreter (the venv's bin need not be on PATH).
TWIN_CLI = (sys.executable, "-m", "twin.cli")

REPO = Path(__file__).resolve().parent.parent
ALICE = store.Actor("alice", "editor")
BOB = store.Actor("bob", "editor")
#: A point in the centre of Maribor (EPSG:4326).
CENTRE = shapely.Point(15.6467, 46.5576)


def _light(url: str, **values: object) -> str:
    """Create a street light with a unique name; return its id."""
    values = {
        "lamp_type": "sodium",
        "power_w": 100,
        "name": f"lamp {uuid.uuid4().hex[:8]}",
        **values,
    }
    return store.create("street_light", values, CENTRE, actor=ALICE, reason="test", url=url)


def _run(url: str, sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, params or None)
        return cur.fetchall() if cur.description else []


def test_every_class_file_is_valid_and_has_its_table(db_url: str) -> None:
    found = classes()
    wanted = {
        "building",
        "brownfield",
        "street_light",
        "sensor",
        "mobile_site",
        "fiber_segment",
        "fiber_node",
        "coverage_area",
        "waste_container",
        "parking_lot",
        "traffic_light",
        "ev_charger",
    }
    assert wanted <= set(found)
    tables = {
        r[0]
        for r in _run(
            db_url,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'register'",
        )
    }
    assert set(found) <= tables
    columns = dict(
        _run(
            db_url,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'register' AND table_name = 'street_light'",
        )
    )
    assert columns["power_w"] == "bigint"
    assert columns["telemanaged"] == "boolean"
    assert columns["pole_height_m"] == "double precision"
    (geometry_type,) = _run(
        db_url,
        "SELECT type FROM geometry_columns WHERE "
        "f_table_schema = 'register' AND f_table_name = 'street_light'",
    )[0]
    assert geometry_type == "POINT"


def test_a_bad_class_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bench.toml"
    path.write_text('name = "bench"\ntitle = "Bench"\ngeometry = "Cube"\n')
    with pytest.raises(ConfigError, match=r"bench\.toml: geometry"):
        read_class(path)
    path.write_text(
        'name = "bench"\ntitle = "Bench"\ngeometry = "Point"\n'
        '[[attributes]]\nname = "seats"\ntype = "integer"\nallowed = ["1"]\n'
    )
    with pytest.raises(ConfigError, match="allowed values are for text"):
        read_class(path)


def _bench(attributes: str) -> AssetClass:
    text = f'name = "bench"\ntitle = "Bench"\ngeometry = "Point"\n{attributes}'
    return AssetClass.model_validate(__import__("tomllib").loads(text))


def test_adding_a_class_file_creates_its_table_and_new_attributes_their_columns(
    db_url: str,
) -> None:
    seats = '[[attributes]]\nname = "seats"\ntype = "integer"\nmin = 1\n'
    material = '[[attributes]]\nname = "material"\ntype = "text"\nallowed = ["wood", "steel"]\n'
    try:
        with psycopg.connect(db_url) as conn:
            done = schema.sync(conn, {**classes(), "bench": _bench(seats)})
        assert done == ["register.bench: created"]
        with psycopg.connect(db_url) as conn:
            done = schema.sync(conn, {**classes(), "bench": _bench(seats + material)})
        assert done == ["register.bench: added column material"]
        with pytest.raises(psycopg.errors.CheckViolation):
            _run(
                db_url,
                "INSERT INTO register.bench (material, geom) "
                "VALUES ('plastic', 'SRID=3794;POINT(550000 157000)')",
            )
        _run(
            db_url,
            "INSERT INTO register.bench (seats, geom) VALUES (3, 'SRID=3794;POINT(550000 157000)')",
        )
        with psycopg.connect(db_url) as conn, pytest.raises(ConfigError, match="seats"):
            schema.sync(conn, {**classes(), "bench": _bench(material)})
        (n,) = _run(
            db_url,
            "SELECT count(*) FROM register.changes WHERE class = 'bench' AND operation = 'insert'",
        )[0]
        assert n == 1
    finally:
        _run(db_url, "DROP TABLE IF EXISTS register.bench CASCADE")
        with psycopg.connect(db_url) as conn:
            schema.sync(conn)


def test_every_change_is_in_the_history_with_who_and_why(db_url: str) -> None:
    asset = _light(db_url)
    v2 = store.update(asset, 1, {"lamp_type": "LED"}, actor=BOB, reason="repaired", url=db_url)
    assert v2 == 2
    versions = store.history(asset, url=db_url)
    assert [(v.version, v.operation, v.changed_by, v.reason) for v in versions] == [
        (1, "insert", "alice", "test"),
        (2, "update", "bob", "repaired"),
    ]
    assert versions[1].changes == ["lamp_type: 'sodium' → 'LED'"]
    assert versions[0].valid_to == versions[1].valid_from
    assert versions[1].valid_to is None


def test_an_update_that_changes_nothing_adds_no_version(db_url: str) -> None:
    asset = _light(db_url)
    assert store.update(asset, 1, {"lamp_type": "sodium"}, actor=ALICE, url=db_url) == 1
    assert len(store.history(asset, url=db_url)) == 1


def test_a_psql_edit_is_recorded_with_the_database_login(db_url: str) -> None:
    asset = _light(db_url)
    dsn, env = libpq_env(db_url)
    done = subprocess.run(
        [
            "psql",
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            f"--dbname={dsn}",
            "-c",
            f"UPDATE register.street_light SET power_w = 42 WHERE id = '{asset}'",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    last = store.history(asset, url=db_url)[-1]
    assert (last.version, last.changed_by, last.changes) == (2, "twin", ["power_w: 100 → 42"])


def test_an_ogr2ogr_append_is_recorded_in_the_history(db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "new_light.geojson"
    name = f"ogr light {uuid.uuid4().hex[:8]}"
    source.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
        f'{{"name": "{name}", "lamp_type": "LED", "power_w": 30}}, '
        '"geometry": {"type": "Point", "coordinates": [15.64, 46.56]}}]}'
    )
    dsn, env = libpq_env(db_url)
    done = subprocess.run(
        [
            "ogr2ogr",
            "-append",
            "-f",
            "PostgreSQL",
            f"PG:{dsn}",
            str(source),
            "-nln",
            "register.street_light",
            "-t_srs",
            "EPSG:3794",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    ((asset, version),) = _run(
        db_url, "SELECT id, version FROM register.street_light WHERE name = %s", name
    )
    assert asset.startswith("street_light:")
    assert version == 1
    (first,) = store.history(asset, url=db_url)
    assert (first.operation, first.changed_by) == ("insert", "twin")


def test_two_users_editing_at_once_the_second_save_is_refused(db_url: str) -> None:
    asset = _light(db_url)
    opened = store.get_asset(asset, url=db_url)["version"]  # both open version 1
    store.update(asset, opened, {"power_w": 70}, actor=ALICE, reason="first", url=db_url)
    with pytest.raises(StaleEdit, match="power_w: 100 → 70") as refused:
        store.update(asset, opened, {"lamp_type": "LED"}, actor=BOB, url=db_url)
    assert "alice" in str(refused.value)
    now = store.get_asset(asset, url=db_url)
    assert (now["version"], now["power_w"], now["lamp_type"]) == (2, 70, "sodium")


def test_a_stale_version_is_refused_by_the_database_itself(db_url: str) -> None:
    asset = _light(db_url)
    store.update(asset, 1, {"power_w": 60}, actor=ALICE, url=db_url)
    with pytest.raises(psycopg.Error) as refused:
        _run(
            db_url, "UPDATE register.street_light SET power_w = 1, version = 1 WHERE id = %s", asset
        )
    assert refused.value.sqlstate == "TW409"
    assert store.get_asset(asset, url=db_url)["power_w"] == 60


def test_ids_are_stable(db_url: str) -> None:
    asset = _light(db_url)
    with pytest.raises(psycopg.errors.CheckViolation, match="stable"):
        _run(db_url, "UPDATE register.street_light SET id = 'other' WHERE id = %s", asset)


def test_as_of_returns_the_register_at_a_past_moment(db_url: str) -> None:
    asset = _light(db_url, name="as-of lamp")
    before = datetime.now(UTC)
    store.update(asset, 1, {"lamp_type": "LED", "name": "renamed"}, actor=ALICE, url=db_url)
    then = store.list_assets("street_light", search=asset, as_of=before, url=db_url)
    now = store.list_assets("street_light", search=asset, url=db_url)
    assert list(then["lamp_type"]) == ["sodium"]
    assert list(then["name"]) == ["as-of lamp"]
    assert list(now["lamp_type"]) == ["LED"]
    assert list(now["name"]) == ["renamed"]
    earlier = store.list_assets(
        "street_light", search=asset, as_of=datetime(2000, 1, 1, tzinfo=UTC), url=db_url
    )
    assert earlier.empty


def test_an_old_version_is_restored_as_a_new_change(db_url: str) -> None:
    asset = _light(db_url)
    store.update(
        asset,
        1,
        {"lamp_type": "LED", "power_w": 20},
        actor=ALICE,
        url=db_url,
        geometry=shapely.Point(15.65, 46.56),
    )
    assert store.restore(asset, 1, actor=BOB, url=db_url) == 3
    now = store.get_asset(asset, url=db_url)
    assert (now["lamp_type"], now["power_w"], now["changed_by"]) == ("sodium", 100, "bob")
    assert shapely.from_wkt(now["wkt"]).distance(CENTRE) < 1e-6
    assert store.history(asset, url=db_url)[-1].reason == "restored version 1"


def test_a_deleted_asset_is_restored_with_its_id(db_url: str) -> None:
    asset = _light(db_url)
    _run(db_url, "DELETE FROM register.street_light WHERE id = %s", asset)
    with pytest.raises(InvalidValue, match="deleted"):
        store.get_asset(asset, url=db_url)
    assert [v.operation for v in store.history(asset, url=db_url)] == ["insert", "delete"]
    assert store.restore(asset, 1, actor=ALICE, url=db_url) == 3
    assert store.get_asset(asset, url=db_url)["lamp_type"] == "sodium"


def test_a_deleted_id_inserted_again_by_psql_continues_its_versions(db_url: str) -> None:
    asset, other = _light(db_url), f"street_light:psql-{uuid.uuid4().hex[:8]}"
    _run(db_url, "UPDATE register.street_light SET power_w = 5 WHERE id = %s", asset)
    _run(db_url, "DELETE FROM register.street_light WHERE id = %s", asset)
    # One statement: the old id (versions 1 to 3) and a new one, stamped by the defaults.
    _run(
        db_url,
        "INSERT INTO register.street_light (id, lamp_type, geom) VALUES "
        "(%s, 'LED', 'SRID=3794;POINT(550000 157000)'), "
        "(%s, 'LED', 'SRID=3794;POINT(550010 157000)')",
        asset,
        other,
    )
    assert store.get_asset(asset, url=db_url)["version"] == 4
    assert store.get_asset(other, url=db_url)["version"] == 1
    versions = store.history(asset, url=db_url)
    assert [(v.version, v.operation) for v in versions] == [
        (1, "insert"),
        (2, "update"),
        (3, "delete"),
        (4, "insert"),
    ]
    assert versions[-1].valid_to is None
    assert (versions[-1].record["version"], versions[-1].record["lamp_type"]) == (4, "LED")
    assert [v.version for v in store.history(other, url=db_url)] == [1]


def test_a_big_insert_that_recreates_a_deleted_id_continues_its_versions(db_url: str) -> None:
    """A statement of 300 rows (past small_statement) takes the join path of log_insert."""
    asset, tag = _light(db_url), uuid.uuid4().hex[:8]
    _run(db_url, "DELETE FROM register.street_light WHERE id = %s", asset)
    _run(
        db_url,
        "INSERT INTO register.street_light (id, lamp_type, geom) "
        "SELECT CASE WHEN i = 150 THEN %s ELSE 'street_light:big-' || %s || '-' || i END, "
        "'LED', ST_SetSRID(ST_MakePoint(550000 + i, 157000), 3794) "
        "FROM generate_series(1, 300) i",
        asset,
        tag,
    )
    try:
        assert store.get_asset(asset, url=db_url)["version"] == 3
        assert [(v.version, v.operation) for v in store.history(asset, url=db_url)] == [
            (1, "insert"),
            (2, "delete"),
            (3, "insert"),
        ]
        assert store.get_asset(f"street_light:big-{tag}-1", url=db_url)["version"] == 1
    finally:
        _run(
            db_url,
            "DELETE FROM register.street_light WHERE id LIKE %s",
            f"street_light:big-{tag}-%",
        )


def test_an_insert_cannot_forge_who_when_or_version(db_url: str) -> None:
    asset = f"street_light:forged-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_url) as conn:
        conn.execute("SET ROLE twin_editor")
        conn.execute(
            "INSERT INTO register.street_light "
            "(id, lamp_type, geom, version, changed_by, changed_at, change_reason) "
            "VALUES (%s, 'LED', 'SRID=3794;POINT(550000 157000)', 7, 'mallory', "
            "'2000-01-01', 'forged')",
            (asset,),
        )
        row = conn.execute(
            "SELECT version, changed_by, changed_at = now(), change_reason "
            "FROM register.street_light WHERE id = %s",
            (asset,),
        ).fetchone()
        assert row == (1, "twin", True, None)
        # The mark that lets the statement trigger renumber is the register owner's alone.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO register.renumbering VALUES (pg_current_xact_id())")


@pytest.mark.parametrize(
    "point",
    [
        "ST_MakePoint(550000, 157000)",
        "'POINT EMPTY'::geometry",
        "ST_MakePoint(1e308, -1e308)",
        "ST_MakePoint('NaN', 157000)",
        "ST_MakePoint(550000, 'NaN')",
        "ST_MakePoint('Infinity', 157000)",
        "ST_MakePoint(550000, '-Infinity')",
    ],
)
def test_the_point_validity_check_says_what_st_isvalid_says(db_url: str, point: str) -> None:
    """Point classes check finite x and y instead of ST_IsValid (revision 0009): same answer."""
    geom = f"ST_SetSRID({point}, 3794)"
    ((valid,),) = _run(db_url, f"SELECT ST_IsValid({geom})")
    insert = f"INSERT INTO register.street_light (lamp_type, geom) VALUES ('LED', {geom})"
    with psycopg.connect(db_url) as conn:
        if valid:
            conn.execute(insert)
        else:
            with pytest.raises(psycopg.errors.CheckViolation, match="street_light_geom_valid"):
                conn.execute(insert)
        conn.rollback()


@pytest.mark.parametrize("table", ["street_light", "sensor", "building"])
@pytest.mark.parametrize(
    "where",
    [
        "geom && ST_MakeEnvelope(549000, 156000, 551000, 158000, 3794)",
        "ST_Intersects(geom, ST_MakeEnvelope(549000, 156000, 551000, 158000, 3794))",
        "ST_DWithin(geom, 'SRID=3794;POINT(550000 157000)'::geometry, 250)",
    ],
)
def test_spatial_searches_use_the_geometry_index(db_url: str, table: str, where: str) -> None:
    """Every class has a GiST index on its geometry that serves the bounding-box searches of
    the app, the API and QGIS."""
    ((used,),) = _run(
        db_url,
        "SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam "
        "WHERE c.oid = %s::regclass",
        f"register.{table}_geom_gix",
    )
    assert used == "gist"
    with psycopg.connect(db_url) as conn:
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            r[0] for r in conn.execute(f"EXPLAIN SELECT id FROM register.{table} WHERE {where}")
        )
    assert f"{table}_geom_gix" in plan, plan


def test_every_geometry_index_is_gist(db_url: str) -> None:
    """No register geometry is indexed with SP-GiST: tried for points (cheaper inserts), it
    let PostgreSQL answer ``count(*)`` of a big table with an index-only scan of that index,
    which crashed the server (PostgreSQL 15, PostGIS 3.3; seen at ``--scale 10``)."""
    others = _run(
        db_url,
        "SELECT i.indexrelid::regclass::text, a.amname FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
        "JOIN pg_attribute t ON t.attrelid = i.indrelid AND t.attnum = ANY(i.indkey) "
        "WHERE i.indrelid::regclass::text LIKE 'register.%%' AND t.attname = 'geom' "
        "AND a.amname <> 'gist'",
    )
    assert others == []
    indexed = {
        r[0]
        for r in _run(
            db_url,
            "SELECT i.indrelid::regclass::text FROM pg_index i JOIN pg_attribute t "
            "ON t.attrelid = i.indrelid AND t.attnum = ANY(i.indkey) "
            "WHERE i.indrelid::regclass::text LIKE 'register.%%' AND t.attname = 'geom'",
        )
    }
    assert indexed == {f"register.{c.table}" for c in classes().values()}


def _assert_records_are_the_rows(db_url: str) -> None:
    """The version in force of every row is the row itself (revision 0009).

    The history holds no entry at a row's version (only ended versions and deletions);
    ``register.versions`` ends with the row: its stamps, the row without its geometry, and
    its geometry.
    """
    for cls in classes().values():
        table = f"register.{cls.table}"
        ((rows, repeated),) = _run(
            db_url,
            "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM register.history h "
            "WHERE h.class = %s AND h.asset_id = t.id AND h.version >= t.version)) "
            f"FROM {table} t",
            cls.name,
        )
        assert repeated == 0, cls.name
        ((checked, differ),) = _run(
            db_url,
            "SELECT count(*), count(*) FILTER (WHERE v.record IS DISTINCT FROM "
            "to_jsonb(t) - 'geom' OR NOT ST_Equals(v.geom, t.geom) OR v.version <> t.version "
            "OR v.valid_from <> t.changed_at OR v.changed_by <> t.changed_by "
            "OR v.reason IS DISTINCT FROM t.change_reason OR v.history_id IS NOT NULL) "
            f"FROM (SELECT * FROM {table} ORDER BY id LIMIT 25) t, "
            "LATERAL register.versions(%s, t.id) v WHERE v.valid_to IS NULL",
            cls.name,
        )
        assert (checked, differ) == (min(rows, 25), 0), cls.name


def test_the_history_record_is_the_row_without_its_geometry(db_url: str) -> None:
    asset = _light(db_url, road="Titova cesta", pole_height_m=7.25)
    ((before, geom),) = _run(
        db_url,
        "SELECT to_jsonb(t) - 'geom', ST_AsEWKB(geom) FROM register.street_light t WHERE id = %s",
        asset,
    )
    store.update(asset, 1, {"install_year": 1999}, actor=BOB, url=db_url)
    _assert_records_are_the_rows(db_url)
    # The version that ended is kept whole: the row as it was, its geometry apart.
    ((record, kept),) = _run(
        db_url,
        "SELECT record, ST_AsEWKB(geom) FROM register.history WHERE asset_id = %s AND version = 1",
        asset,
    )
    assert record == before
    assert "geom" not in record
    assert bytes(kept) == bytes(geom)
    versions = store.history(asset, url=db_url)
    assert [v.record["install_year"] for v in versions] == [None, 1999]
    assert [v.record["road"] for v in versions] == ["Titova cesta"] * 2
    assert versions[1].changes == ["install_year: None → 1999"]


def test_an_asset_stored_by_another_session_during_an_import_is_a_clear_refusal(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes = [f"JR-race-{uuid.uuid4().hex[:8]}-{i}" for i in range(2)]
    path = tmp_path / "lights.geojson"
    features = [
        {
            "type": "Feature",
            "properties": {"pole_code": code, "lamp_type": "LED"},
            "geometry": {"type": "Point", "coordinates": [15.646, 46.557]},
        }
        for code in codes
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    append = bulk.append

    def racing(*args: object, **kwargs: object) -> int:
        _light(db_url, pole_code=codes[1])  # committed by another session meanwhile
        return append(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bulk, "append", racing)
    with pytest.raises(StaleEdit, match=rf"another session .*pole_code.*{codes[1]}"):
        import_file(path, "street_light", actor=ALICE, url=db_url)
    stored = _run(
        db_url, "SELECT pole_code FROM register.street_light WHERE pole_code = ANY(%s)", codes
    )
    assert stored == [(codes[1],)]  # the other session's asset only; nothing imported


def test_retire_keeps_the_asset_and_its_history(db_url: str) -> None:
    asset = _light(db_url)
    store.retire(asset, 1, actor=ALICE, reason="dismantled", url=db_url)
    assert store.get_asset(asset, url=db_url)["state"] == "retired"
    assert store.history(asset, url=db_url)[-1].changes == ["state: 'active' → 'retired'"]


def test_invalid_values_are_refused_per_field_and_nothing_is_saved(db_url: str) -> None:
    asset = _light(db_url)
    with pytest.raises(InvalidValue) as refused:
        store.update(asset, 1, {"lamp_type": "gas", "power_w": "lots"}, actor=ALICE, url=db_url)
    assert set(refused.value.errors) == {"lamp_type", "power_w"}
    with pytest.raises(InvalidValue, match="needs a Point"):
        store.update(
            asset,
            1,
            {},
            actor=ALICE,
            url=db_url,
            geometry=shapely.LineString([(15.6, 46.5), (15.7, 46.6)]),
        )
    with pytest.raises(InvalidValue, match="parent"):
        store.update(asset, 1, {"parent_id": "building:nope"}, actor=ALICE, url=db_url)
    assert store.get_asset(asset, url=db_url)["version"] == 1


@pytest.mark.parametrize(
    "text", ["'); DROP TABLE register.street_light; --", "<img src=x onerror=alert(1)>"]
)
def test_sql_and_html_in_text_fields_are_stored_as_written(db_url: str, text: str) -> None:
    asset = _light(db_url, name=text, road=text)
    stored = store.get_asset(asset, url=db_url)
    assert (stored["name"], stored["road"]) == (text, text)
    assert _run(db_url, "SELECT to_regclass('register.street_light') IS NOT NULL") == [(True,)]


def test_without_signing_in_nothing_can_be_changed(db_url: str) -> None:
    asset = _light(db_url)
    with pytest.raises(AccessDenied, match="sign in"):
        store.update(asset, 1, {"power_w": 1}, actor=None, url=db_url)
    with pytest.raises(AccessDenied, match="viewer"):
        store.update(asset, 1, {"power_w": 1}, actor=store.Actor("vera", "viewer"), url=db_url)
    assert store.get_asset(asset, url=db_url)["version"] == 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE register.street_light SET power_w = 1",
        "INSERT INTO register.street_light (lamp_type, geom) "
        "VALUES ('LED', 'SRID=3794;POINT(550000 157000)')",
        "DELETE FROM register.street_light",
        "INSERT INTO register.history "
        "(class, asset_id, version, operation, valid_from, changed_by, record) "
        "VALUES ('x', 'x', 1, 'insert', now(), 'x', '{}')",
        "SELECT * FROM register.users",
    ],
)
def test_the_viewer_database_role_cannot_change_anything(db_url: str, statement: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("SET ROLE twin_viewer")
        assert conn.execute("SELECT count(*) FROM register.street_light").fetchone() is not None
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_the_editor_role_edits_the_register_but_not_users_or_history(db_url: str) -> None:
    asset = _light(db_url)
    with psycopg.connect(db_url) as conn:
        conn.execute("SET ROLE twin_editor")
        conn.execute("UPDATE register.street_light SET power_w = 5 WHERE id = %s", (asset,))
        conn.commit()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE register.history SET changed_by = 'nobody'")
    assert store.history(asset, url=db_url)[-1].changes == ["power_w: 100 → 5"]


def test_passwords_are_hashed_and_checked(db_url: str) -> None:
    add_user("carol", "correct horse", "editor", url=db_url)
    ((stored,),) = _run(db_url, "SELECT password_hash FROM register.users WHERE name = 'carol'")
    assert "correct horse" not in stored
    assert stored.startswith("scrypt$")
    assert authenticate("carol", "correct horse", url=db_url) == store.Actor("carol", "editor")
    with pytest.raises(AccessDenied, match="wrong user name or password"):
        authenticate("carol", "wrong horse", url=db_url)
    with pytest.raises(InvalidValue, match="at least 8"):
        add_user("dave", "short", "editor", url=db_url)
    with pytest.raises(InvalidValue, match="role"):
        add_user("dave", "long enough", "superuser", url=db_url)


def test_cli_history_and_a_stale_restore_message(db_url: str, cli_env: dict[str, str]) -> None:
    asset = _light(db_url)
    store.update(asset, 1, {"power_w": 77}, actor=BOB, reason="cli test", url=db_url)
    done = subprocess.run(
        [*TWIN_CLI, "assets", "history", asset, "--json"],
        capture_output=True,
        text=True,
        check=False,
        env=cli_env,
    )
    assert done.returncode == 0, done.stderr
    versions = json.loads(done.stdout)
    assert [(v["version"], v["changed_by"], v["reason"]) for v in versions] == [
        (1, "alice", "test"),
        (2, "bob", "cli test"),
    ]
    missing = subprocess.run(
        [*TWIN_CLI, "assets", "show", "street_light:nope"],
        capture_output=True,
        text=True,
        check=False,
        env=cli_env,
    )
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "error: no asset with id 'street_light:nope' in the register"
    ]


def test_a_qgis_login_in_the_editor_role_is_named_in_the_history(db_url: str) -> None:
    asset = _light(db_url)
    _run(db_url, "DROP ROLE IF EXISTS ana")
    _run(db_url, "CREATE ROLE ana LOGIN PASSWORD 'ana-secret' IN ROLE twin_editor")
    info = psycopg.conninfo.conninfo_to_dict(db_url)
    ana = psycopg.conninfo.make_conninfo(db_url, user="ana", password="ana-secret")  # noqa: S106
    assert info["user"] != "ana"
    with psycopg.connect(ana) as conn:
        conn.execute("UPDATE register.street_light SET lamp_type = 'LED' WHERE id = %s", (asset,))
    last = store.history(asset, url=db_url)[-1]
    assert (last.changed_by, last.changes) == ("ana", ["lamp_type: 'sodium' → 'LED'"])
    with psycopg.connect(ana) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM register.users")


DEBIAN_PYTHON = Path("/usr/bin/python3")


def _has_qgis() -> bool:
    done = subprocess.run([str(DEBIAN_PYTHON), "-c", "import qgis.core"], capture_output=True,
                          check=False)  # fmt: skip
    return done.returncode == 0


@pytest.mark.skipif(not DEBIAN_PYTHON.exists() or not _has_qgis(), reason="python3-qgis missing")
def test_qgis_opens_the_register_table_with_types_and_its_edit_is_in_the_history(
    db_url: str,
) -> None:
    asset = _light(db_url)
    info = psycopg.conninfo.conninfo_to_dict(db_url)
    done = subprocess.run(
        [str(DEBIAN_PYTHON), str(REPO / "tests" / "clients" / "qgis_edit.py"),
         str(info["host"]), str(info["port"]), str(info["dbname"]), str(info["user"]),
         "street_light", asset, "lamp_type", "LED"],
        capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PGPASSWORD": str(info["password"])},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["valid"]
    assert result["crs"] == "EPSG:3794"
    assert result["fields"]["power_w"] == "int8"
    assert result["fields"]["telemanaged"] == "bool"
    assert result["fields"]["pole_height_m"] == "float8"
    assert result["committed"], result["errors"]
    last = store.history(asset, url=db_url)[-1]
    assert (last.version, last.changes) == (2, ["lamp_type: 'sodium' → 'LED'"])


def test_a_new_synthetic_city_is_merged_into_the_register_as_changes(db_url: str) -> None:
    from twin.load.maribor import load
    from twin.synth.city import synthesize

    load(url=db_url)
    first = synthesize(seed=1, scale=0.05, url=db_url)
    other = synthesize(seed=2, scale=0.05, url=db_url)
    assert other.content_hash != first.content_hash
    ((changed,),) = _run(
        db_url,
        "SELECT count(*) FROM register.changes WHERE changed_by = 'twin synth --seed 2' "
        "AND operation = 'update'",
    )
    assert changed > 0
    again = synthesize(seed=1, scale=0.05, url=db_url)
    assert again.content_hash == first.content_hash
    state = "SELECT (SELECT count(*) FROM register.history), max(change_id) FROM register.changes"
    before = _run(db_url, state)
    synthesize(seed=1, scale=0.05, url=db_url)
    assert _run(db_url, state) == before
    _assert_records_are_the_rows(db_url)


@pytest.mark.parametrize(
    "geoms",
    [
        [shapely.Point(550000.25, 157000.5), shapely.Point(-1e-9, 1e12)],
        [shapely.Point(1, 2), shapely.LineString([(0, 0), (1, 1)])],
        [shapely.Point(1, 2, 3)],
        [shapely.Point()],
    ],
)
def test_points_are_sent_as_the_same_ewkb_as_shapely_writes(geoms: list[shapely.Geometry]) -> None:
    values = np.array(geoms, dtype=object)
    expected = shapely.to_wkb(shapely.set_srid(values, 3794), hex=True, include_srid=True)
    assert bulk.ewkb_hex(values).to_pylist() == list(expected)


def test_an_identifier_held_by_another_asset_is_named_with_its_holder(
    db_url: str, tmp_path: Path
) -> None:
    """The two conflicts of external identifiers (a text and an integer one) are reported."""
    code = uuid.uuid4().hex[:8]
    osm = int(uuid.uuid4().int % 10**12)
    site = {"operator": "Telemach", "technologies": ["4G"]}
    first = store.create(
        "mobile_site", {**site, "site_code": f"A-{code}", "osm_id": osm}, CENTRE, actor=ALICE,
        url=db_url,
    )  # fmt: skip
    second = store.create(
        "mobile_site", {**site, "site_code": f"B-{code}", "osm_id": osm + 1}, CENTRE, actor=ALICE,
        url=db_url,
    )  # fmt: skip
    point = {"type": "Point", "coordinates": [CENTRE.x, CENTRE.y]}
    rows = [
        # no id: its site code finds the first site, its OSM node is the second's
        {"site_code": f"A-{code}", "osm_id": osm + 1},
        # the second site, given the first site's code
        {"id": second, "site_code": f"A-{code}"},
    ]
    features = [
        {"type": "Feature", "properties": {"operator": "A1", **row}, "geometry": point}
        for row in rows
    ]
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    report = import_file(path, "mobile_site", dry_run=True, url=db_url)
    found = [(p.row, p.field, p.reason) for p in report.problems]
    assert (
        1,
        "osm_id",
        f"osm_id '{osm + 1}' belongs to {second}, but site_code matched {first}",
    ) in found
    assert (2, "site_code", f"'A-{code}' belongs to {first} in the register") in found
