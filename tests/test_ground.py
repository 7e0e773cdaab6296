"""Lines on the scene's ground: pieces, bands and their tiles (twin.scene.ground)."""

from __future__ import annotations

import itertools
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from twin.scene.ground import bands, opaque, pieces
from twin.scene.layerdata import encode_tiles

#: A point in the centre of Maribor (lon, lat) and about one metre in degrees there.
LON, LAT = 15.6459, 46.5576
M_LON, M_LAT = 1 / 76_600, 1 / 111_200


def _line(n: int, step_m: float = 10.0, *, closed: bool = False) -> shapely.LineString:
    """An ``n``-vertex zigzag east of the centre (or a closed ring of ``n`` vertices)."""
    if closed:
        angle = np.linspace(0, 2 * np.pi, n)
        x, y = np.cos(angle) * 50, np.sin(angle) * 50
        x[-1], y[-1] = x[0], y[0]
    else:
        x, y = np.arange(n) * step_m, (np.arange(n) % 2) * step_m / 3
    return shapely.LineString(np.c_[LON + x * M_LON, LAT + y * M_LAT])


def test_pieces_keep_every_vertex_and_share_their_ends() -> None:
    long = _line(100)
    made, source = pieces(np.array([long]), max_vertices=10)
    assert (source == 0).all()
    counts = shapely.get_num_coordinates(made)
    assert counts.max() <= 10
    assert len(made) == 11  # 99 segments, at most 9 per piece
    for a, b in itertools.pairwise(made):
        assert a.coords[-1] == b.coords[0]
    joined = np.concatenate([np.asarray(p.coords)[(i > 0) :] for i, p in enumerate(made)])
    np.testing.assert_array_equal(joined, np.asarray(long.coords))


def test_a_closed_line_is_cut_and_no_piece_closes() -> None:
    ring = _line(12, closed=True)
    made, _ = pieces(np.array([ring]))
    assert len(made) >= 2
    assert not shapely.is_closed(made).any()
    # its bands have no hole to lose: together they cover the ring
    rings = bands(made, np.full(len(made), 6.0), "EPSG:4326")
    union = shapely.union_all(shapely.polygons(rings))
    assert ring.difference(union).length == pytest.approx(0, abs=1e-9)


def test_pieces_split_parts_and_skip_empty_lines() -> None:
    multi = shapely.MultiLineString([_line(3).coords, _line(4).coords])
    lines = np.array([shapely.LineString(), multi, shapely.LineString([(LON, LAT)] * 2)])
    made, source = pieces(lines)
    assert source.tolist() == [1, 1, 2]  # the empty line gives nothing
    assert shapely.get_num_coordinates(made).tolist() == [3, 4, 2]


def test_a_band_is_as_wide_as_asked_in_metres() -> None:
    straight = shapely.LineString([(LON, LAT), (LON + 100 * M_LON, LAT)])
    (ring,) = bands(np.array([straight]), [6.0], "EPSG:4326")
    band = gpd.GeoSeries([shapely.Polygon(ring)], crs=4326).to_crs(3794).iloc[0]
    # square ends: the band reaches 3 m past each end of the 100 m line
    assert band.area == pytest.approx(106 * 6, rel=0.02)
    assert shapely.get_num_interior_rings(band) == 0


def test_a_band_is_opaque_over_the_paper() -> None:
    assert opaque((125, 125, 125, 210), (248, 246, 240, 255)) == [147, 146, 145, 255]
    assert opaque((10, 20, 30, 255), (248, 246, 240, 255)) == [10, 20, 30, 255]


def test_banded_tiles_hold_lines_far_out_and_polygons_close_in() -> None:
    frame = gpd.GeoDataFrame(
        {"c": [[1, 2, 3, 255]] * 2, "w": [1.0, 2.0]},
        geometry=[_line(5), _line(60, step_m=25)],
        crs=4326,
    )
    tiles, _ = encode_tiles(frame, ["c", "w"], band_m=np.array([6.0, 10.0]))
    by_level: dict[int, list[dict]] = {13: [], 14: []}
    for (z, _, _), payload in tiles.items():
        by_level[z] += json.loads(payload)
    assert {f["geometry"]["type"] for f in by_level[13]} == {"LineString"}
    assert {f["geometry"]["type"] for f in by_level[14]} == {"Polygon"}
    assert {f["properties"]["w"] for f in by_level[14]} == {1.0, 2.0}
    # left out of the overview: nothing far out, the same bands close in
    hidden, _ = encode_tiles(
        frame, ["c", "w"], band_m=np.array([6.0, 10.0]), leave_out=pd.Series([True, True])
    )
    assert all(payload == b"[]" for (z, _, _), payload in hidden.items() if z == 13)
    assert {k: v for k, v in hidden.items() if k[0] == 14} == {
        k: v for k, v in tiles.items() if k[0] == 14
    }
