"""``twin load maribor`` on the shipped data: the figures the issue asks for, idempotence."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import DATA_DIR, db_state

from twin import db
from twin.load.maribor import load

OFFICIAL_MOM_KM2 = 147.49
MC_SUM_KM2 = 56.1


def scalar(url: str, query: str) -> float:
    with db.connect(url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return float(row[0])


def test_eleven_mestne_cetrti_sum_to_the_official_area(loaded: str) -> None:
    assert scalar(loaded, "SELECT count(*) FROM twin.districts WHERE kind = 'MC'") == 11
    area = scalar(loaded, "SELECT sum(ST_Area(geom)) / 1e6 FROM twin.districts WHERE kind = 'MC'")
    assert area == pytest.approx(MC_SUM_KM2, rel=0.01)


def test_municipality_area_is_close_to_the_official_figure(loaded: str) -> None:
    area = scalar(loaded, "SELECT ST_Area(geom) / 1e6 FROM twin.municipality")
    assert area == pytest.approx(OFFICIAL_MOM_KM2, rel=0.02)
    assert scalar(loaded, "SELECT ST_SRID(geom) FROM twin.municipality") == 3794


def test_krajevne_skupnosti_are_approximate_and_tile_the_rest(loaded: str) -> None:
    with db.connect(loaded) as conn:
        rows = conn.execute(
            "SELECT name, approximate, synthetic, ST_IsValid(geom), ST_Area(geom) / 1e6 "
            "FROM twin.districts WHERE kind = 'KS' ORDER BY name"
        ).fetchall()
        overlap = conn.execute(
            "SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom))), 0) "
            "FROM twin.districts a JOIN twin.districts b ON a.id < b.id "
            "AND ST_Intersects(a.geom, b.geom) WHERE a.kind = 'KS' OR b.kind = 'KS'"
        ).fetchone()
        rest = conn.execute(
            "SELECT ST_Area(ST_Difference(m.geom, (SELECT ST_Union(geom) FROM twin.districts))) "
            "FROM twin.municipality m"
        ).fetchone()
    units = pd.read_csv(DATA_DIR / "local_units.csv")
    assert [r[0] for r in rows] == sorted(units.loc[units["type"] == "KS", "name"])
    assert all(r[1] and r[2] and r[3] for r in rows)
    assert all(r[4] > 1 for r in rows)  # every KS got a real share of the territory
    assert overlap is not None
    assert overlap[0] < 1.0  # m², numerical noise only
    assert rest is not None
    assert rest[0] < 1.0  # the municipality is fully covered


def test_settlement_population_sums_to_the_shipped_figure(loaded: str) -> None:
    shipped = pd.read_csv(DATA_DIR / "settlements.csv")["population_wikipedia"].sum()
    assert scalar(loaded, "SELECT sum(population) FROM twin.settlements") == shipped == 112_682


@pytest.mark.parametrize(
    ("table", "expected"),
    [("statistical_units", 724), ("settlements", 32), ("streets", 902), ("roads", 1015),
     ("bus_routes", 58), ("bus_stops", 485), ("pois", 2889), ("facilities", 117 + 5 + 88),
     ("monitoring_stations", 3)],
)  # fmt: skip
def test_every_layer_is_loaded_completely(loaded: str, table: str, expected: int) -> None:
    assert scalar(loaded, f"SELECT count(*) FROM twin.{table}") == expected


def test_rows_carry_source_and_licence(loaded: str) -> None:
    with db.connect(loaded) as conn:
        licences = dict(
            conn.execute("SELECT table_name, string_agg(DISTINCT licence, '|') FROM twin.datasets "
                         "GROUP BY table_name").fetchall()
        )  # fmt: skip
        osm = conn.execute("SELECT DISTINCT licence FROM twin.roads").fetchall()
    assert osm == [("ODbL 1.0",)]
    assert licences["roads"] == "ODbL 1.0"
    assert "CC BY 4.0" in licences["districts"]


def test_geometries_are_stored_in_d96tm_with_gist_indexes(loaded: str) -> None:
    with db.connect(loaded) as conn:
        srids = conn.execute(
            "SELECT DISTINCT srid FROM geometry_columns WHERE f_table_schema = 'twin'"
        ).fetchall()
        unindexed = conn.execute(
            "SELECT g.f_table_name FROM geometry_columns g WHERE g.f_table_schema = 'twin' "
            "AND g.f_geometry_column = 'geom' AND NOT EXISTS (SELECT 1 FROM pg_indexes i "
            "WHERE i.schemaname = 'twin' AND i.tablename = g.f_table_name "
            "AND i.indexdef ILIKE '%USING gist (geom)%')"
        ).fetchall()
    assert srids == [(3794,)]
    assert unindexed == []


def test_arso_station_keeps_its_published_position(loaded: str) -> None:
    with db.connect(loaded) as conn:
        row = conn.execute(
            "SELECT name, ST_X(geom), ST_Y(geom), pollutants FROM twin.monitoring_stations "
            "WHERE code = 'E407'"
        ).fetchone()
    assert row == ("MB Titova", 549936.64, 157898.47, "benzen,no2,pm10,pm2.5")


def test_second_load_changes_no_row(loaded: str) -> None:
    before = db_state(loaded)
    report = load(url=loaded)
    assert db_state(loaded) == before
    assert all(r.inserted == r.updated == r.deleted == 0 for r in report)


def test_changed_file_updates_only_what_changed(loaded: str, data_copy) -> None:
    streets = pd.read_csv(data_copy / "streets.csv", dtype=str)
    streets.loc[0, "name"] = streets.loc[0, "name"] + " (preimenovana)"
    streets = streets.drop(index=1)
    streets.to_csv(data_copy / "streets.csv", index=False)
    try:
        report = {r.table: r for r in load(data_dir=data_copy, url=loaded)}
        assert (report["streets"].updated, report["streets"].deleted) == (1, 1)
        assert report["roads"].updated == 0
        assert report["datasets"].updated == 1  # the streets file's checksum and row count
    finally:
        load(url=loaded)  # back to the shipped data for the other tests
