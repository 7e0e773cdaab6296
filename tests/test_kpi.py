"""The KPI engine: catalog, every calculator against the geopandas oracle, edge cases, real data.

Each case runs in a database of its own in the test cluster:

- ``twin_kpi_real``: only the real Maribor data (``twin load maribor``), then the ARSO sample;
- ``twin_kpi_city``: the real data and the thin synthetic city (seed 1, scale 0.05);
- ``twin_kpi_edge``: a 6 km square municipality built in code with three districts (West,
  East, and an empty one), a sensor exactly on a border, a district without inhabitants, a
  brownfield across a border and a street reached only through a joined dangling end.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import shapely
from conftest import REPO
from kpi_oracle import Oracle
from streamlit.testing.v1 import AppTest

from twin import db
from twin._errors import AccessDenied, ConfigError, DatabaseError, InvalidValue
from twin.config import get_settings
from twin.db.cluster import LocalCluster
from twin.kpi import compute, load_catalog, set_value, snapshot, trend
from twin.kpi.calculators import Result
from twin.kpi.catalog import read_catalog
from twin.kpi.drill import behind
from twin.kpi.report import html_report, results_csv
from twin.register.store import Actor

EDITOR = Actor("kpi-test", "editor")
VIEWER = Actor("kpi-viewer", "viewer")
#: The ids the issue asks for, present for the city and every district.
SPATIAL_IDS = (
    "air_monitoring_stations_per_km2", "population_share_gigabit", "population_share_5g",
    "street_lights_led_share", "street_lights_telemanaged_share", "traffic_lights_smart_share",
    "parking_realtime_share", "waste_containers_fill_sensor_share",
    "municipal_buildings_indoor_air_share", "municipal_buildings_smart_meter_share",
    "population_share_within_300m_of_bus_stop", "ev_chargers_per_1000_inhabitants",
    "brownfield_area_ha", "brownfield_reused_share", "water_quality_monitoring_points",
)  # fmt: skip
ARSO = REPO / "gis_data" / "air_quality_arso_sample.xml"
#: Just after the newest hour of the ARSO sample (2025-04-07 17:00-18:00 local time).
ARSO_AT = datetime(2025, 4, 7, 18, 30, tzinfo=UTC)


def fresh_database(db_url: str, name: str) -> str:
    """Create (again) an empty, migrated twin database in the test cluster."""
    admin = LocalCluster(get_settings()).url("postgres")
    with db.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    url = db_url.rsplit("/", 1)[0] + f"/{name}"
    run(url, "CREATE EXTENSION IF NOT EXISTS postgis")
    db.migrate(url)
    return url


def run(url: str, sql: str, params: dict[str, object] | None = None) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def assert_agree(results: list[Result], expected: dict[str, dict[str, dict]]) -> None:
    """Every result equals the oracle's (value, numerator, denominator, synthetic, reporting)."""
    checked = 0
    for r in results:
        e = expected[r.id][r.scope]
        for key in ("value", "numerator", "denominator", "synthetic_share", "reporting"):
            got, want = getattr(r, key), e[key]
            assert (got is None) == (want is None), (r.id, r.scope, key, got, want)
            if got is not None:
                assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9), (
                    r.id, r.scope, key, got, want,
                )  # fmt: skip
        if "straight_line_numerator" in e:
            assert r.details["straight_line_numerator"] == pytest.approx(
                e["straight_line_numerator"]
            )
        checked += 1
    assert checked == len(results)


def by(results: list[Result], kpi_id: str) -> dict[str, Result]:
    return {r.scope: r for r in results if r.id == kpi_id}


# --- the catalog ---------------------------------------------------------------------------


def test_catalog_has_the_seven_areas_and_every_kpi_of_the_issue() -> None:
    catalog = load_catalog()
    assert {a.id: (a.maturity, a.maturity_target_2030) for a in catalog.area} == {
        "governance": (30, 80), "economy": (25, 80), "mobility": (40, 82),
        "environment": (38, 85), "living": (30, 75), "people": (47, 80), "ict": (45, 85),
    }  # fmt: skip
    kpis = catalog.kpis
    assert set(SPATIAL_IDS) <= {k for k, v in kpis.items() if v.spatial}
    for kpi_id in ("population_share_gigabit", "population_share_5g",
                   "digitalised_services_share"):  # fmt: skip
        assert kpis[kpi_id].target_2030 == 100
        assert kpis[kpi_id].target_source
    manual = {k for k, v in kpis.items() if v.manual}
    assert {"rd_expenditure_share", "new_companies_per_100000",
            "public_transport_rides_per_inhabitant", "cycling_modal_share",
            "walking_modal_share", "drinking_water_monitoring_in_place",
            "sewer_monitoring_in_place", "elderly_ict_training_share", "proposals_per_1000",
            "ehealth_use_share", "digital_identity_in_place",
            "city_ict_platform_in_place"} <= manual  # fmt: skip
    assert kpis["air_monitoring_stations_per_km2"].name_sl == (
        "Število merilnih mest za spremljanje kakovosti zunanjega zraka na km²"
    )
    assert kpis["brownfield_area_ha"].direction == "lower"
    assert all(k.area in catalog.areas for k in catalog.kpi)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('class = "street_light"', 'class = "lamp"'), "unknown asset class 'lamp'"),
        (('flag = { lamp_type = "LED" }', 'flag = { lamp_type = "OLED" }'), "not an allowed"),
        (("flag = { smart = true }", "flag = { clever = true }"), "no attribute 'clever'"),
        (('area = "ict"', 'area = "space"'), "unknown area 'space'"),
        (('calculator = "walk_share"', 'calculator = "teleport"'), "calculator"),
    ],
)
def test_a_wrong_catalog_entry_is_refused_with_its_name(tmp_path: Path, change, message) -> None:
    text = (REPO / "twin" / "kpi" / "catalog.toml").read_text(encoding="utf-8")
    assert change[0] in text
    path = tmp_path / "catalog.toml"
    path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        read_catalog(path)


# --- real data only: the acceptance case ---------------------------------------------------


@pytest.fixture(scope="module")
def real(db_url: str) -> str:
    from twin.load.maribor import load

    url = fresh_database(db_url, "twin_kpi_real")
    load(url=url)
    return url


def test_air_stations_per_km2_with_only_real_data_counts_arso_stations_inside(real: str) -> None:
    rows = run(real, "SELECT code, ST_AsBinary(geom) FROM twin.monitoring_stations")
    (boundary,) = run(real, "SELECT ST_AsBinary(geom) FROM twin.municipality")[0]
    city = shapely.from_wkb(bytes(boundary))
    inside = [code for code, wkb in rows if city.contains(shapely.from_wkb(bytes(wkb)))]
    assert sorted(inside) == ["E407", "E408"]  # LJ Bežigrad (E403) lies in Ljubljana
    (result,) = [r for r in compute(real, kpis=["air_monitoring_stations_per_km2"])
                 if r.scope == "city"]  # fmt: skip
    assert result.numerator == 2
    assert result.denominator == pytest.approx(city.area / 1e6)
    assert result.value == pytest.approx(2 / (city.area / 1e6))
    assert result.synthetic_share == 0
    assert result.reporting == 0  # the stations were loaded, no readings yet


def test_every_kpi_is_there_with_only_real_data(real: str) -> None:
    results = compute(real)
    scopes = {r.scope for r in results if r.id == "street_lights_led_share"}
    assert len(scopes) == 18
    for kpi_id in SPATIAL_IDS:
        assert len(by(results, kpi_id)) == 18
    street = by(results, "street_lights_led_share")["city"]
    assert (street.value, street.numerator, street.denominator) == (None, 0, 0)
    walk = by(results, "population_share_within_300m_of_bus_stop")["city"]
    assert walk.denominator == 0
    assert_agree(results, Oracle(real).compute_all())


def test_ingested_arso_stations_are_counted_once_and_report(real: str) -> None:
    from twin.sensors.adapters import ArsoAdapter

    ArsoAdapter(str(ARSO)).run(real)
    codes = run(real, "SELECT station_code FROM register.sensor ORDER BY 1")
    assert [c for (c,) in codes] == ["E403", "E407", "E408"]
    results = compute(real, kpis=["air_monitoring_stations_per_km2"], at=ARSO_AT)
    city = by(results, "air_monitoring_stations_per_km2")["city"]
    assert city.numerator == 2
    assert city.reporting == 2
    assert city.reporting_value == city.value
    later = compute(real, kpis=["air_monitoring_stations_per_km2"],
                    at=ARSO_AT + timedelta(hours=30))  # fmt: skip
    assert by(later, "air_monitoring_stations_per_km2")["city"].reporting == 0
    wide = compute(real, kpis=["air_monitoring_stations_per_km2"],
                   at=ARSO_AT + timedelta(hours=30), window_hours=48)  # fmt: skip
    assert by(wide, "air_monitoring_stations_per_km2")["city"].reporting == 2
    assert_agree(results, {"air_monitoring_stations_per_km2": Oracle(real, at=ARSO_AT).compute(
        load_catalog().get("air_monitoring_stations_per_km2"))})  # fmt: skip


# --- the thin synthetic city ---------------------------------------------------------------


@pytest.fixture(scope="module")
def city(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    from twin.load.maribor import load
    from twin.synth.city import synthesize

    url = fresh_database(db_url, "twin_kpi_city")
    load(url=url)
    synthesize(seed=1, scale=0.05, url=url, raster_dir=tmp_path_factory.mktemp("rasters"))
    return url


def test_every_kpi_id_is_present_for_the_city_and_every_district(city: str) -> None:
    results = compute(city)
    (n_districts,) = run(city, "SELECT count(*) FROM twin.districts")[0]
    assert n_districts == 17
    for kpi_id in SPATIAL_IDS:
        found = by(results, kpi_id)
        assert len(found) == 18, kpi_id
        assert all(r.numerator is not None and r.denominator is not None
                   for r in found.values()), kpi_id  # fmt: skip
    led = by(results, "street_lights_led_share")["city"]
    assert 0 < led.value < 100
    assert led.synthetic_share == 1.0
    walk = by(results, "population_share_within_300m_of_bus_stop")["city"]
    assert 0 < walk.value <= walk.details["straight_line_value"] < 100


def test_the_engine_agrees_with_the_geopandas_oracle_on_the_thin_city(city: str) -> None:
    assert_agree(compute(city), Oracle(city).compute_all())


def test_replacing_lamps_by_led_moves_the_kpi_on_the_next_compute(city: str) -> None:
    before = by(compute(city, kpis=["street_lights_led_share"]), "street_lights_led_share")
    (n_other,) = run(city, "SELECT count(*) FROM register.street_light "
                           "WHERE state = 'active' AND lamp_type <> 'LED'")[0]  # fmt: skip
    n = min(500, n_other)
    assert n > 0
    with psycopg.connect(city, autocommit=True) as conn:
        conn.execute("SELECT set_config('twin.reason', 'LED retrofit', false)")
        conn.execute("UPDATE register.street_light SET lamp_type = 'LED' WHERE id IN ("
                     "SELECT id FROM register.street_light WHERE state = 'active' "
                     "AND lamp_type <> 'LED' ORDER BY id LIMIT %(n)s)", {"n": n})  # fmt: skip
    after = by(compute(city, kpis=["street_lights_led_share"]), "street_lights_led_share")
    assert after["city"].numerator == before["city"].numerator + n
    assert after["city"].denominator == before["city"].denominator
    assert after["city"].value > before["city"].value
    moved = sum(after[s].numerator - before[s].numerator for s in before if s != "city")
    assert moved == n  # each lamp in exactly one district


def test_an_edit_through_the_register_store_moves_the_kpi(city: str) -> None:
    from twin.register.store import list_assets, update

    lights = list_assets("traffic_light", filters={"smart": "false"}, url=city)
    assert len(lights)
    light = lights.iloc[0]
    before = by(compute(city, kpis=["traffic_lights_smart_share"]), "traffic_lights_smart_share")
    update(light["id"], int(light["version"]), {"smart": True}, actor=EDITOR, url=city)
    after = by(compute(city, kpis=["traffic_lights_smart_share"]), "traffic_lights_smart_share")
    assert after["city"].numerator == before["city"].numerator + 1


def test_drill_down_lists_the_assets_behind_the_number(city: str) -> None:
    results = by(compute(city, kpis=["street_lights_led_share"]), "street_lights_led_share")
    district = next(r for r in results.values() if r.district_id and r.denominator)
    frame = behind("street_lights_led_share", district.district_id, city)
    assert len(frame) == district.denominator
    assert int(frame["flagged"].sum()) == district.numerator
    assert frame.crs.to_epsg() == 4326
    assert frame["flagged"].is_monotonic_increasing  # the lamps still to replace come first
    walk = by(compute(city, kpis=["population_share_within_300m_of_bus_stop"]),
              "population_share_within_300m_of_bus_stop")["city"]  # fmt: skip
    people = behind("population_share_within_300m_of_bus_stop", None, city)
    assert people["weight"].sum() == walk.denominator
    assert people.loc[people["flagged"], "weight"].sum() == walk.numerator
    with pytest.raises(ConfigError, match="entered by hand"):
        behind("cycling_modal_share", None, city)


def test_snapshots_keep_the_trend(city: str) -> None:
    first, results = snapshot(city, note="first")
    assert len(results) == len(compute(city))
    run(
        city,
        "UPDATE register.street_light SET telemanaged = true WHERE id IN ("
        "SELECT id FROM register.street_light WHERE NOT telemanaged ORDER BY id LIMIT 10)",
    )
    second, _ = snapshot(city)
    assert second > first
    series = trend(city, kpi_id="street_lights_telemanaged_share", scope="city")
    assert list(series["snapshot_id"]) == [first, second]
    assert series["numerator"].iloc[1] == series["numerator"].iloc[0] + 10
    stored = run(city, "SELECT count(*), count(DISTINCT kpi_id) FROM twin.kpi_results "
                       "WHERE snapshot_id = %(s)s", {"s": first})  # fmt: skip
    assert stored[0] == (len(results), len(load_catalog().kpi))


def test_reporting_counts_sensors_with_a_recent_value(city: str, tmp_path: Path) -> None:
    from twin.sensors.adapters import CsvAdapter

    parking = run(city, "SELECT s.id, p.capacity FROM register.sensor s JOIN "
                        "register.parking_lot p ON p.id = s.parent_id WHERE s.kind = "
                        "'parking_occupancy' AND s.state = 'active' AND p.public "
                        "ORDER BY s.id LIMIT 2")  # fmt: skip
    now = datetime.now(UTC)
    csv = tmp_path / "readings.csv"
    csv.write_text(
        "sensor,property,time,value\n"
        f"{parking[0][0]},occupancy,{(now - timedelta(hours=1)).isoformat()},12\n"
        f"{parking[1][0]},occupancy,{(now - timedelta(hours=30)).isoformat()},7\n",
        encoding="utf-8",
    )
    report = CsvAdapter(csv).run(city)
    assert report.stored == 2, report
    results = by(compute(city, kpis=["parking_realtime_share"]), "parking_realtime_share")
    assert results["city"].reporting == parking[0][1]
    assert results["city"].numerator > results["city"].reporting
    oracle = Oracle(city).compute(load_catalog().get("parking_realtime_share"))
    assert_agree(list(results.values()), {"parking_realtime_share": oracle})


# --- edge cases ----------------------------------------------------------------------------

W, S, E, N, SPLIT, MID = 540_000, 150_000, 546_000, 156_000, 543_000, 153_000
BOX = "ST_Multi(ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 3794))"
POINT = "ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), 3794)"
RECT = "ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 3794)"
MUNICIPALITY_SQL = (
    "INSERT INTO twin.municipality (ob_id, ob_mid, name, full_name, official_area_km2, source, "
    f"licence, geom) VALUES (1, 1, 'Square', 'Square', 36, 'test', 'test', {BOX})"
)
DISTRICT_SQL = (
    "INSERT INTO twin.districts (id, mid, name, kind, official_area_km2, source, licence, "
    "centroid, geom) VALUES (%(id)s, %(id)s, %(name)s, %(kind)s, 9, 'test', 'test', "
    f"ST_Centroid({BOX}), {BOX})"
)
#: West and East (mestne četrti) and an empty krajevna skupnost with markup in its name.
DISTRICTS = (
    (1, "West", "MC", {"w": W, "s": S, "e": SPLIT, "n": N}),
    (2, "East", "MC", {"w": SPLIT, "s": S, "e": E, "n": MID}),
    (3, "Empty <b>", "KS", {"w": SPLIT, "s": MID, "e": E, "n": N}),
)
#: 6,000 inhabitants on a grid in the south of West; East and the empty district have none.
GRID_SQL = """
INSERT INTO twin.population_grid (cell_id, population, synthetic, geom)
SELECT x / 100 * 100000 + y / 100, 10, x < 541000, ST_MakeEnvelope(x, y, x + 100, y + 100, 3794)
FROM generate_series(540000, 542900, 100) x, generate_series(150000, 151900, 100) y"""
SENSOR_SQL = f"""
INSERT INTO register.sensor (id, kind, state, station_code, parent_id, geom)
VALUES (%(id)s, %(kind)s, %(state)s, %(code)s, %(parent)s, {POINT})"""
#: id, kind, state, station code, parent, x, y: on the West/East border; on the corner of all
#: three districts; retired; noise; the register's E9; water; fill level (active, retired);
#: parking occupancy (active, retired); indoor air in a municipal building.
SENSORS = (
    ("s:border", "air_quality", "active", None, None, SPLIT, 151000),
    ("s:corner", "air_quality", "active", None, None, SPLIT, MID),
    ("s:retired", "air_quality", "retired", None, None, 544000, 152000),
    ("s:noise", "noise", "active", None, None, 544000, 152500),
    ("s:e9", "air_quality", "active", "E9", None, 541000, 155000),
    ("s:water", "water_quality", "active", None, None, 545000, 150500),
    ("s:fill1", "fill_level", "active", None, "wc:1", 540100, 150900),
    ("s:fill3", "fill_level", "retired", None, "wc:3", 544100, 150900),
    ("s:p1", "parking_occupancy", "active", None, "lot:p1", 540150, 150150),
    ("s:p4", "parking_occupancy", "retired", None, "lot:p4", 540550, 150150),
    ("s:m2", "indoor_air", "active", None, "b:m2", 544910, 150710),
)
STATION_SQL = f"""
INSERT INTO twin.monitoring_stations (code, name, network, pollutants, source, licence, geom)
VALUES (%(code)s, %(code)s, 'ARSO', 'no2', 'test', 'test', {POINT})"""
#: E9 is also a register sensor (counted once), E8 only here, E7 outside the municipality.
STATIONS = (("E9", 541000, 155000), ("E8", 544000, 151500), ("E7", 550000, 151000))
LIGHT_SQL = f"""
INSERT INTO register.street_light (lamp_type, telemanaged, state, synthetic, geom)
VALUES (%(lamp)s, %(tele)s, %(state)s, %(x)s > 544000, {POINT})"""
LIGHTS = (
    ("LED", True, "active", 540500), ("LED", False, "active", 540600),
    ("LED", False, "active", 540700), ("sodium", False, "active", 540800),
    ("sodium", False, "active", 544500), ("sodium", False, "active", 544600),
    ("LED", True, "retired", 544700),
)  # fmt: skip
LOT_SQL = f"""
INSERT INTO register.parking_lot (id, capacity, public, type, geom)
VALUES (%(id)s, %(capacity)s, %(public)s, %(type)s, {RECT})"""
#: p2 lies across the border, its point on surface in East; p3 is not public.
LOTS = (
    ("lot:p1", 100, True, "surface", (540100, 150100, 540200, 150200)),
    ("lot:p2", 50, True, "surface", (542990, 150500, 543100, 150600)),
    ("lot:p3", 500, False, "multi-storey", (540300, 150100, 540400, 150200)),
    ("lot:p4", 30, True, "park_and_ride", (540500, 150100, 540600, 150200)),
)
CONTAINER_SQL = f"""
INSERT INTO register.waste_container (id, fraction, geom) VALUES (%(id)s, 'glass', {POINT})"""
CONTAINERS = (("wc:1", 540100), ("wc:2", 540150), ("wc:3", 544100))
BUILDING_SQL = f"""
INSERT INTO register.building (id, use, floors, height_m, ownership, indoor_air_sensor,
                               smart_meter, population, synthetic, geom)
VALUES (%(id)s, %(use)s, 2, 7, %(owner)s, %(indoor)s, %(meter)s, %(pop)s, %(pop)s > 0, {RECT})"""
#: Municipal buildings (m2 has an indoor-air sensor mounted), then the inhabited ones: a
#: beside the road, e up the dangling street, c 293 m from a stop in a straight line but
#: 425 m along the streets, b beyond both.
BUILDINGS = (
    ("b:m1", "public", "municipal", True, True, 0, 540900, 150700, 30),
    ("b:m2", "public", "municipal", False, False, 0, 544900, 150700, 30),
    ("b:m3", "public", "municipal", False, False, 0, 545100, 150700, 30),
    ("b:a", "residential", "private", False, False, 10, 541040, 151020, 20),
    ("b:b", "residential", "private", False, False, 20, 541510, 151240, 20),
    ("b:c", "residential", "private", False, False, 40, 541200, 151200, 20),
    ("b:e", "residential", "private", False, False, 5, 542000, 151090, 20),
)
BROWNFIELD_SQL = f"""
INSERT INTO register.brownfield (status, synthetic, geom) VALUES (%(status)s, %(syn)s, {RECT})"""
#: 4 ha across the West/East border (2 ha each side), 1 ha reused in East.
BROWNFIELDS = (
    ("abandoned", True, (542900, 150100, 543100, 150300)),
    ("reused", False, (544000, 150100, 544100, 150200)),
)
TRAFFIC_SQL = f"INSERT INTO register.traffic_light (smart, geom) VALUES (%(smart)s, {POINT})"
CHARGER_SQL = f"INSERT INTO register.ev_charger (public, geom) VALUES (%(public)s, {POINT})"
CHARGERS = ((True, 540100), (True, 540200), (True, 540300), (False, 540400), (True, 544100),
            (True, 544200))  # fmt: skip
ROAD_SQL = """
INSERT INTO twin.roads (osm_id, highway, source, licence, geom)
VALUES (%(id)s, 'residential', 'test', 'test', ST_GeomFromText(%(line)s, 3794))"""
#: A road along y = 151000 and a side street; a local street whose end is 20 m from the road.
ROADS = (
    (1, "LINESTRING(540000 151000, 546000 151000)"),
    (2, "LINESTRING(541500 151000, 541500 152000)"),
)
LOCAL_STREET_SQL = """
INSERT INTO twin.local_streets (id, name, na_mid, synthetic, generator, seed, geom)
VALUES (1, 'Dangle', 1, true, 'test', 1,
        ST_GeomFromText('LINESTRING(542000 151020, 542000 151300)', 3794))"""
STOP_SQL = f"""
INSERT INTO twin.bus_stops (osm_id, n_routes, source, licence, geom)
VALUES (%(id)s, 1, 'test', 'test', {POINT})"""
STOPS = ((1, 541000, 151005), (2, 542100, 150995))
READING_SQL = """
WITH stream AS (
    INSERT INTO twin.datastreams (sensor_id, property, unit)
    VALUES (%(sensor)s, 'pm10', 'µg/m³') RETURNING id
)
INSERT INTO twin.latest_observations (datastream_id, phenomenon_time, value, quality,
                                      result_time)
SELECT id, %(time)s, 1, 'ok', %(time)s FROM stream"""
#: Readings 1 h and 2 h old (reporting) and 30 h old (not reporting).
READINGS = (("s:border", 1), ("s:corner", 30), ("s:p1", 2))


def _edge_city(url: str) -> None:
    rect = lambda x0, y0, x1, y1: {"x0": x0, "y0": y0, "x1": x1, "y1": y1}  # noqa: E731
    now = datetime.now(UTC)
    statements = [
        (MUNICIPALITY_SQL, {"w": W, "s": S, "e": E, "n": N}),
        *((DISTRICT_SQL, {"id": i, "name": n, "kind": k, **box}) for i, n, k, box in DISTRICTS),
        (GRID_SQL, None),
        *((LOT_SQL, {"id": i, "capacity": c, "public": p, "type": t, **rect(*r)})
          for i, c, p, t, r in LOTS),
        *((CONTAINER_SQL, {"id": i, "x": x, "y": 150900}) for i, x in CONTAINERS),
        *((BUILDING_SQL, {"id": i, "use": u, "owner": o, "indoor": a, "meter": m, "pop": p,
                          **rect(x, y, x + size, y + size)})
          for i, u, o, a, m, p, x, y, size in BUILDINGS),
        *((SENSOR_SQL, {"id": i, "kind": k, "state": s, "code": c, "parent": p, "x": x, "y": y})
          for i, k, s, c, p, x, y in SENSORS),
        *((STATION_SQL, {"code": c, "x": x, "y": y}) for c, x, y in STATIONS),
        *((LIGHT_SQL, {"lamp": la, "tele": t, "state": s, "x": x, "y": 150200})
          for la, t, s, x in LIGHTS),
        *((BROWNFIELD_SQL, {"status": st, "syn": sy, **rect(*r)}) for st, sy, r in BROWNFIELDS),
        *((TRAFFIC_SQL, {"smart": sm, "x": x, "y": 151000})
          for sm, x in ((True, 541000), (False, 544000))),
        *((CHARGER_SQL, {"public": p, "x": x, "y": 150400}) for p, x in CHARGERS),
        *((ROAD_SQL, {"id": i, "line": line}) for i, line in ROADS),
        (LOCAL_STREET_SQL, None),
        *((STOP_SQL, {"id": i, "x": x, "y": y}) for i, x, y in STOPS),
        *((READING_SQL, {"sensor": s, "time": now - timedelta(hours=h)}) for s, h in READINGS),
    ]  # fmt: skip
    for sql, params in statements:
        run(url, sql, params)


@pytest.fixture(scope="module")
def edge(db_url: str) -> str:
    url = fresh_database(db_url, "twin_kpi_edge")
    _edge_city(url)
    return url


@pytest.fixture(scope="module")
def edge_results(edge: str) -> list[Result]:
    return compute(edge)


def _figures(results: list[Result], kpi_id: str) -> dict[str, tuple]:
    return {s: (r.value, r.numerator, r.denominator) for s, r in by(results, kpi_id).items()}


def test_edge_a_sensor_on_a_border_counts_once_in_the_lower_district(edge_results) -> None:
    air = by(edge_results, "air_monitoring_stations_per_km2")
    # West: the sensor on the border, the one on the corner, E9 (register); East: E8 only
    assert air["city"].numerator == 4  # E9 once, E7 outside, the retired sensor not
    assert air["city"].value == pytest.approx(4 / 36)
    assert air["West"].numerator == 3
    assert air["East"].numerator == 1
    assert air["Empty <b>"].numerator == 0
    assert air["Empty <b>"].value == 0
    assert air["city"].reporting == 1  # the 30-hour-old reading is outside the window
    assert air["West"].reporting == 1


def test_edge_an_empty_district_has_no_share_and_zero_counts(edge_results) -> None:
    for kpi_id in ("street_lights_led_share", "traffic_lights_smart_share",
                   "parking_realtime_share", "waste_containers_fill_sensor_share",
                   "municipal_buildings_indoor_air_share", "brownfield_reused_share",
                   "population_share_within_300m_of_bus_stop",
                   "ev_chargers_per_1000_inhabitants"):  # fmt: skip
        empty = by(edge_results, kpi_id)["Empty <b>"]
        assert empty.value is None, kpi_id
        assert empty.numerator == empty.denominator == 0, kpi_id
        assert empty.synthetic_share is None, kpi_id
    assert by(edge_results, "brownfield_area_ha")["Empty <b>"].value == 0
    assert by(edge_results, "water_quality_monitoring_points")["Empty <b>"].value == 0


def test_edge_figures_by_hand(edge_results) -> None:
    assert _figures(edge_results, "street_lights_led_share") == {
        "city": (50.0, 3, 6), "West": (75.0, 3, 4), "East": (0.0, 0, 2), "Empty <b>": (None, 0, 0),
    }  # fmt: skip
    led = by(edge_results, "street_lights_led_share")
    assert led["city"].synthetic_share == pytest.approx(2 / 6)
    parking = _figures(edge_results, "parking_realtime_share")
    assert parking["city"] == (pytest.approx(100 / 180 * 100), 100, 180)
    assert parking["East"] == (0.0, 0, 50)  # the lot across the border, by its point on surface
    assert by(edge_results, "parking_realtime_share")["city"].reporting == 100
    assert _figures(edge_results, "park_and_ride_share")["city"] == (
        pytest.approx(30 / 180 * 100), 30, 180)  # fmt: skip
    assert _figures(edge_results, "waste_containers_fill_sensor_share")["city"] == (
        pytest.approx(100 / 3), 1, 3)  # fmt: skip
    assert _figures(edge_results, "municipal_buildings_indoor_air_share")["city"] == (
        pytest.approx(200 / 3), 2, 3)  # fmt: skip
    assert _figures(edge_results, "municipal_buildings_smart_meter_share")["East"] == (0.0, 0, 2)
    area = _figures(edge_results, "brownfield_area_ha")
    assert area["city"][0] == pytest.approx(5)
    assert area["West"][0] == pytest.approx(2)
    assert area["East"][0] == pytest.approx(3)
    reused = by(edge_results, "brownfield_reused_share")
    assert reused["city"].value == pytest.approx(20)
    assert reused["East"].value == pytest.approx(100 / 3)
    assert reused["city"].synthetic_share == 0.5
    ev = _figures(edge_results, "ev_chargers_per_1000_inhabitants")
    assert ev["city"] == (pytest.approx(5 / 6000 * 1000), 5, 6000)
    assert ev["East"] == (None, 2, 0)  # a district with no inhabitants
    assert _figures(edge_results, "water_quality_monitoring_points")["East"][0] == 1
    assert _figures(edge_results, "traffic_lights_smart_share")["city"] == (50.0, 1, 2)


def test_edge_walking_distance_uses_the_network_and_joins_dangling_streets(edge_results) -> None:
    walk = by(edge_results, "population_share_within_300m_of_bus_stop")
    # a (10) beside the road; e (5) up the dangling street, joined to the road; c (40) is
    # 293 m away in a straight line but 425 m along the streets; b (20) is beyond both
    assert walk["West"].numerator == 15
    assert walk["West"].denominator == 75
    assert walk["West"].details["straight_line_numerator"] == 55
    assert walk["East"].value is None  # nobody lives there


def test_edge_engine_agrees_with_the_oracle(edge: str, edge_results) -> None:
    assert_agree(edge_results, Oracle(edge).compute_all())


# --- manual values, CLI, exports -----------------------------------------------------------


def test_manual_values_need_an_editor_and_a_source(edge: str) -> None:
    day = date(2025, 12, 31)
    with pytest.raises(AccessDenied):
        set_value("cycling_modal_share", 7, observed_on=day, source="anketa", actor=None,
                  url=edge)  # fmt: skip
    with pytest.raises(AccessDenied):
        set_value("cycling_modal_share", 7, observed_on=day, source="anketa", actor=VIEWER,
                  url=edge)  # fmt: skip
    with pytest.raises(InvalidValue, match="source"):
        set_value("cycling_modal_share", 7, observed_on=day, source=" ", actor=EDITOR, url=edge)
    with pytest.raises(InvalidValue, match="between 0 and 100"):
        set_value("cycling_modal_share", 170, observed_on=day, source="x", actor=EDITOR, url=edge)
    with pytest.raises(InvalidValue, match=r"1 \(yes\) or 0"):
        set_value("digital_identity_in_place", 2, observed_on=day, source="x", actor=EDITOR,
                  url=edge)  # fmt: skip
    with pytest.raises(ConfigError, match="computed by the twin"):
        set_value("street_lights_led_share", 80, observed_on=day, source="x", actor=EDITOR,
                  url=edge)  # fmt: skip
    set_value("cycling_modal_share", 6.5, observed_on=date(2024, 6, 1), source="anketa 2024",
              actor=EDITOR, url=edge)  # fmt: skip
    set_value("cycling_modal_share", 7.5, observed_on=day, source="anketa 2025", actor=EDITOR,
              url=edge)  # fmt: skip
    (result,) = compute(edge, kpis=["cycling_modal_share"])
    assert (result.scope, result.value) == ("city", 7.5)
    assert result.details["source"] == "anketa 2025"
    assert result.details["entered_by"] == "kpi-test"
    (earlier,) = compute(edge, kpis=["cycling_modal_share"], at=datetime(2025, 1, 1, tzinfo=UTC))
    assert earlier.value == 6.5
    expected = Oracle(edge).compute(load_catalog().get("cycling_modal_share"))
    assert_agree([result], {"cycling_modal_share": expected})


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "twin.cli", "kpi", *args], env=env,
                          capture_output=True, text=True, check=False, timeout=300)  # fmt: skip


def test_cli_compute_json_and_set(edge: str, cli_env: dict[str, str]) -> None:
    env = {**cli_env, "TWIN_DATABASE_URL": edge}
    done = _cli(env, "compute", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    keys = {"id", "scope", "value", "unit", "numerator", "denominator", "target_2030",
            "synthetic_share"}  # fmt: skip
    assert all(keys <= set(r) for r in rows)
    assert {r["scope"] for r in rows} == {"city", "West", "East", "Empty <b>"}
    west = _cli(env, "compute", "--district", "1", "--json")
    assert {r["scope"] for r in json.loads(west.stdout)} == {"West"}
    bad = _cli(env, "compute", "--district", "99", "--json")
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert bad.stderr.strip().startswith("error: no district '99'")
    assert len(bad.stderr.strip().splitlines()) == 1
    done = _cli(env, "set", "proposals_per_1000", "3.2", "--date", "2025-11-30",
                "--source", "e-predlogi MOM", "--user", "ana")  # fmt: skip
    assert done.returncode == 0, done.stderr
    (result,) = compute(edge, kpis=["proposals_per_1000"])
    assert result.value == 3.2
    assert result.details["entered_by"] == "ana"
    unknown = _cli(env, "set", "no_such_kpi", "1", "--date", "2025-11-30", "--source", "x")
    assert unknown.returncode == 1
    assert "unknown KPI 'no_such_kpi'" in unknown.stderr
    snap = _cli(env, "snapshot", "--json")
    assert snap.returncode == 0, snap.stderr
    assert json.loads(snap.stdout)["results"] == len(rows)


def test_exports_escape_names_and_hold_every_result(edge_results) -> None:
    csv = results_csv(edge_results).decode("utf-8")
    assert len(csv.strip().splitlines()) == len(edge_results) + 1
    assert "Empty <b>" in csv
    html = html_report(edge_results, generated_at=datetime.now(UTC))
    assert "Empty &lt;b&gt;" in html
    assert "<b>" not in html
    assert "http" not in html  # prints offline: nothing is fetched


def test_kpi_walkthrough_notebook_runs(city: str, capsys, monkeypatch) -> None:
    monkeypatch.setenv("TWIN_DATABASE_URL", city)
    get_settings.cache_clear()
    try:
        namespace = run_notebook(REPO / "notebooks" / "kpi_walkthrough.ipynb")
    finally:
        get_settings.cache_clear()
    by_hand, engine = namespace["led_by_hand"], namespace["led_engine"]
    assert len(by_hand) == 18
    assert by_hand.fillna(-1).to_dict() == pytest.approx(engine.fillna(-1).to_dict())
    assert namespace["air_by_hand"] == pytest.approx(namespace["air_engine"])
    assert "agree" in capsys.readouterr().out


def run_notebook(path: Path) -> dict[str, object]:
    """Run a notebook's code cells in order in one namespace (as a kernel would)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    namespace: dict[str, object] = {"__name__": "__main__"}
    for number, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            code = compile("".join(cell["source"]), f"{path.name}, cell {number}", "exec")
            exec(code, namespace)  # noqa: S102 - the project's own notebook
    return namespace


def test_compute_without_a_municipality_says_what_to_run(db_url: str) -> None:
    url = fresh_database(db_url, "twin_kpi_empty")
    with pytest.raises(DatabaseError, match="twin load maribor"):
        compute(url)


# --- the dashboard page --------------------------------------------------------------------


@pytest.fixture
def page_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Let the page import ``views``; fresh caches and settings before and after."""
    import streamlit as st

    def clear() -> None:
        get_settings.cache_clear()
        st.cache_data.clear()
        st.cache_resource.clear()

    monkeypatch.syspath_prepend(str(REPO))
    clear()
    yield monkeypatch
    clear()


def _page(url: str, monkeypatch: pytest.MonkeyPatch, actor: Actor | None = None) -> AppTest:
    monkeypatch.setenv("TWIN_DATABASE_URL", url)
    get_settings.cache_clear()
    app = AppTest.from_file(str(REPO / "views" / "kpi.py"), default_timeout=300)
    if actor is not None:
        app.session_state["twin-actor"] = actor  # views._register.ACTOR
    return app.run()


def test_dashboard_shows_areas_cards_map_drill_down_and_exports(edge: str, page_env) -> None:
    app = _page(edge, page_env)
    assert not app.exception
    assert not app.error
    areas = app.dataframe[0].value
    assert list(areas["maturity"]) == [30, 25, 40, 38, 30, 47, 45]
    assert len(app.metric) == len(load_catalog().kpi)
    labels = [m.label for m in app.metric]
    assert "Share of street lights modernised to LED" in labels
    led = app.metric[labels.index("Share of street lights modernised to LED")]
    assert led.value == "50 %"
    decks = app.get("deck_gl_json_chart")
    assert len(decks) == 2
    for deck in decks:
        assert "mapProvider" not in json.loads(deck.proto.json)
        assert "http" not in deck.proto.json  # offline: no tiles, fonts or data from elsewhere
    assert [b.label for b in app.get("download_button")] == [
        "All results (CSV)", "Printable report (HTML)",
    ]  # fmt: skip
    # names from the database stay text
    assert all("<b>" not in c.value for c in app.caption)


def test_dashboard_form_enters_a_value_as_the_signed_in_editor(edge: str, page_env) -> None:
    app = _page(edge, page_env, actor=EDITOR)
    assert not app.exception
    indicator = next(s for s in app.selectbox if s.label == "Indicator")
    indicator.set_value(load_catalog().get("walking_modal_share"))
    next(n for n in app.number_input if n.label.startswith("Value")).set_value(31.0)
    next(t for t in app.text_input if t.label.startswith("Source")).set_value("anketa MOM")
    next(b for b in app.button if b.label == "Save").click()
    app.run()
    assert not app.exception
    assert not app.error
    assert any(s.value.startswith("saved walking") for s in app.success)
    (result,) = compute(edge, kpis=["walking_modal_share"])
    assert result.value == 31.0
    assert result.details["entered_by"] == EDITOR.name


def test_dashboard_form_refuses_a_viewer(edge: str, page_env) -> None:
    app = _page(edge, page_env, actor=VIEWER)
    assert not app.exception
    assert any("only editors enter values" in w.value for w in app.warning)


def test_dashboard_marks_the_scopes_of_approximate_polygons(edge: str, page_env) -> None:
    with psycopg.connect(edge, autocommit=True) as conn:
        first, name, note, was = conn.execute(
            "SELECT id, name, geometry_note, approximate FROM twin.districts ORDER BY id LIMIT 1"
        ).fetchone()
        conn.execute(
            "UPDATE twin.districts SET approximate = true, "
            "geometry_note = 'derived <b>from</b> its streets' WHERE id = %s",
            [first],
        )
    try:
        app = _page(edge, page_env)
        assert not any("approximate" in w.value for w in app.warning)  # the city is exact
        per_district = app.dataframe[1].value
        flags = dict(zip(per_district["scope"], per_district["approximate"], strict=True))
        assert flags[name]
        assert sum(bool(f) for f in flags.values()) == 1
        scope = next(s for s in app.selectbox if s.label == "Scope")
        app = scope.select(first).run()
        assert not app.exception
        warning = next(w.value for w in app.warning if "approximate" in w.value)
        assert name in warning
        assert "derived \\<b\\>from" in warning  # escaped: shown as text, not as HTML
        assert "<b>" not in warning
    finally:
        with psycopg.connect(edge, autocommit=True) as conn:
            conn.execute(
                "UPDATE twin.districts SET approximate = %s, geometry_note = %s WHERE id = %s",
                [was, note, first],
            )
