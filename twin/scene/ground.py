"""Lines on the scene's ground (roads, streets, boundaries) as paths far out and bands close in.

A browser without a GPU (the headless chromium of the tests, a thin client) compiles every
deck.gl shader in software on its first draw, and the path shader is the dearest of them
(about 0.9 s measured, before the first frame with buildings shows). Close in, where a
street is wider than a pixel anyway, the scene draws lines as thin polygons of their width on
the ground (:func:`bands`), with the fill shader the ground and the buildings already use;
far out (the overview tiles) they stay paths a pixel or two wide. :func:`pieces` cuts lines
into short pieces first: a tile holds the pieces it touches rather than a whole district
boundary, and a band never closes on itself (a closed ring's band would have a hole).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

#: Most vertices of a piece of line (a longer line is cut; a closed one at least in two).
PIECE_VERTICES = 48
#: CRS the bands are buffered in (metres): Slovenia's D96/TM.
METRIC_CRS = "EPSG:3794"

IntArray = np.ndarray[Any, np.dtype[np.int64]]
Geoms = np.ndarray[Any, np.dtype[np.object_]]


def pieces(lines: Geoms, max_vertices: int = PIECE_VERTICES) -> tuple[Geoms, IntArray]:
    """Cut lines into pieces of at most ``max_vertices`` vertices; a closed line in two or more.

    Consecutive pieces share their end vertex. Multi-part lines are split into their parts;
    an empty line gives no piece (a line of zero length gives one, whose band is a square).

    Parameters
    ----------
    lines
        LineStrings or MultiLineStrings.
    max_vertices
        Most vertices of a piece (at least 3).

    Returns
    -------
    tuple
        The pieces, and for each the index of the line it comes from.
    """
    parts, part_of = shapely.get_parts(lines, return_index=True)
    coords, index = shapely.get_coordinates(parts, return_index=True)
    count = np.bincount(index, minlength=len(parts))
    keep = count >= 2  # noqa: PLR2004 - a line needs two vertices
    start = np.cumsum(count) - count
    segments = count - 1
    last = start + np.maximum(count, 1) - 1
    closed = np.zeros(len(parts), bool)
    closed[keep] = (coords[start[keep]] == coords[last[keep]]).all(axis=1)
    closed &= segments >= 2  # noqa: PLR2004 - a closed line of one segment is a point
    chunks = np.maximum(np.ceil(segments / (max_vertices - 1)), np.where(closed, 2, 1))
    chunks = np.where(keep, chunks, 0).astype(np.int64)
    per = np.maximum(np.ceil(segments / np.maximum(chunks, 1)), 1).astype(np.int64)
    vertex = keep[index]
    coords, index = coords[vertex], index[vertex]
    pos = np.arange(len(vertex))[vertex] - start[index]
    chunk = np.minimum(pos // per[index], chunks[index] - 1)
    shared = (pos % per[index] == 0) & (pos > 0) & (pos < segments[index])
    xy = np.concatenate([coords, coords[shared]])
    line = np.concatenate([index, index[shared]])
    local = np.concatenate([chunk, chunk[shared] - 1])
    at = np.concatenate([pos, pos[shared]])
    order = np.lexsort((at, local, line))
    first_chunk = np.cumsum(chunks) - chunks
    made = shapely.linestrings(xy[order], indices=(first_chunk[line] + local)[order])
    return made, part_of[np.repeat(np.arange(len(parts)), chunks)]


def bands(lines: Geoms, width_m: Sequence[float] | np.ndarray[Any, Any], crs: object) -> Geoms:
    """Return each line's band of ``width_m`` metres as its outline ring, in ``crs``.

    Square ends, so that consecutive pieces and ways meet without a notch; mitred joints.
    A band's holes (a piece that curls onto itself) are left out.

    Parameters
    ----------
    lines
        LineStrings (pieces from :func:`pieces`).
    width_m
        Width of each band in metres.
    crs
        CRS of the lines, and of the rings returned.

    Returns
    -------
    numpy.ndarray
        One LinearRing per line (empty where the band is empty).
    """
    metric = gpd.GeoSeries(lines, crs=crs).to_crs(METRIC_CRS)
    widths = np.asarray(width_m, dtype=float) / 2
    shapes = shapely.buffer(
        np.asarray(metric.values), widths, cap_style="square", join_style="mitre",
        mitre_limit=2.0,
    )  # fmt: skip
    shapes = shapely.get_geometry(shapes, 0)  # a Polygon stays itself (a multi: its first)
    back = gpd.GeoSeries(shapes, crs=METRIC_CRS).to_crs(crs)
    rings: Geoms = shapely.get_exterior_ring(np.asarray(back.values))
    return rings


def outlines(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the boundaries of polygons as lines (one row per polygon, same index)."""
    return frame.set_geometry(frame.geometry.boundary)


def opaque(colour: Sequence[int], under: Sequence[int]) -> list[int]:
    """Return ``colour`` laid over ``under`` as an opaque colour.

    A band drawn twice (a piece in two loaded tiles, two pieces where they meet) must not
    show darker there, as a translucent one would.
    """
    alpha = colour[3] / 255
    mixed = np.asarray(colour[:3]) * alpha + np.asarray(under[:3]) * (1 - alpha)
    return [*np.round(mixed).astype(int).tolist(), 255]
