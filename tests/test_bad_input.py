"""Bad input ends in one clear message naming the file, and the database stays as it was."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
import shapely
from conftest import db_state

from twin import DatabaseError, DataFileError, InvalidGeometry, db
from twin.config import get_settings
from twin.db.cluster import LocalCluster
from twin.load._read import read_features, read_table
from twin.load.maribor import load


def _edit_geojson(path: Path, edit) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    edit(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


def _bowtie(doc: dict) -> None:
    doc["features"][3]["geometry"]["coordinates"] = [
        [[15.60, 46.55], [15.62, 46.57], [15.62, 46.55], [15.60, 46.57], [15.60, 46.55]]
    ]


def _swap_first_stop(doc: dict) -> None:
    lon, lat = doc["features"][0]["geometry"]["coordinates"]
    doc["features"][0]["geometry"]["coordinates"] = [lat, lon]


def _duplicate_road(doc: dict) -> None:
    doc["features"].append(doc["features"][10])


def _declare_d96(doc: dict) -> None:
    doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3794"}}


def _line_as_road_geometry(doc: dict) -> None:
    doc["features"][5]["geometry"] = {"type": "Point", "coordinates": [15.65, 46.56]}


def _null_geometry(doc: dict) -> None:
    doc["features"][2]["geometry"] = None


GEOJSON_CASES = [
    ("districts_mestne_cetrti.geojson", _bowtie, InvalidGeometry, "invalid geometry"),
    ("bus_stops_osm2025.geojson", _swap_first_stop, InvalidGeometry, "look swapped"),
    ("roads_osm2025.geojson", _duplicate_road, DataFileError, "duplicate osm_id"),
    ("poi_osm2019.geojson", _declare_d96, InvalidGeometry, "wrong coordinate reference system"),
    ("roads_osm2025.geojson", _line_as_road_geometry, InvalidGeometry, "expected LineString"),
    ("care_homes.geojson", _null_geometry, InvalidGeometry, "has no geometry"),
]


@pytest.fixture
def unchanged(loaded: str):
    """Assert after the test that the loaded database did not change."""
    before = db_state(loaded)
    yield loaded
    assert db_state(loaded) == before


@pytest.mark.parametrize(("file", "edit", "error", "message"), GEOJSON_CASES)
def test_bad_geojson_is_refused(unchanged, data_copy, file, edit, error, message) -> None:
    _edit_geojson(data_copy / file, edit)
    with pytest.raises(error, match=message) as info:
        load(data_dir=data_copy, url=unchanged)
    assert str(data_copy / file) in str(info.value)


def test_truncated_geojson_is_refused(unchanged, data_copy) -> None:
    path = data_copy / "bus_routes_osm2025.geojson"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataFileError, match="cannot read"):
        load(data_dir=data_copy, url=unchanged)


def test_missing_file_is_named(unchanged, data_copy) -> None:
    (data_copy / "settlements.csv").unlink()
    with pytest.raises(DataFileError, match=r"settlements\.csv: file not found"):
        load(data_dir=data_copy, url=unchanged)


@pytest.mark.parametrize(
    ("file", "column", "value", "message"),
    [
        ("settlements.csv", "population_wikipedia", "mnogo", "is not a number"),
        ("statistical_units.csv", "cen_e", "15.64", "outside Maribor"),
        ("streets.csv", "valid_from", "yesterday", "is not a date"),
        ("local_units.csv", "type", "XX", "type must be MC or KS"),
    ],
)
def test_bad_csv_value_is_refused_with_its_row(unchanged, data_copy, file, column, value, message):
    frame = pd.read_csv(data_copy / file, dtype=str, keep_default_na=False)
    frame.loc[2, column] = value
    frame.to_csv(data_copy / file, index=False)
    with pytest.raises(DataFileError, match=message) as info:
        load(data_dir=data_copy, url=unchanged)
    assert "row 3" in str(info.value)


def test_csv_without_a_required_column_is_refused(unchanged, data_copy) -> None:
    frame = pd.read_csv(data_copy / "streets.csv", dtype=str)
    frame.drop(columns="ul_mid").to_csv(data_copy / "streets.csv", index=False)
    with pytest.raises(DataFileError, match="missing column"):
        load(data_dir=data_copy, url=unchanged)


def test_duplicate_csv_id_is_refused(unchanged, data_copy) -> None:
    path = data_copy / "streets.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines, lines[5]]) + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="duplicate ul_mid"):
        load(data_dir=data_copy, url=unchanged)


def test_malformed_xml_is_refused_with_its_line(unchanged, data_copy) -> None:
    path = data_copy / "air_quality_arso_sample.xml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[9] = lines[9].replace("</postaja>", "")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="malformed XML at line"):
        load(data_dir=data_copy, url=unchanged)


def test_xml_entity_expansion_is_refused(unchanged, data_copy) -> None:
    path = data_copy / "air_quality_arso_sample.xml"
    text = path.read_text(encoding="utf-8")
    bomb = '<!DOCTYPE a [<!ENTITY x "xxxxxxxx"><!ENTITY y "&x;&x;&x;&x;">]>\n'
    path.write_text(text.replace("?>\n", "?>\n" + bomb, 1).replace("E407", "&y;", 1))
    with pytest.raises(DataFileError, match="unsafe XML"):
        load(data_dir=data_copy, url=unchanged)


def test_file_without_crs_is_refused(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame({"osm_id": [1]}, geometry=[shapely.Point(15.6, 46.5)], crs=None)
    with pytest.warns(UserWarning, match="crs"):
        frame.to_file(tmp_path / "nocrs.shp")
    with pytest.raises(DataFileError, match="no coordinate reference system"):
        read_features(tmp_path / "nocrs.shp", "osm_id", {"Point"})


def test_sql_and_html_in_text_fields_are_stored_verbatim(loaded: str, data_copy) -> None:
    nasty = "Robert'); DROP TABLE twin.streets; -- <script>alert(1)</script>"
    frame = pd.read_csv(data_copy / "streets.csv", dtype=str)
    key = frame.loc[0, "ul_mid"]
    frame.loc[0, "name"] = nasty
    frame.to_csv(data_copy / "streets.csv", index=False)
    try:
        load(data_dir=data_copy, url=loaded)
        with db.connect(loaded) as conn:
            name = conn.execute(
                "SELECT name FROM twin.streets WHERE ul_mid = %s", [int(key)]
            ).fetchone()
            count = conn.execute("SELECT count(*) FROM twin.streets").fetchone()
        assert name == (nasty,)
        assert count == (902,)
    finally:
        load(url=loaded)


def test_database_restart_mid_load_leaves_it_unchanged(loaded: str, data_copy) -> None:
    """A load in flight when the server restarts is rolled back entirely."""
    frame = pd.read_csv(data_copy / "streets.csv", dtype=str)
    frame["name"] = frame["name"] + " (nova)"
    frame.to_csv(data_copy / "streets.csv", index=False)
    before = db_state(loaded)
    errors: list[BaseException] = []
    blocker = psycopg.connect(loaded)
    # Hold the datasets table: the load merges every other table, then waits here.
    blocker.execute("LOCK TABLE twin.datasets IN ACCESS EXCLUSIVE MODE")

    def run() -> None:
        try:
            load(data_dir=data_copy, url=loaded)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    _wait_until_waiting_on_lock(loaded)
    cluster = LocalCluster(get_settings())
    cluster.stop()
    blocker.close()
    cluster.start()
    worker.join(60)
    assert not worker.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], DatabaseError)
    assert "rolled back, nothing changed" in str(errors[0])
    assert db_state(loaded) == before


def _wait_until_waiting_on_lock(url: str) -> None:
    with db.connect(url, autocommit=True) as conn:
        for _ in range(600):
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            ).fetchone()
            if waiting and waiting[0] > 0:
                return
            threading.Event().wait(0.05)
    pytest.fail("the load never reached the locked table")


@pytest.mark.usefixtures("loaded")
def test_cli_reports_a_bad_file_in_one_line(data_copy, cli_env) -> None:
    (data_copy / "roads_osm2025.geojson").write_text("{ not json", encoding="utf-8")
    cli_env["TWIN_DATA_DIR"] = str(data_copy)
    done = subprocess.run(
        [sys.executable, "-m", "twin.cli", "load", "maribor"],
        env=cli_env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "roads_osm2025.geojson" in lines[0]
    assert "Traceback" not in done.stderr


def _drop_care_home_names(doc: dict) -> None:
    for feature in doc["features"]:
        feature["properties"].pop("name")


def _text_osm_id(doc: dict) -> None:
    doc["features"][7]["properties"]["osm_id"] = "abc"


def _no_features(doc: dict) -> None:
    doc["features"] = []


MORE_GEOJSON_CASES = [
    ("care_homes.geojson", _drop_care_home_names, "property 'name' is missing"),
    ("roads_osm2025.geojson", _text_osm_id, "osm_id 'abc' is not a whole number"),
    ("poi_osm2019.geojson", _no_features, "has no features"),
]


@pytest.mark.parametrize(("file", "edit", "message"), MORE_GEOJSON_CASES)
def test_incomplete_geojson_is_refused(unchanged, data_copy, file, edit, message) -> None:
    _edit_geojson(data_copy / file, edit)
    with pytest.raises(DataFileError, match=message) as info:
        load(data_dir=data_copy, url=unchanged)
    assert str(data_copy / file) in str(info.value)


@pytest.mark.parametrize(
    ("file", "column", "value", "message"),
    [
        ("streets.csv", "ul_mid", "99999999999999999999", "not a whole number in range"),
        ("streets.csv", "ul_id", "9999999999", "ul_id 9999999999 is too large"),
        ("streets.csv", "name", "", "name is empty but required"),
        ("statistical_units.csv", "local_unit_id", "99999", "district_id 99999 is not in"),
        ("streets.csv", "na_mid", "12345", "na_mid 12345 is not in settlements"),
    ],
)
def test_value_the_table_would_refuse_names_file_and_row(
    unchanged, data_copy, file, column, value, message
) -> None:
    frame = pd.read_csv(data_copy / file, dtype=str, keep_default_na=False)
    frame.loc[4, column] = value
    frame.to_csv(data_copy / file, index=False)
    with pytest.raises(DataFileError, match=message) as info:
        load(data_dir=data_copy, url=unchanged)
    assert str(data_copy / file) in str(info.value)


def test_header_only_csv_does_not_wipe_the_table(unchanged, data_copy) -> None:
    path = data_copy / "streets.csv"
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="header but no rows"):
        load(data_dir=data_copy, url=unchanged)


def test_csv_with_a_byte_order_mark_is_read(data_copy) -> None:
    path = data_copy / "settlements.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    frame = read_table(path, {"na_mid": "Int64", "name": "string"}, "na_mid")
    assert len(frame) == 32


def test_z_coordinates_are_dropped(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"osm_id": [1]}, geometry=[shapely.LineString([(15.6, 46.5, 270), (15.61, 46.51, 280)])],
        crs=4326,
    )  # fmt: skip
    frame.to_file(tmp_path / "z.geojson")
    read = read_features(tmp_path / "z.geojson", "osm_id", {"LineString"})
    assert not read.geometry.has_z.any()
    assert read.crs.to_epsg() == 3794


@pytest.mark.usefixtures("loaded")
def test_cli_error_shows_brackets_from_the_data_verbatim(data_copy, cli_env) -> None:
    frame = pd.read_csv(data_copy / "settlements.csv", dtype=str, keep_default_na=False)
    frame.loc[0, "population_wikipedia"] = "[/]"
    frame.to_csv(data_copy / "settlements.csv", index=False)
    cli_env["TWIN_DATA_DIR"] = str(data_copy)
    done = subprocess.run(
        [sys.executable, "-m", "twin.cli", "load", "maribor"],
        env=cli_env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: {data_copy / 'settlements.csv'}: row 1, column population_wikipedia: '[/]' "
        "is not a number"
    ]
