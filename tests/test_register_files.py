"""Reading register files: point layers keep their coordinates, other layers their geometries.

No database: the files are written here and read back, and the geometry checks of a point
layer on coordinates are compared with the general checks of the same features.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely

from twin.load._read import CITY_FRAME_D96
from twin.register._checks import geometries
from twin.register._files import Source, _wkb_points, read_source
from twin.register.catalog import asset_class

CENTRE_LONLAT = (15.6459, 46.5547)


def _lights(geoms: list[shapely.Geometry | None], crs: int = 4326) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"pole_code": [f"P-{i}" for i in range(len(geoms))], "power_w": range(len(geoms))},
        geometry=geoms,
        crs=crs,
    )


def _around(n: int, seed: int = 3) -> list[shapely.Geometry | None]:
    rng = np.random.default_rng(seed)
    x = CENTRE_LONLAT[0] + rng.uniform(-0.03, 0.03, n)
    y = CENTRE_LONLAT[1] + rng.uniform(-0.02, 0.02, n)
    return list(shapely.points(x, y))


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".fgb", ".shp"])
def test_a_point_layer_is_read_as_its_coordinates(tmp_path: Path, suffix: str) -> None:
    frame = _lights(_around(50))
    path = tmp_path / f"lights{suffix}"
    frame.to_file(path)
    source = read_source(path, "street_light")
    assert source.points is not None
    assert source.shapes is None  # no geometry made yet
    as_read = gpd.read_file(path)  # the file's order (FlatGeobuf sorts by its index)
    expected = shapely.get_coordinates(as_read.geometry.to_numpy())
    np.testing.assert_array_equal(source.points, expected)
    assert shapely.equals(source.geoms, as_read.geometry.to_numpy()).all()
    assert list(source.frame["pole_code"]) == list(as_read["pole_code"])
    assert sorted(source.frame["pole_code"]) == sorted(frame["pole_code"])
    assert list(source.frame.index) == list(range(1, 51))


@pytest.mark.parametrize(
    "odd",
    [
        shapely.Point(),  # empty: NaN coordinates in WKB
        shapely.MultiPoint([CENTRE_LONLAT]),
        shapely.Point(*CENTRE_LONLAT, 300.0),  # with Z
        None,
    ],
    ids=["empty", "multipoint", "z", "missing"],
)
def test_a_layer_with_any_other_feature_is_read_as_geometries(tmp_path, odd) -> None:
    geoms = _around(5)
    geoms[2] = odd
    path = tmp_path / "mixed.gpkg"
    _lights(geoms).to_file(path)
    source = read_source(path, "street_light")
    assert source.points is None
    assert len(source.geoms) == 5
    if odd is None:
        assert source.geoms[2] is None
    else:
        assert shapely.get_type_id(source.geoms[2]) == shapely.get_type_id(odd)


def test_a_layer_of_geometries_only_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "bare.gpkg"
    gpd.GeoDataFrame(geometry=_around(7), crs=4326).to_file(path)
    source = read_source(path, "street_light")
    assert len(source.frame) == 7
    assert list(source.frame.index) == list(range(1, 8))
    assert source.points is not None
    assert source.points.shape == (7, 2)


def test_wkb_other_than_little_endian_2d_points_is_left_to_shapely() -> None:
    point = shapely.Point(*CENTRE_LONLAT)
    little = shapely.to_wkb(point, byte_order=1)
    big = shapely.to_wkb(point, byte_order=0)
    assert _wkb_points(pa.array([little, little])) is not None
    assert _wkb_points(pa.array([little, big])) is None
    assert _wkb_points(pa.array([little, None])) is None
    line = shapely.to_wkb(shapely.LineString([(0, 0), (1, 1)]))
    assert _wkb_points(pa.array([little, line])) is None
    assert _wkb_points(pa.array([little, little]).slice(1)) is not None


def test_point_checks_on_coordinates_answer_as_the_general_checks() -> None:
    """Inside, outside, swapped and far away: same problems, same geometries, both ways."""
    inside = _around(6)
    lon, lat = CENTRE_LONLAT
    features = [
        *inside,
        shapely.Point(14.5058, 46.0514),  # Ljubljana: outside
        shapely.Point(lat, lon),  # swapped
        shapely.Point(0.0, 0.0),  # far away
    ]
    frame = pd.DataFrame({"pole_code": [f"P-{i}" for i in range(len(features))]})
    frame.index = pd.RangeIndex(1, len(features) + 1)
    shapes = np.asarray(features, dtype=object)
    crs = gpd.GeoSeries([], crs=4326).crs
    assert crs is not None
    general = Source(frame, shapes, crs, "row", "GPKG")
    by_points = Source(frame, None, crs, "row", "GPKG", points=shapely.get_coordinates(shapes))
    area = shapely.box(*CITY_FRAME_D96)
    shapely.prepare(area)
    cls = asset_class("street_light")
    geoms_a, problems_a, _ = geometries(cls, general, area, fix=False)
    geoms_b, problems_b, _ = geometries(cls, by_points, area, fix=False)
    assert by_points.shapes is None  # the check made no geometry in the file's CRS
    assert shapely.equals_exact(geoms_a, geoms_b, tolerance=1e-6).all()
    pd.testing.assert_frame_equal(
        problems_a.reset_index(drop=True), problems_b.reset_index(drop=True), check_dtype=False
    )
    reasons = dict(zip(problems_b["row"], problems_b["reason"], strict=True))
    assert set(reasons) == {7, 8, 9}
    assert reasons[8] == "lies outside Maribor: longitude and latitude look swapped"


def test_a_csv_of_lon_lat_is_read_as_coordinates_unless_a_row_lacks_them(tmp_path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("pole_code,lon,lat\nA,15.64,46.55\nB,15.65,46.56\n", encoding="utf-8")
    source = read_source(good, "street_light")
    assert source.points is not None
    np.testing.assert_array_equal(source.points, [[15.64, 46.55], [15.65, 46.56]])
    assert list(source.frame.index) == [2, 3]  # CSV lines
    gap = tmp_path / "gap.csv"
    gap.write_text("pole_code,lon,lat\nA,15.64,46.55\nB,15.65,\n", encoding="utf-8")
    source = read_source(gap, "street_light")
    assert source.points is None
    assert source.geoms[1] is None
    assert shapely.equals(source.geoms[0], shapely.Point(15.64, 46.55))
