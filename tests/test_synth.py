"""``twin synth``: the synthetic city on a thin slice (scale 0.05) of the real Maribor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from conftest import DATA_DIR, db_state

from twin import ConfigError, DatabaseError, db
from twin.register.catalog import classes
from twin.synth._common import OSM_SOURCE
from twin.synth._context import SOURCE
from twin.synth.city import TWIN_TABLES, content_hash, present, synthesize, tile
from twin.synth.terrain import elevation_model

SCALE = 0.05
#: Size of the register history and its newest change.
HISTORY = (
    "SELECT (SELECT count(*) FROM register.history), (SELECT max(change_id) FROM register.changes)"
)


@pytest.fixture(scope="module")
def city(loaded: str, tmp_path_factory) -> dict:
    """The thin synthetic city, seed 1, written to the test database."""
    rasters = tmp_path_factory.mktemp("rasters")
    report = synthesize(seed=1, scale=SCALE, url=loaded, raster_dir=rasters)
    return {"url": loaded, "report": report, "rasters": rasters}


def query(url: str, text: str, params: dict | None = None) -> list[tuple]:
    with db.connect(url) as conn:
        return conn.execute(text, params or {}).fetchall()


def test_population_matches_the_real_settlements(city) -> None:
    settlements = pd.read_csv(DATA_DIR / "settlements.csv")
    expected = settlements["population_wikipedia"].to_numpy(float) * SCALE
    rows = dict(query(city["url"], "SELECT na_mid, sum(population) FROM register.building "
                                   "WHERE synthetic GROUP BY na_mid"))  # fmt: skip
    got = settlements["na_mid"].map(rows).fillna(0).to_numpy(float)
    # Within 1 % of the real figure (at this scale, at least one whole person of rounding).
    assert np.all(np.abs(got - expected) <= np.maximum(0.01 * expected, 1.0))
    assert abs(got.sum() - expected.sum()) <= max(0.005 * expected.sum(), 1.0)


def test_raster_and_grid_sum_to_the_building_population(city) -> None:
    (people,) = query(city["url"], "SELECT sum(population) FROM register.building")[0]
    (grid,) = query(city["url"], "SELECT sum(population) FROM twin.population_grid")[0]
    with rasterio.open(city["report"].rasters["population"]) as src:
        raster = src.read(1)
        assert src.crs.to_epsg() == 3794
        assert src.res == (100.0, 100.0)
        assert src.tags()["synthetic"] == "true"
    assert int(raster.sum()) == grid == people > 0


def test_building_count_is_of_the_order_of_the_real_city(city) -> None:
    (count,) = query(
        city["url"], "SELECT count(*) FROM register.building WHERE facility_id IS NULL"
    )[0]
    people = pd.read_csv(DATA_DIR / "settlements.csv")["population_wikipedia"].sum() * SCALE
    assert 0.8 * people / 2 <= count <= 1.2 * people / 2


def test_no_building_overlaps_another_or_a_road(city) -> None:
    overlaps = query(
        city["url"],
        "SELECT count(*) FROM register.building a JOIN register.building b "
        "ON a.id < b.id AND ST_Intersects(a.geom, b.geom)",
    )
    crossing = query(
        city["url"],
        "SELECT count(*) FROM register.building b WHERE "
        "EXISTS (SELECT 1 FROM twin.roads r WHERE ST_Intersects(r.geom, b.geom)) OR "
        "EXISTS (SELECT 1 FROM twin.local_streets s WHERE ST_Intersects(s.geom, b.geom))",
    )
    assert overlaps == [(0,)]
    assert crossing == [(0,)]


def test_buildings_have_a_street_nearby_and_an_address(city) -> None:
    rows = query(
        city["url"],
        "SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM twin.roads r "
        "  WHERE ST_DWithin(r.geom, b.geom, 60)) AND NOT EXISTS (SELECT 1 FROM "
        "  twin.local_streets s WHERE ST_DWithin(s.geom, b.geom, 60))), "
        "count(*) FILTER (WHERE address IS NULL), "
        "count(*) FROM register.building b",
    )
    far, no_address, total = rows[0]
    assert far <= 0.002 * total
    assert no_address == 0


def test_every_street_light_stands_within_15_m_of_a_road(city) -> None:
    rows = query(
        city["url"],
        "SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM twin.roads r "
        "  WHERE ST_DWithin(r.geom, a.geom, 15)) AND NOT EXISTS (SELECT 1 FROM "
        "  twin.local_streets s WHERE ST_DWithin(s.geom, a.geom, 15))), count(*) "
        "FROM register.street_light a WHERE a.synthetic",
    )
    far, total = rows[0]
    assert total > 100
    assert far == 0


def test_everything_generated_lies_inside_the_municipality(city) -> None:
    rows = query(
        city["url"],
        "SELECT count(*) FROM (SELECT geom FROM register.assets WHERE synthetic UNION ALL "
        "SELECT geom FROM twin.local_streets) x, "
        "twin.municipality m WHERE NOT ST_CoveredBy(x.geom, m.geom)",
    )
    assert rows == [(0,)]


def test_real_facilities_become_municipal_buildings_with_their_names(city) -> None:
    rows = query(
        city["url"],
        "SELECT count(*), count(*) FILTER (WHERE b.name = f.name AND b.ownership = 'municipal' "
        "AND ST_DWithin(b.geom, f.geom, 20)) FROM register.building b "
        "JOIN twin.facilities f ON f.id = b.facility_id",
    )
    linked, matching = rows[0]
    assert linked >= 150
    assert matching == linked
    homeless = query(
        city["url"],
        "SELECT count(*) FROM twin.facilities f WHERE NOT EXISTS (SELECT 1 "
        "FROM register.building b WHERE b.facility_id = f.id "
        "OR f.id = ANY(string_to_array(b.other_facility_ids, ';')))",
    )
    assert homeless == [(0,)]  # co-located facilities share their host's building
    addressed = query(
        city["url"],
        "SELECT count(*) FILTER (WHERE b.address = f.address), count(*) FROM register.building b "
        "JOIN twin.facilities f ON f.id = b.facility_id WHERE f.address IS NOT NULL",
    )
    assert addressed[0][0] == addressed[0][1] > 0


def test_generated_rows_are_labelled(city) -> None:
    for table in TWIN_TABLES:
        rows = query(
            city["url"],
            f"SELECT count(*) FILTER (WHERE NOT synthetic OR generator IS NULL OR seed <> 1), "
            f"count(*) FROM twin.{table}",
        )
        assert rows[0][0] == 0
        assert rows[0][1] > 0
    # The register also holds real rows of other writers: every row the city wrote is labelled,
    # and nothing with the generator's source is left unlabelled.
    written = {c: n for c, n in city["report"].counts.items() if c not in TWIN_TABLES}
    assert {"building", "street_light", "mobile_site", "sensor"} <= set(written)
    for asset_class in classes():
        rows = query(
            city["url"],
            f"SELECT count(*) FILTER (WHERE synthetic AND generator IS NOT NULL AND seed = 1), "
            f"count(*) FILTER (WHERE source IN "
            f"(%(source)s, %(osm)s) AND NOT (synthetic AND generator IS NOT NULL AND seed = 1)) "
            f"FROM register.{asset_class}",
            {"source": SOURCE, "osm": OSM_SOURCE},
        )
        assert rows == [(written.get(asset_class, 0), 0)], asset_class


def test_terrain_passes_through_the_arso_station_altitudes() -> None:
    anchors = np.array([[549936.64, 157898.47], [547997.64, 158936.54]])
    height = elevation_model(np.random.default_rng(3), anchors, np.array([270.0, 279.0]))
    assert height(anchors) == pytest.approx([270.0, 279.0], abs=1e-6)
    pohorje, valley = height(np.array([[541_000.0, 151_000.0], [552_000.0, 156_200.0]]))
    assert pohorje > valley + 400


def test_building_base_heights_come_from_the_terrain(city) -> None:
    with rasterio.open(city["report"].rasters["terrain"]) as src:
        dem = src.read(1)
        assert src.tags()["synthetic"] == "true"
    (low, high) = query(city["url"], "SELECT min(base_m), max(base_m) FROM register.building")[0]
    assert dem.min() - 1 <= low < high <= dem.max() + 1


def test_same_seed_same_city_other_seed_other_city(city, tmp_path: Path) -> None:
    url = city["url"]
    first = city["report"].content_hash
    again = synthesize(seed=1, scale=SCALE, url=url, raster_dir=tmp_path)
    assert again.content_hash == first
    (footprints_1,) = query(url, "SELECT md5(string_agg(ST_AsText(geom), ',' ORDER BY id)) "
                                 "FROM register.building")[0]  # fmt: skip
    other = synthesize(seed=2, scale=SCALE, url=url, raster_dir=tmp_path)
    (footprints_2,) = query(url, "SELECT md5(string_agg(ST_AsText(geom), ',' ORDER BY id)) "
                                 "FROM register.building")[0]  # fmt: skip
    assert other.content_hash != first
    assert footprints_2 != footprints_1
    synthesize(seed=1, scale=SCALE, url=url, raster_dir=tmp_path)


def real_register_rows(url: str) -> dict[str, list[tuple]]:
    """Identity and row version (xmin) of every real (not synthetic) register row, by class."""
    return {
        name: query(
            url,
            f"SELECT id, name, xmin::text, ctid::text FROM register.{name} "
            "WHERE NOT synthetic ORDER BY id",
        )
        for name in classes()
    }


def test_rerun_replaces_only_synthetic_rows(city, tmp_path: Path) -> None:
    url = city["url"]
    with db.connect(url) as conn:
        # As QGIS or ogr2ogr would write it: without saying anything about `synthetic`.
        conn.execute(
            "INSERT INTO register.street_light (id, name, source, licence, geom) "
            "VALUES ('street_light:real-1', 'Surveyed lamp', "
            "'survey 2026', 'CC BY 4.0', ST_SetSRID(ST_MakePoint(549500, 157600), 3794))"
        )
    real_layers = db_state(url)
    real_assets = real_register_rows(url)
    try:
        synthesize(seed=1, scale=SCALE, url=url, raster_dir=tmp_path)
        rows = query(
            url,
            "SELECT name, synthetic FROM register.street_light WHERE id = 'street_light:real-1'",
        )
        assert rows == [("Surveyed lamp", False)]
        assert ("street_light:real-1", "Surveyed lamp") in [
            r[:2] for r in real_assets["street_light"]
        ]
        assert real_register_rows(url) == real_assets  # real assets neither changed nor removed
        assert db_state(url) == real_layers  # the loaded real tables were not touched
    finally:
        with db.connect(url) as conn:
            conn.execute("DELETE FROM register.street_light WHERE id = 'street_light:real-1'")


def test_scale_above_one_tiles_the_city() -> None:
    points = shapely.points([[549_000, 157_000], [549_100, 157_000]])
    frames = {
        "buildings": pd.DataFrame({"id": [1, 2], "geom": list(points)}),
        "assets": pd.DataFrame({"id": pd.Series(["a:1"], dtype="string"), "geom": [points[0]]}),
    }
    tiled = tile(frames, copies=3, width=20_000)
    assert list(tiled["buildings"]["id"]) == [1, 2, 10_000_001, 10_000_002, 20_000_001, 20_000_002]
    assert list(tiled["assets"]["id"]) == ["a:1", "a:1~1", "a:1~2"]
    xs = [g.x for g in tiled["assets"]["geom"]]
    assert xs == [549_000, 569_000, 589_000]


def test_cli_synth_prints_json_only(city, cli_env) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "twin.cli", "synth", "--seed", "1", "--scale", str(SCALE), "--json"],
        env=cli_env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["content_hash"] == city["report"].content_hash
    assert report["counts"]["building"] > 0


def test_synth_needs_the_real_layers_first(cli_env, db_url: str) -> None:
    from twin.config import get_settings
    from twin.db.cluster import LocalCluster

    admin = LocalCluster(get_settings()).url("postgres")
    with db.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS twin_empty")
        conn.execute("CREATE DATABASE twin_empty")
    empty = db_url.rsplit("/", 1)[0] + "/twin_empty"
    cli_env["TWIN_DATABASE_URL"] = empty
    up = [sys.executable, "-m", "twin.cli", "db", "up"]
    assert subprocess.run(up, env=cli_env, capture_output=True, check=False).returncode == 0
    done = subprocess.run(
        [sys.executable, "-m", "twin.cli", "synth", "--scale", "0.01"],
        env=cli_env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: the real Maribor layers are not loaded: run `twin load maribor` before `twin synth`"
    ]


def test_generated_layers_are_listed_as_synthetic_sources(city) -> None:
    rows = query(
        city["url"],
        "SELECT d.table_name, d.row_count, d.synthetic FROM twin.datasets d "
        "WHERE d.name LIKE 'synth_%%' ORDER BY 1",
    )
    counts = city["report"].counts
    tables = {t: t if t in TWIN_TABLES else f"register.{t}" for t in counts}
    assert sorted((tables[t], n, True) for t, n in counts.items()) == rows


@pytest.mark.parametrize(
    ("seed", "scale", "message"),
    [(1, 0.0, "must be a positive number"), (1, float("nan"), "must be a positive number"),
     (1, 1.5, "must be a whole number"), (-1, 1.0, "--seed must be")],
)  # fmt: skip
def test_bad_seed_or_scale_is_refused(seed: int, scale: float, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        synthesize(seed=seed, scale=scale, url="postgresql://unused@127.0.0.1:1/none")


def test_unless_present_skips_only_an_intact_city(city, tmp_path: Path) -> None:
    url = city["url"]
    synthesize(seed=1, scale=SCALE, url=url, raster_dir=tmp_path)
    intact = present(1, SCALE, url)
    assert intact is not None
    assert intact.counts["building"] > 0
    assert present(2, SCALE, url) is None
    assert present(1, 1.0, url) is None
    with db.connect(url) as conn:
        edited = conn.execute(
            "UPDATE register.building SET floors = floors + 1 "
            "WHERE id = (SELECT min(id) FROM register.building WHERE synthetic)"
        ).rowcount
    assert edited == 1
    assert present(1, SCALE, url) is None  # an edited city is regenerated
    synthesize(seed=1, scale=SCALE, url=url, raster_dir=tmp_path)


def test_failed_write_changes_neither_database_nor_rasters(city, tmp_path: Path) -> None:
    url = city["url"]
    synthesize(seed=1, scale=SCALE, url=url, raster_dir=tmp_path)
    rasters = {p.name: p.read_bytes() for p in tmp_path.glob("*.tif")}
    (before,) = query(url, "SELECT md5(string_agg(md5(b::text), '' ORDER BY id)) "
                           "FROM register.building b")[0]  # fmt: skip
    city_before, history_before = content_hash(url), query(url, HISTORY)
    with db.connect(url) as conn:
        conn.execute(
            "CREATE FUNCTION twin.refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk full (simulated)'; END $$"
        )
        # The run is recorded last, after the register classes are merged.
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON twin.synth_runs "
            "FOR EACH STATEMENT EXECUTE FUNCTION twin.refuse()"
        )
    try:
        with pytest.raises(DatabaseError, match="previous synthetic city is unchanged"):
            synthesize(seed=2, scale=SCALE, url=url, raster_dir=tmp_path)
    finally:
        with db.connect(url) as conn:
            conn.execute("DROP TRIGGER refuse ON twin.synth_runs")
            conn.execute("DROP FUNCTION twin.refuse()")
    (after,) = query(url, "SELECT md5(string_agg(md5(b::text), '' ORDER BY id)) "
                          "FROM register.building b")[0]  # fmt: skip
    assert after == before
    assert content_hash(url) == city_before
    assert query(url, HISTORY) == history_before  # no register change was kept
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.tif")} == rasters
    assert not list(tmp_path.glob(".synth-*"))  # the staging directory is gone
