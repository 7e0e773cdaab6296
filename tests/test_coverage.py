"""Coverage analysis: analytic cases on a city built in code, what-if, suggestions, gaps, CLI,
and the PostGIS, geopandas and dask paths agreeing on a ``--scale 10`` city.

The analytic city lives in a database of its own (``twin_coverage_analytic``): a 6 km square
municipality of two districts on a uniform 100 m population grid (10 people per cell), with a
2 km populated strip east of it outside the municipality.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import psycopg
import pyogrio
import pytest
import rasterio
from rasterio.transform import from_origin

from twin import db
from twin._errors import ConfigError
from twin.config import get_settings
from twin.coverage import Site, load_model, measure, report
from twin.coverage.frame import measure_frame
from twin.coverage.gaps import export_gaps, gaps
from twin.coverage.model import to_lonlat
from twin.coverage.suggest import greedy, suggest
from twin.coverage.whatif import parse_site, save_planned, whatif
from twin.db.cluster import LocalCluster
from twin.register.store import Actor

REPO = Path(__file__).resolve().parent.parent
#: The analytic city (EPSG:3794): municipality square, district split, populated strip outside.
WEST, SOUTH, EAST, NORTH, SPLIT, STRIP_EAST = 540_000, 150_000, 546_000, 156_000, 543_000, 548_000
PER_CELL = 10
CITY_POP = (EAST - WEST) // 100 * (NORTH - SOUTH) // 100 * PER_CELL
R_N78 = load_model().bands["n78"].range_m  # at the reference height (30 m)
ACTOR = Actor("coverage-test", "editor")

BOX = "ST_Multi(ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 3794))"
MUNICIPALITY_SQL = f"""
INSERT INTO twin.municipality (ob_id, ob_mid, name, full_name, official_area_km2, source,
                               licence, geom)
VALUES (1, 1, 'Square', 'Square', 36, 'test', 'test', {BOX})"""
DISTRICT_SQL = f"""
INSERT INTO twin.districts (id, mid, name, kind, official_area_km2, source, licence, centroid,
                            geom)
VALUES (%(id)s, %(id)s, %(name)s, %(kind)s, 18, 'test', 'test', ST_Centroid({BOX}), {BOX})"""
GRID_SQL = """
INSERT INTO twin.population_grid (cell_id, population, synthetic, geom)
SELECT (x / 100)::bigint * 1000000 + y / 100, %(p)s, false,
       ST_MakeEnvelope(x, y, x + 100, y + 100, 3794)
FROM generate_series(%(w)s, %(e)s - 100, 100) x, generate_series(%(s)s, %(n)s - 100, 100) y"""
AREA_SQL = f"""
INSERT INTO register.coverage_area (operator, technology, geom) VALUES (%(o)s, %(t)s, {BOX})"""
BUILDING_SQL = """
INSERT INTO register.building (use, floors, height_m, ownership, population, fiber, geom)
VALUES ('residential', 1, 5, 'private', %(pop)s, %(fiber)s,
        ST_MakeEnvelope(%(x)s, 152000, %(x)s + 20, 152020, 3794))"""
POLE_SQL = """
INSERT INTO register.street_light (lamp_type, pole_height_m, geom)
VALUES ('LED', %(h)s, ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), 3794))"""
STATE_SQL = """
SELECT (SELECT count(*) FROM register.history), (SELECT max(change_id) FROM register.changes),
       (SELECT count(*) FROM register.mobile_site),
       (SELECT coalesce(max(xmin::text::bigint), 0) FROM register.mobile_site)"""
SAVED_SQL = """
SELECT state, technologies, bands, azimuths_deg, antenna_height_m, changed_by
FROM register.mobile_site WHERE id = %(id)s"""
TOTALS_SQL = """
SELECT (SELECT sum(population) FROM twin.population_grid),
       (SELECT sum(population) FROM register.building)"""
SITE_SQL = """
INSERT INTO register.mobile_site (operator, technologies, bands, azimuths_deg, antenna_height_m,
                                  state, geom)
VALUES (%(o)s, %(t)s, %(b)s, %(a)s, %(h)s, %(st)s, ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), 3794))
RETURNING id"""


def _run(url: str, sql: str, params: dict[str, object] | None = None) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def _lattice(x0: float, x1: float) -> tuple[np.ndarray, np.ndarray]:
    """Centroids of the 100 m cells between x0 and x1 (all rows of the city)."""
    cx, cy = np.meshgrid(np.arange(x0, x1, 100) + 50.0, np.arange(SOUTH, NORTH, 100) + 50.0)
    return cx.ravel(), cy.ravel()


def _lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = to_lonlat(np.array([x]), np.array([y]))
    return float(lon[0]), float(lat[0])


@pytest.fixture(scope="module")
def analytic_db(db_url: str) -> str:
    admin = LocalCluster(get_settings()).url("postgres")
    with db.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS twin_coverage_analytic WITH (FORCE)")
        conn.execute("CREATE DATABASE twin_coverage_analytic")
    url = db_url.rsplit("/", 1)[0] + "/twin_coverage_analytic"
    _run(url, "CREATE EXTENSION IF NOT EXISTS postgis")
    db.migrate(url)
    box = {"w": WEST, "s": SOUTH, "e": EAST, "n": NORTH}
    _run(url, MUNICIPALITY_SQL, box)
    for d_id, name, kind, w, e in ((1, "West", "MC", WEST, SPLIT), (2, "East", "KS", SPLIT, EAST)):
        _run(url, DISTRICT_SQL, {**box, "id": d_id, "name": name, "kind": kind, "w": w, "e": e})
    _run(url, GRID_SQL, {**box, "p": PER_CELL, "e": STRIP_EAST})
    return url


@pytest.fixture
def analytic(analytic_db: str) -> str:
    """The analytic city with an empty register."""
    for table in ("mobile_site", "coverage_area", "street_light", "building", "fiber_node",
                  "fiber_segment"):  # fmt: skip
        _run(analytic_db, f"DELETE FROM register.{table}")
    return analytic_db


def _area(url: str, operator: str, tech: str, box: tuple[int, int, int, int]) -> None:
    w, s, e, n = box
    _run(url, AREA_SQL, {"o": operator, "t": tech, "w": w, "s": s, "e": e, "n": n})


def _site(url: str, x: float, y: float, *, operator: str = "A", tech: str = "5G",
          bands: str = "NR 3.5 GHz (n78)", azimuths: str | None = None, height: float = 30.0,
          state: str = "active") -> str:  # fmt: skip
    rows = _run(url, SITE_SQL,
                {"o": operator, "t": tech, "b": bands, "a": azimuths, "h": height, "st": state,
                 "x": x, "y": y})  # fmt: skip
    return str(rows[0][0])


def _city(results: list) -> object:
    return next(r for r in results if r.scope == "city")


def test_one_omni_site_covers_the_disc_of_its_range(analytic: str) -> None:
    x0, y0 = 541_500.0, 153_000.0
    _site(analytic, x0, y0)
    cx, cy = _lattice(WEST, EAST)
    inside = np.hypot(cx - x0, cy - y0) <= R_N78
    results = report("5g", analytic)
    city = _city(results)
    assert city.population == CITY_POP
    assert city.covered_population == inside.sum() * PER_CELL  # exact on the lattice
    disc = math.pi * R_N78**2 / 100**2 * PER_CELL  # the continuous answer
    assert abs(city.covered_population - disc) <= 2 * math.pi * R_N78 / 100 * PER_CELL
    assert city.share == pytest.approx(inside.sum() * PER_CELL / CITY_POP)
    assert city.method == "model"
    by_scope = {r.scope: r for r in results}
    assert by_scope["West"].covered_population == city.covered_population
    assert by_scope["East"].covered_population == 0
    assert by_scope["West"].district_id == 1
    assert by_scope["East"].scope_kind == "KS"
    assert by_scope["West"].population + by_scope["East"].population == CITY_POP
    assert report("5g", analytic, scopes=["East", 1])[0].scope == "West"


def test_a_site_outside_the_municipality_covers_nobody_inside_it(analytic: str) -> None:
    _site(analytic, EAST + 1_000.0, 153_000.0)
    assert _city(report("5g", analytic)).covered_population == 0
    people = measure("5g", analytic).people
    outside = people[~people["in_city"]]
    assert outside["covered"].sum() > 0  # it does cover the strip outside
    assert not people.loc[people["in_city"], "covered"].any()


def test_sectors_cover_their_beams_and_the_near_field(analytic: str) -> None:
    x0, y0 = 541_500.0, 153_000.0
    _site(analytic, x0, y0, azimuths="90")  # one sector looking east
    radio = load_model().radio
    cx, cy = _lattice(WEST, EAST)
    d = np.hypot(cx - x0, cy - y0)
    bearing = np.degrees(np.arctan2(cx - x0, cy - y0))
    beam = np.abs((bearing - 90 + 180) % 360 - 180) <= radio.beam_width_deg / 2
    expected = (d <= R_N78) & (beam | (d <= radio.near_field_m))
    assert _city(report("5g", analytic)).covered_population == expected.sum() * PER_CELL


def test_bands_and_height_set_the_range(analytic: str) -> None:
    model = load_model()
    x0, y0 = 541_500.0, 153_000.0
    _site(analytic, x0, y0, bands="NR 700 MHz (n28)", height=60.0)
    factor = min((60 / model.radio.reference_height_m) ** model.radio.height_exponent,
                 model.radio.max_height_factor)  # fmt: skip
    cx, cy = _lattice(WEST, EAST)
    expected = np.hypot(cx - x0, cy - y0) <= model.bands["n28"].range_m * factor
    assert _city(report("5g", analytic)).covered_population == expected.sum() * PER_CELL
    assert _city(report("4g", analytic)).covered_population == 0  # a 5G-only site


def test_an_operator_polygon_replaces_the_modelled_coverage(analytic: str) -> None:
    _site(analytic, 541_500.0, 153_000.0, operator="A")
    modelled = _city(report("5g", analytic)).covered_population
    # Operator A's real polygon: a 1 km x 2 km block in the east district (200 cells).
    _area(analytic, "A", "5g", (544_000, 151_000, 545_000, 153_000))
    results = {r.scope: r for r in report("5g", analytic)}
    assert results["city"].covered_population == 200 * PER_CELL != modelled
    assert results["city"].method == "operator"
    assert results["city"].covered_by_operator == 200 * PER_CELL
    assert results["West"].covered_population == 0
    assert results["East"].covered_population == 200 * PER_CELL
    # Another operator without polygons stays modelled: the report says "mixed".
    _site(analytic, 541_500.0, 153_000.0, operator="B")
    mixed = _city(report("5g", analytic))
    assert mixed.method == "mixed"
    assert mixed.covered_population == 200 * PER_CELL + modelled
    # A 4G polygon does not count for 5G.
    assert _city(report("4g", analytic)).method == "model"


def test_gigabit_counts_connections_drop_distance_and_polygons(analytic: str) -> None:
    drop = load_model().gigabit.drop_distance_m
    for x, fiber, pop in ((541_000, "ftth", 5), (542_000, "none", 7), (543_500, "other", 11),
                          (544_500, "none", 13)):  # fmt: skip
        _run(analytic, BUILDING_SQL, {"x": x, "pop": pop, "fiber": fiber})
    # A street cabinet drop - 1 m from the second house; a cable far from the third.
    _run(analytic, "INSERT INTO register.fiber_node (operator, kind, geom) VALUES ('F', "
                   "'street_cabinet', ST_SetSRID(ST_MakePoint(542020 + %(d)s, 152010), 3794))",
         {"d": drop - 1})  # fmt: skip
    _run(analytic, "INSERT INTO register.fiber_segment (operator, kind, geom) VALUES ('G', "
                   "'distribution', ST_GeomFromText('LINESTRING(543500 152500, 543600 152500)', "
                   "3794))")  # fmt: skip
    results = {r.scope: r for r in report("gigabit", analytic)}
    assert results["city"].population == 5 + 7 + 11 + 13
    assert results["city"].covered_population == 5 + 7
    assert results["city"].method == "model"
    assert (results["West"].covered_population, results["East"].covered_population) == (12, 0)
    _area(analytic, "G", "ftth", (544_400, 151_900, 544_600, 152_100))
    city = {r.scope: r for r in report("gigabit", analytic)}["city"]
    assert (city.covered_population, city.covered_by_operator, city.method) == (
        5 + 7 + 13,
        13,
        "mixed",
    )
    assert (
        measure_frame("gigabit", analytic).people["covered"].tolist()
        == measure("gigabit", analytic).people["covered"].tolist()
    )


def _register_state(url: str) -> list[tuple]:
    return _run(url, STATE_SQL)


def test_whatif_adds_exactly_the_newly_covered_population_and_writes_nothing(analytic: str) -> None:
    _site(analytic, 541_500.0, 153_000.0)
    before = _city(report("5g", analytic))
    state = _register_state(analytic)
    x1, y1 = 541_500.0 + 800.0, 153_000.0  # overlaps the first disc a little
    result = whatif(Site(*_lonlat(x1, y1), "5g"), analytic)
    cx, cy = _lattice(WEST, EAST)
    old = np.hypot(cx - 541_500, cy - 153_000) <= R_N78
    new = np.hypot(cx - x1, cy - y1) <= R_N78
    newly = (new & ~old).sum() * PER_CELL
    assert result.city.covered_before == before.covered_population
    assert result.city.new_covered == newly
    assert result.city.covered_after == before.covered_population + newly
    assert result.city.share_after - result.city.share_before == pytest.approx(newly / CITY_POP)
    assert result.covered_population == new.sum() * PER_CELL
    assert sum(r.new_covered for r in result.results if r.scope != "city") == newly
    assert _register_state(analytic) == state  # nothing written
    assert _city(report("5g", analytic)) == before


def test_a_site_saved_as_planned_is_in_the_register_but_not_counted(analytic: str) -> None:
    site = Site(*_lonlat(544_000.0, 154_000.0), "5g", ("n78", "n28"), 25.0, (0.0, 120.0, 240.0))
    asset_id = save_planned(site, actor=ACTOR, url=analytic)
    rows = _run(analytic, SAVED_SQL, {"id": asset_id})
    assert rows == [("planned", "5G", "NR 3.5 GHz (n78);NR 700 MHz (n28)", "0;120;240", 25.0,
                     "coverage-test")]  # fmt: skip
    assert _city(report("5g", analytic)).covered_population == 0


def test_suggestions_are_ranked_by_marginal_gain(analytic: str) -> None:
    _site(analytic, 541_500.0, 153_000.0)  # an existing mast: itself a candidate
    poles = [(541_900.0, 153_000.0), (544_000.0, 154_000.0), (544_100.0, 154_000.0),
             (545_900.0, 150_100.0), (542_500.0, 155_500.0)]  # fmt: skip
    for x, y in poles:
        _run(analytic, POLE_SQL, {"x": x, "y": y, "h": 30})
    ranked = suggest(10, "5g", analytic)
    gains = [s.marginal_gain for s in ranked]
    assert gains == sorted(gains, reverse=True)
    assert all(g > 0 for g in gains)
    assert len(ranked) == len(poles)  # every pole adds people; the mast adds nobody
    assert {s.kind for s in ranked} == {"street_light"}
    base = _city(report("5g", analytic)).covered_population
    assert [s.cumulative_covered for s in ranked] == list(base + np.cumsum(gains))
    single = [whatif(Site(*_lonlat(x, y), "5g", height_m=30.0), analytic).city.new_covered
              for x, y in poles]  # fmt: skip
    assert ranked[0].marginal_gain == max(single)
    assert ranked[-1].cumulative_share == pytest.approx(ranked[-1].cumulative_covered / CITY_POP)


def test_greedy_breaks_ties_by_position_and_stops_when_nothing_is_left() -> None:
    cand = np.array([0, 0, 1, 1, 2])
    unit = np.array([0, 1, 1, 2, 3])
    chosen, gains = greedy(cand, unit, np.array([5.0, 5.0, 5.0, 1.0]), 5)
    assert chosen.tolist() == [0, 1, 2]
    assert gains.tolist() == [10.0, 5.0, 1.0]


def test_line_of_sight_hides_the_people_behind_a_ridge(analytic: str, tmp_path: Path) -> None:
    x0, y0 = 541_500.0, 153_000.0
    _site(analytic, x0, y0)
    dem = tmp_path / "ridge.tif"
    heights = np.full((140, 180), 250.0, dtype="float32")  # 50 m cells from (539500, 157000)
    ridge_col = int((x0 + 300 - 539_500) // 50)
    heights[:, ridge_col] = 400.0  # a north-south ridge 300 m east of the site
    profile = {"driver": "GTiff", "width": 180, "height": 140, "count": 1, "dtype": "float32",
               "crs": "EPSG:3794", "transform": from_origin(539_500, 157_000, 50, 50)}  # fmt: skip
    with rasterio.open(dem, "w", **profile) as dst:
        dst.write(heights, 1)
    model = load_model()
    los = model.model_copy(update={"radio": model.radio.model_copy(update={"line_of_sight": True})})
    plain = measure("5g", analytic).people
    masked = measure("5g", analytic, model=los, dem=dem).people
    east_of_ridge = plain["x"] > x0 + 350
    assert plain.loc[east_of_ridge, "covered"].any()
    assert not masked.loc[east_of_ridge, "covered"].any()
    assert masked.loc[plain["x"] < x0 + 250, "covered"].equals(
        plain.loc[plain["x"] < x0 + 250, "covered"]
    )
    frame = measure_frame("5g", analytic, model=los, dem=dem).people
    assert frame["covered"].tolist() == masked["covered"].tolist()
    with pytest.raises(ConfigError, match="no DEM"):
        measure("5g", analytic, model=los, dem=tmp_path / "missing.tif")


def test_the_gap_map_holds_every_uncovered_person_in_the_city(
    analytic: str, tmp_path: Path
) -> None:
    _site(analytic, 541_500.0, 153_000.0)
    covered = _city(report("5g", analytic)).covered_population
    frame = gaps("5g", analytic)
    assert frame.crs.to_epsg() == 4326
    assert frame["uncovered_population"].sum() == CITY_POP - covered
    assert (frame["uncovered_population"] > 0).all()
    assert frame["h3"].is_unique
    for name in ("gaps.gpkg", "gaps.geojson"):
        count = export_gaps(tmp_path / name, "5g", analytic)
        written = pyogrio.read_dataframe(tmp_path / name)
        assert len(written) == count == len(frame)
        assert written["uncovered_population"].sum() == CITY_POP - covered
    with pytest.raises(ConfigError, match="gpkg"):
        export_gaps(tmp_path / "gaps.shp", "5g", analytic)


def test_unknown_inputs_are_named(analytic: str) -> None:
    with pytest.raises(ConfigError, match="unknown technology '6g'"):
        report("6g", analytic)
    with pytest.raises(ConfigError, match="unknown scope"):
        report("5g", analytic, scopes=["Atlantis"])
    with pytest.raises(ConfigError, match="not a 5g band"):
        whatif(Site(15.6, 46.55, "5g", ("B20",)), analytic)
    with pytest.raises(ConfigError, match="swapped"):
        parse_site("46.55,15.64")
    with pytest.raises(ConfigError, match="LON,LAT"):
        parse_site("15.6")


def test_a_broken_model_file_is_named(tmp_path: Path) -> None:
    text = (REPO / "twin" / "coverage" / "model.toml").read_text(encoding="utf-8")
    bad = tmp_path / "model.toml"
    bad.write_text(text.replace("range_m = 600.0", "range_m = -1.0"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"model.toml: bands.n78.range_m"):
        load_model(bad)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "twin.cli", "coverage", *args], env=env,
                          capture_output=True, text=True, check=False, timeout=300)  # fmt: skip


def test_cli_report_whatif_suggest_and_gaps(analytic: str, cli_env, tmp_path: Path) -> None:
    cli_env["TWIN_DATABASE_URL"] = analytic
    _site(analytic, 541_500.0, 153_000.0)
    _run(analytic, POLE_SQL, {"x": 544_000, "y": 154_000, "h": None})
    done = _cli(cli_env, "report", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [(r["tech"], r["scope"]) for r in rows] == [
        ("gigabit", "city"), ("gigabit", "West"), ("gigabit", "East"),
        ("5g", "city"), ("5g", "West"), ("5g", "East"),
    ]  # fmt: skip
    assert {"tech", "scope", "population", "covered_population", "share", "method"} <= set(rows[3])
    assert rows[3]["population"] == CITY_POP
    assert (rows[0]["population"], rows[0]["share"]) == (0, None)  # no buildings here
    lon, lat = _lonlat(544_000.0, 154_000.0)
    done = _cli(cli_env, "whatif", "--site", f"{lon},{lat}", "--tech", "5g", "--band", "n78",
                "--height", "30", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["results"][0]["scope"] == "city"
    assert result["results"][0]["new_covered"] == result["covered_population"] > 0
    assert "saved_as" not in result
    done = _cli(cli_env, "whatif", "--site", f"{lon},{lat}", "--save-as-planned", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["saved_as"].startswith("mobile_site:")
    done = _cli(cli_env, "suggest", "--n", "3", "--tech", "5g", "--json",
                "--output", str(tmp_path / "s.geojson"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    ranked = json.loads(done.stdout)
    assert ranked[0]["rank"] == 1
    assert {"marginal_gain", "cumulative_share", "candidate_id"} <= set(ranked[0])
    assert len(pyogrio.read_dataframe(tmp_path / "s.geojson")) == len(ranked)
    done = _cli(cli_env, "gaps", str(tmp_path / "g.gpkg"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["cells"] > 0
    done = _cli(cli_env, "whatif", "--site", f"{lat},{lon}")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "swapped" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def thin_city(loaded: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    from twin.synth.city import synthesize

    synthesize(seed=1, scale=0.05, url=loaded, raster_dir=tmp_path_factory.mktemp("rasters"))
    return loaded


def test_report_on_the_synthetic_city_adds_up(thin_city: str) -> None:
    grid, buildings = _run(thin_city, TOTALS_SQL)[0]
    results = report(["gigabit", "5g"], thin_city)
    gig = [r for r in results if r.tech == "gigabit"]
    five = [r for r in results if r.tech == "5g"]
    assert len(gig) == len(five) == 18
    assert gig[0].population == buildings
    assert five[0].population <= grid
    assert sum(r.population for r in gig[1:]) == buildings
    assert all(r.synthetic_share == 1.0 for r in results if r.population)
    assert 0 < gig[0].share < 1
    assert 0 < five[0].share <= 1


def run_notebook(path: Path) -> dict[str, object]:
    """Run a notebook's code cells in order in one namespace (as a kernel would); return it."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    namespace: dict[str, object] = {"__name__": "__main__"}
    for number, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            code = compile("".join(cell["source"]), f"{path.name}, cell {number}", "exec")
            exec(code, namespace)  # noqa: S102 - the project's own notebook
    return namespace


@pytest.mark.usefixtures("thin_city")
def test_coverage_whatif_notebook_runs(capsys) -> None:
    namespace = run_notebook(REPO / "notebooks" / "coverage_whatif.ipynb")
    assert namespace["whatif_result"].city.new_covered >= 0
    assert namespace["ranked"][0].rank == 1
    assert "covered" in capsys.readouterr().out


@pytest.fixture(scope="module")
def scale10(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    from twin.load.maribor import load
    from twin.synth.city import synthesize

    admin = LocalCluster(get_settings()).url("postgres")
    with db.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS twin_coverage_scale10 WITH (FORCE)")
        conn.execute("CREATE DATABASE twin_coverage_scale10")
    url = db_url.rsplit("/", 1)[0] + "/twin_coverage_scale10"
    _run(url, "CREATE EXTENSION IF NOT EXISTS postgis")
    db.migrate(url)
    load(url=url)
    synthesize(seed=1, scale=10, url=url, raster_dir=tmp_path_factory.mktemp("rasters10"))
    return url


def test_postgis_geopandas_and_dask_agree_on_a_scale_10_city(
    scale10: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from twin.coverage.distributed import local_cluster, measure_dask

    # Spawned dask workers re-run the parent's ``__main__`` file; a Streamlit AppTest earlier in
    # the session leaves a page (views/*.py) there, which cannot be imported on its own.
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))

    with local_cluster(workers=2) as client:
        for tech in ("5g", "gigabit"):
            postgis = measure(tech, scale10).people
            frame = measure_frame(tech, scale10).people
            dask = measure_dask(tech, scale10, client=client, npartitions=8).people
            assert len(postgis) > (30_000 if tech == "5g" else 200_000)
            assert postgis["unit_id"].tolist() == frame["unit_id"].tolist()
            assert dask["unit_id"].tolist() == postgis["unit_id"].tolist()
            assert frame["covered"].tolist() == postgis["covered"].tolist()
            assert dask["covered"].tolist() == postgis["covered"].tolist()
            assert 0 < postgis["covered"].mean() < 1


EVIL = "<script>alert('x')</script> *b* ![x](http://example.com/a.png)"


def test_coverage_deck_is_offline_and_keeps_names_as_text(thin_city: str) -> None:
    from twin.districts import district_frame, municipality_frame
    from twin.scene import road_frame
    from twin.scene.coverage import coverage_deck, site_frame

    coverage = measure("5g", thin_city)
    sites = site_frame(coverage)
    sites.loc[sites.index[0], "operator"] = EVIL
    ranked = suggest(2, "5g", thin_city)
    result = whatif(Site(15.60, 46.52, "5g"), thin_city)
    gap_cells = gaps("5g", thin_city)
    deck = coverage_deck(district_frame(thin_city), municipality_frame(thin_city),
                         road_frame(thin_city), gap_cells, sites, ranked, result)  # fmt: skip
    text = deck.to_json()
    spec = json.loads(text)
    assert deck.map_provider is None
    assert "mapProvider" not in spec
    assert "http" not in text.replace("http://example.com/a.png", "")  # only the evil name
    assert set(deck._tooltip) == {"text", "style"}
    layers = {layer["id"]: layer for layer in spec["layers"]}
    assert len(layers["coverage_gaps"]["data"]["features"]) == len(gap_cells)
    assert len(layers["coverage_sites"]["data"]) == len(sites)
    assert EVIL in layers["coverage_sites"]["data"][0]["tt_title"]
    assert [d["rank"] for d in layers["coverage_suggestions"]["data"]] == ["1", "2"]
    assert "coverage_whatif" in layers


@pytest.mark.usefixtures("thin_city")
def test_coverage_page_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.syspath_prepend(str(REPO))
    get_settings.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_file(str(REPO / "views" / "coverage.py"), default_timeout=120).run()
    assert not app.exception
    assert not app.error
    labels = [m.label for m in app.metric]
    assert {"Covered", "People covered", "Newly covered"} <= set(labels)
    app.radio[0].set_value("gigabit").run()
    assert not app.exception
    assert "Newly covered" not in [m.label for m in app.metric]  # no what-if for fiber
    app.radio[0].set_value("5g").run()
    app.toggle[0].set_value(True).run()
    assert not app.exception
    st.cache_data.clear()
    st.cache_resource.clear()
