"""``twin assets import`` / ``export``: files in, files out, all or nothing, nothing lost.

Test files are generated in code (a few rows each, one file of 1,000); every row this module
writes carries its own ``source`` and is deleted at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely

from twin._errors import DataFileError
from twin.register import store
from twin.register.catalog import classes
from twin.register.exporter import export_file
from twin.register.importer import ImportRejected, import_file
from twin.synth.city import synthesize

ALICE = store.Actor("alice", "editor")
#: Source of every row this module writes (deleted at the end).
SOURCE = f"test transfer {uuid.uuid4().hex[:8]}"
#: Centre of Maribor in D96/TM (EPSG:3794).
CENTRE = (549_400.0, 157_300.0)
FORMATS = [".gpkg", ".geojson", ".shp", ".zip", ".csv", ".parquet", ".fgb"]
INJECTION = "'); DROP TABLE register.street_light; --"
MARKUP = "<img src=x onerror=alert(1)>"


def query(url: str, text: str, *params: object) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(text, params or None).fetchall()


@pytest.fixture(scope="module")
def city(loaded: str, tmp_path_factory: pytest.TempPathFactory):
    """The loaded test database with a synthetic city; this module's rows removed after."""
    (count,) = query(loaded, "SELECT count(*) FROM register.street_light WHERE synthetic")[0]
    if not count:
        synthesize(seed=1, scale=0.05, url=loaded, raster_dir=tmp_path_factory.mktemp("rasters"))
    yield loaded
    with psycopg.connect(loaded) as conn:
        for name in classes():
            conn.execute(f"DELETE FROM register.{name} WHERE source = %s", (SOURCE,))


def tag() -> str:
    """A fresh prefix for the external identifiers of one test's rows."""
    return f"T{uuid.uuid4().hex[:8]}"


def lights(n: int, prefix: str, crs: int = 4326, seed: int = 1) -> gpd.GeoDataFrame:
    """``n`` street lights near the centre with pole codes ``<prefix>-00000`` …"""
    rng = np.random.default_rng(seed)
    x = CENTRE[0] + rng.uniform(-2_000, 2_000, n)
    y = CENTRE[1] + rng.uniform(-2_000, 2_000, n)
    frame = gpd.GeoDataFrame(
        {
            "pole_code": [f"{prefix}-{i:05d}" for i in range(n)],
            "name": [f"lamp {i}" for i in range(n)],
            "lamp_type": rng.choice(["LED", "sodium", "metal_halide"], n),
            "power_w": rng.integers(20, 400, n),
            "telemanaged": rng.random(n) < 0.5,
            "pole_height_m": rng.uniform(4, 12, n).round(2),
            "install_year": rng.integers(1970, 2025, n),
            "source": SOURCE,
        },
        geometry=gpd.points_from_xy(x, y),
        crs=3794,
    )
    return frame.to_crs(crs)


def table_state(url: str, name: str = "street_light") -> tuple:
    """Digest of a register table, the history size, newest change and the id sequence."""
    return query(
        url,
        f"SELECT (SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM register.{name} t), "
        "(SELECT count(*) FROM register.history), "
        "(SELECT max(change_id) FROM register.changes), "
        "(SELECT last_value FROM register.asset_number)",
    )[0]


def by_code(url: str, prefix: str) -> list[tuple]:
    return query(
        url,
        "SELECT pole_code, id, version, lamp_type, name FROM register.street_light "
        "WHERE pole_code LIKE %s ORDER BY pole_code",
        f"{prefix}-%",
    )


@pytest.fixture(scope="module")
def areas(city: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Two coverage areas of this module (a date and a null date, two parts and one)."""
    x, y = CENTRE
    frame = gpd.GeoDataFrame(
        {
            "operator": ["Telemach", "A1 Slovenija"],
            "technology": ["5g", "4g"],
            "band": ["n78", None],
            "valid_on": ["2026-03-01", None],
            "source": SOURCE,
        },
        geometry=[
            shapely.MultiPolygon([shapely.box(x, y, x + 300, y + 300),
                                  shapely.box(x + 500, y, x + 800, y + 300)]),
            shapely.box(x - 900, y - 900, x - 100, y - 100),
        ],
        crs=3794,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("areas") / "areas.gpkg"
    frame.to_file(path)
    report = import_file(path, "coverage_area", actor=ALICE, url=city)
    assert report.new == 2
    assert any("coverage_area has no external identifier" in n for n in report.notes)
    return city


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize(
    "class_name", ["street_light", "building", "mobile_site", "fiber_segment", "coverage_area"]
)
def test_export_then_import_changes_nothing(areas, tmp_path, class_name, suffix) -> None:
    path = tmp_path / f"{class_name}{suffix}"
    count = export_file(class_name, path, url=areas)
    assert count > 0
    report = import_file(path, class_name, dry_run=True, url=areas)
    assert report.problems == []
    assert report.changes == []
    assert (report.rows, report.new, report.changed, report.unchanged) == (count, 0, 0, count)


def test_a_real_reimport_of_an_export_writes_no_version(areas, tmp_path) -> None:
    path = tmp_path / "lights.gpkg"
    export_file("street_light", path, url=areas)
    before = table_state(areas)
    report = import_file(path, "street_light", actor=ALICE, url=areas)
    assert (report.new, report.changed) == (0, 0)
    assert table_state(areas) == before


def test_export_keeps_types_crs_and_shapefile_names(areas, tmp_path) -> None:
    path = tmp_path / "lights.shp"
    export_file("street_light", path, url=areas)
    frame = gpd.read_file(path)
    assert frame.crs.to_epsg() == 3794
    assert {"pole_heigh", "install_ye", "telemanage"} <= set(frame.columns)
    assert all(len(c) <= 10 for c in frame.columns)
    geojson = tmp_path / "areas.geojson"
    export_file("coverage_area", geojson, url=areas)
    doc = json.loads(geojson.read_text(encoding="utf-8"))
    dates = {f["properties"]["valid_on"] for f in doc["features"]}
    assert "2026-03-01" in dates
    x, y = doc["features"][0]["geometry"]["coordinates"][0][0][0]
    assert 15.4 < x < 15.9  # GeoJSON defaults to longitude/latitude
    assert 46.4 < y < 46.7


def test_one_bad_row_among_1000_imports_nothing_and_names_it(city, tmp_path) -> None:
    frame = lights(1_000, tag())
    frame["power_w"] = frame["power_w"].astype(object)
    frame.loc[536, "power_w"] = "abc"
    path = tmp_path / "roads.gpkg"
    frame.to_file(path)
    before = table_state(city)
    message = (
        r"roads\.gpkg: 1 of 1000 rows rejected, nothing imported: "
        r"row 537: power_w is not a whole number \(got 'abc'\)$"
    )
    with pytest.raises(ImportRejected, match=message):
        import_file(path, "street_light", actor=ALICE, url=city)
    assert table_state(city) == before
    report = import_file(path, "street_light", dry_run=True, url=city)
    assert (report.new, report.rejected) == (999, 1)
    assert [(p.row, p.field) for p in report.problems] == [(537, "power_w")]


def test_csv_rows_are_named_by_their_line(city, tmp_path) -> None:
    frame = lights(10, tag())
    table = pd.DataFrame(frame.drop(columns="geometry"))
    table["lon"], table["lat"] = frame.geometry.x, frame.geometry.y
    table.loc[3, "lamp_type"] = "candle"
    path = tmp_path / "lights.csv"
    table.to_csv(path, index=False)
    with pytest.raises(ImportRejected, match=r"line 5: lamp_type is not one of LED, sodium"):
        import_file(path, "street_light", actor=ALICE, url=city)


def test_a_file_without_crs_is_refused_unless_crs_is_given(city, tmp_path) -> None:
    frame = lights(5, tag(), crs=3794).set_crs(None, allow_override=True)
    for suffix in (".gpkg", ".shp"):
        path = tmp_path / f"nocrs{suffix}"
        frame.to_file(path)
        path.with_suffix(".prj").unlink(missing_ok=True)
        with pytest.raises(DataFileError, match=r"no coordinate reference system.*pass --crs"):
            import_file(path, "street_light", dry_run=True, url=city)
        report = import_file(path, "street_light", dry_run=True, crs="EPSG:3794", url=city)
        assert (report.new, report.rejected, report.crs) == (5, 0, "EPSG:3794")
    wkt = pd.DataFrame(frame.drop(columns="geometry")).assign(wkt=frame.geometry.to_wkt())
    csv = tmp_path / "nocrs.csv"
    wkt.to_csv(csv, index=False)
    with pytest.raises(DataFileError, match=r"wkt column has no coordinate reference system"):
        import_file(csv, "street_light", dry_run=True, url=city)
    assert import_file(csv, "street_light", dry_run=True, crs=3794, url=city).new == 5


def test_a_wrong_crs_option_is_one_clear_error(city, tmp_path) -> None:
    path = tmp_path / "lights.gpkg"
    lights(2, tag()).to_file(path)
    with pytest.raises(ValueError, match=r"--crs 'EPSG:999999' is not a coordinate reference"):
        import_file(path, "street_light", dry_run=True, crs="EPSG:999999", url=city)


def test_swapped_longitude_and_latitude_are_recognised(city, tmp_path) -> None:
    frame = lights(6, tag())
    point = frame.geometry.iloc[2]
    frame.loc[2, "geometry"] = shapely.Point(point.y, point.x)
    path = tmp_path / "swapped.geojson"
    frame.to_file(path)
    report = import_file(path, "street_light", dry_run=True, url=city)
    assert [(p.row, p.field, p.reason) for p in report.problems] == [
        (3, "geometry", "lies outside Maribor: longitude and latitude look swapped")
    ]


def test_features_outside_the_municipality_are_rejected(city, tmp_path) -> None:
    frame = lights(4, tag())
    frame.loc[1, "geometry"] = shapely.Point(14.5058, 46.0514)  # Ljubljana
    frame.loc[3, "geometry"] = None
    path = tmp_path / "outside.gpkg"
    frame.to_file(path)
    report = import_file(path, "street_light", dry_run=True, url=city)
    reasons = {p.row: p.reason for p in report.problems}
    assert reasons[2].startswith("lies outside Maribor (more than 500 m beyond")
    assert reasons[4] == "is missing or empty"
    assert report.rejected == 2


def _brownfield(geometry: shapely.Geometry, code: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"parcel_id": [code], "name": ["old works"], "source": [SOURCE]},
        geometry=[geometry],
        crs=3794,
    )


def test_an_invalid_polygon_is_rejected_or_repaired_with_fix(city, tmp_path) -> None:
    x, y = CENTRE
    spike = shapely.Polygon([(x, y), (x + 50, y), (x + 50, y + 50), (x + 25, y + 50),
                             (x + 25, y + 90), (x + 25, y + 50), (x, y + 50)])  # fmt: skip
    assert not spike.is_valid
    path = tmp_path / "brownfield.gpkg"
    code = tag()
    _brownfield(spike, code).to_file(path)
    report = import_file(path, "brownfield", dry_run=True, url=city)
    assert report.rejected == 1
    assert report.problems[0].reason.startswith("is not valid (")
    assert "--fix" in report.problems[0].reason
    report = import_file(path, "brownfield", fix=True, actor=ALICE, url=city)
    assert (report.new, report.rejected) == (1, 0)
    assert len(report.repairs) == 1
    assert report.repairs[0].row == 1
    assert "repaired with make_valid (area now 2500.0 m²)" in report.repairs[0].reason
    stored = query(
        city,
        "SELECT ST_IsValid(geom), ST_GeometryType(geom), round(ST_Area(geom)) "
        "FROM register.brownfield WHERE parcel_id = %s",
        code,
    )
    assert stored == [(True, "ST_Polygon", 2500)]


def test_a_polygon_that_repairs_into_two_is_still_rejected(city, tmp_path) -> None:
    x, y = CENTRE
    bowtie = shapely.Polygon([(x, y), (x + 40, y + 40), (x + 40, y), (x, y + 40)])
    path = tmp_path / "bowtie.gpkg"
    _brownfield(bowtie, tag()).to_file(path)
    report = import_file(path, "brownfield", dry_run=True, fix=True, url=city)
    assert report.rejected == 1
    assert "make_valid gives a MultiPolygon with 2 parts, not one Polygon" in (
        report.problems[0].reason
    )


def test_fix_repairs_a_bowtie_into_a_multipolygon_where_the_class_wants_one(city, tmp_path):
    x, y = CENTRE
    bowtie = shapely.Polygon([(x, y), (x + 40, y + 40), (x + 40, y), (x, y + 40)])
    frame = gpd.GeoDataFrame(
        {"operator": ["Telemach"], "technology": ["5g"], "source": [SOURCE]},
        geometry=[bowtie],
        crs=3794,
    )
    path = tmp_path / "bowtie.geojson"
    frame.to_file(path)
    assert import_file(path, "coverage_area", dry_run=True, url=city).rejected == 1
    report = import_file(path, "coverage_area", dry_run=True, fix=True, url=city)
    assert (report.new, report.rejected) == (1, 0)
    assert report.repairs[0].reason.startswith("Self-intersection")
    assert "repaired with make_valid (area now 800.0 m²)" in report.repairs[0].reason


def test_a_viewer_cannot_import_but_anyone_may_dry_run(city, tmp_path) -> None:
    path = tmp_path / "lights.gpkg"
    lights(2, tag()).to_file(path)
    before = table_state(city)
    with pytest.raises(PermissionError, match="only editors and admins may edit"):
        import_file(path, "street_light", actor=store.Actor("vera", "viewer"), url=city)
    with pytest.raises(PermissionError, match="sign in"):
        import_file(path, "street_light", url=city)
    assert import_file(path, "street_light", dry_run=True, url=city).new == 2
    assert table_state(city) == before


def test_a_one_part_multipoint_is_taken_and_a_line_refused(city, tmp_path) -> None:
    frame = lights(3, tag())
    frame.loc[0, "geometry"] = shapely.MultiPoint([frame.geometry.iloc[0]])
    frame.loc[1, "geometry"] = shapely.LineString([frame.geometry.iloc[1], frame.geometry.iloc[2]])
    path = tmp_path / "mixed.gpkg"
    frame.to_file(path)
    report = import_file(path, "street_light", dry_run=True, url=city)
    assert [(p.row, p.reason) for p in report.problems] == [
        (2, "is a LineString; a street_light needs one Point")
    ]


def test_duplicate_ids_and_identifiers_in_a_file_are_rejected(city, tmp_path) -> None:
    (existing,) = query(city, "SELECT id FROM register.street_light ORDER BY id LIMIT 1")[0]
    prefix = tag()
    frame = lights(5, prefix)
    frame.insert(0, "id", [None, existing, None, existing, None])
    frame.loc[4, "pole_code"] = f"{prefix}-00000"
    path = tmp_path / "dupes.gpkg"
    frame.to_file(path)
    report = import_file(path, "street_light", dry_run=True, url=city)
    problems = {(p.row, p.field): p.reason for p in report.problems}
    assert problems[(4, "id")] == f"{existing!r} is also in row 2"
    assert problems[(5, "pole_code")] == f"'{prefix}-00000' is also in row 1"
    with pytest.raises(ImportRejected, match=r"2 of 5 rows rejected.*row 4: id") as refused:
        import_file(path, "street_light", actor=ALICE, url=city)
    assert (refused.value.report.new, refused.value.report.rejected) == (2, 2)


def test_ids_of_other_classes_and_unknown_parents_are_rejected(city, tmp_path) -> None:
    (building,) = query(city, "SELECT id FROM register.building ORDER BY id LIMIT 1")[0]
    (lamp,) = query(city, "SELECT id FROM register.street_light ORDER BY id LIMIT 1")[0]
    frame = lights(4, tag())
    frame.insert(0, "id", [building, "lamp 7", None, None])
    frame["parent_id"] = [None, None, "street_light:none", lamp]
    path = tmp_path / "refs.gpkg"
    frame.to_file(path)
    problems = {(p.row, p.field): p.reason for p in
                import_file(path, "street_light", dry_run=True, url=city).problems}  # fmt: skip
    assert problems[(1, "id")] == "is the id of a building, not of a street_light"
    assert problems[(2, "id")].startswith("is not in the register and is not a street_light id")
    assert problems[(3, "parent_id")] == (
        "'street_light:none' is neither in the register nor in this file"
    )
    assert problems[(4, "parent_id")] == (
        f"{lamp!r} is a street_light; a street_light hangs on a traffic_light or building"
    )


def test_a_reimport_updates_by_external_identifier_instead_of_duplicating(city, tmp_path) -> None:
    prefix = tag()
    frame = lights(20, prefix)
    path = tmp_path / "contractor.gpkg"
    frame.to_file(path)
    first = import_file(path, "street_light", actor=ALICE, url=city)
    assert (first.new, first.changed, first.unchanged) == (20, 0, 0)
    stored = by_code(city, prefix)
    assert len(stored) == 20
    frame.loc[3, "lamp_type"] = (
        "fluorescent" if frame.loc[3, "lamp_type"] != "fluorescent" else "LED"
    )
    frame.to_file(path)
    second = import_file(path, "street_light", actor=ALICE, url=city)
    assert (second.new, second.changed, second.unchanged) == (0, 1, 19)
    assert [(c.row, c.status) for c in second.changes] == [(4, "changed")]
    again = by_code(city, prefix)
    assert [r[1] for r in again] == [r[1] for r in stored]  # same ids
    assert again[3][2:4] == (2, frame.loc[3, "lamp_type"])


def test_sql_and_html_in_text_are_stored_as_written(city, tmp_path) -> None:
    prefix = tag()
    frame = lights(3, prefix)
    frame["name"] = [INJECTION, MARKUP, 'quote " and ; semicolon\nnew line']
    for suffix in (".gpkg", ".csv"):
        path = tmp_path / f"text{suffix}"
        if suffix == ".csv":
            table = pd.DataFrame(frame.drop(columns="geometry"))
            table["lon"], table["lat"] = frame.geometry.x, frame.geometry.y
            table.to_csv(path, index=False)
        else:
            frame.to_file(path)
        import_file(path, "street_light", actor=ALICE, url=city)
        assert [r[4] for r in by_code(city, prefix)] == list(frame["name"])
    assert query(city, "SELECT to_regclass('register.street_light') IS NOT NULL")[0] == (True,)


def test_a_dry_run_writes_nothing(city, tmp_path) -> None:
    prefix = tag()
    path = tmp_path / "planned.gpkg"
    frame = lights(12, prefix)
    frame.head(5).to_file(path)
    import_file(path, "street_light", actor=ALICE, url=city)
    frame.loc[0, "power_w"] = 1_999
    frame.to_file(path)
    before = table_state(city)
    report = import_file(path, "street_light", dry_run=True, url=city)
    assert (report.new, report.changed, report.unchanged) == (7, 1, 4)
    assert [c.status for c in report.changes] == ["changed"] + ["new"] * 7
    assert table_state(city) == before


def test_history_names_the_importing_user_and_the_file(city, tmp_path) -> None:
    path = tmp_path / "survey.gpkg"
    lights(3, tag()).to_file(path)
    report = import_file(path, "street_light", actor=ALICE, reason="survey 2026", url=city)
    ids = [c.id for c in report.changes]
    assert len(ids) == 3
    assert all(i.startswith("street_light:") for i in ids)
    rows = query(
        city,
        "SELECT DISTINCT v.changed_by, v.reason, v.operation "
        "FROM unnest(%s::text[]) a, register.versions('street_light', a) v",
        ids,
    )
    assert rows == [("alice", "import survey.gpkg: survey 2026", "insert")]


def test_an_edit_made_on_an_old_export_is_refused(city, tmp_path) -> None:
    prefix = tag()
    path = tmp_path / "mine.gpkg"
    lights(2, prefix).to_file(path)
    import_file(path, "street_light", actor=ALICE, url=city)
    export = tmp_path / "export.gpkg"
    export_file("street_light", export, url=city)
    asset_id, version = by_code(city, prefix)[0][1:3]
    store.update(asset_id, version, {"power_w": 77}, actor=store.Actor("bob", "editor"), url=city)
    frame = gpd.read_file(export)
    frame.loc[frame["id"] == asset_id, "name"] = "renamed from an old export"
    frame.to_file(export)
    with pytest.raises(ImportRejected, match=r"version 1 is out of date: .* is at version 2"):
        import_file(export, "street_light", actor=ALICE, url=city)


def test_unknown_columns_are_ignored_and_reported(city, tmp_path) -> None:
    frame = lights(2, tag()).assign(colour="green", Lamp_Type="LED").drop(columns="lamp_type")
    path = tmp_path / "extra.gpkg"
    frame.to_file(path)
    report = import_file(path, "street_light", dry_run=True, url=city)
    assert report.ignored_columns == ["colour"]
    assert (report.new, report.rejected) == (2, 0)
    assert any("ignored column(s) colour" in n for n in report.notes)


def test_export_as_of_shows_the_register_as_it_was(city, tmp_path) -> None:
    before = datetime.now(UTC)
    time.sleep(0.05)
    prefix = tag()
    path = tmp_path / "new.gpkg"
    lights(2, prefix).to_file(path)
    import_file(path, "street_light", actor=ALICE, url=city)
    then, now = tmp_path / "then.parquet", tmp_path / "now.parquet"
    export_file("street_light", then, as_of=before, url=city)
    export_file("street_light", now, url=city)
    codes_then = set(gpd.read_parquet(then)["pole_code"].dropna())
    codes_now = set(gpd.read_parquet(now)["pole_code"].dropna())
    assert codes_now - codes_then == {f"{prefix}-00000", f"{prefix}-00001"}


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "twin.cli", "assets", *args],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_cli_bad_file_is_one_error_line_and_exit_1(city, cli_env, tmp_path) -> None:
    frame = lights(3, tag())
    frame["install_year"] = frame["install_year"].astype(object)
    frame.loc[1, "install_year"] = "nineteen"
    path = tmp_path / "bad.gpkg"
    frame.to_file(path)
    env = {**cli_env, "TWIN_DATABASE_URL": city}
    done = _cli(env, "import", str(path), "--class", "street_light", "--user", "bob")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: {path}: 1 of 3 rows rejected, nothing imported: row 2: ")
    assert "install_year is not a whole number (got 'nineteen')" in lines[0]
    missing = _cli(env, "import", str(tmp_path / "none.gpkg"), "--class", "street_light")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'none.gpkg'}: file not found"
    ]
    unknown = _cli(env, "import", str(path), "--class", "lamp")
    assert unknown.returncode == 1
    assert len(unknown.stderr.strip().splitlines()) == 1
    assert "unknown asset class 'lamp'" in unknown.stderr


def test_cli_dry_run_json_and_export(city, cli_env, tmp_path) -> None:
    env = {**cli_env, "TWIN_DATABASE_URL": city}
    path = tmp_path / "lights.fgb"
    done = _cli(env, "export", "street_light", str(path))
    assert done.returncode == 0, done.stderr
    assert "street_light asset(s) written" in done.stderr
    done = _cli(env, "import", str(path), "--class", "street_light", "--dry-run", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["dry_run"] is True
    assert report["new"] == report["changed"] == report["rejected"] == 0
    assert report["unchanged"] == report["rows"] > 0
