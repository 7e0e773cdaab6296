"""Placement helpers shared by the asset generators (telecom, amenities, sensors).

Zones follow the buildings generator: *core* within ``CORE_RADIUS_M`` of MČ Center, *urban*
in the other mestne četrti (MC), *rural* in the krajevne skupnosti (KS). Rows seeded from real
OpenStreetMap features keep the feature's id and say so in ``source``/``licence``; everything
else about them (attributes) is generated.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from twin.synth._context import STORAGE_CRS, SynthContext, asset_frame
from twin.synth.buildings import CORE_RADIUS_M, road_carriageways

OSM_SOURCE = "OpenStreetMap (position) + generated attributes"
OSM_LICENCE = "ODbL 1.0"
#: OSM highway classes of the main road network.
MAIN_ROADS = (
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "trunk",
    "trunk_link",
)
#: Half-width (m) of a generated local street's carriageway.
LOCAL_HALF_WIDTH_M = 3.0
ZONES = ("core", "urban", "rural")


def density(ctx: SynthContext) -> float:
    """Share of the full city's generated assets that a thinned city (scale < 1) keeps."""
    return min(ctx.scale, 1.0)


def thin(ctx: SynthContext, rng: np.random.Generator, count: int) -> np.ndarray:
    """Return a keep-mask that thins ``count`` candidates to the context's density."""
    keep: np.ndarray = rng.random(count) < density(ctx)
    return keep


def core_point(ctx: SynthContext) -> shapely.Point:
    """Return the centre of the city core (MČ Center), as the buildings generator has it."""
    districts = ctx.base.districts
    centre = districts.loc[districts["name"] == "Center", "geometry"]
    return centre.iloc[0].representative_point() if len(centre) else ctx.base.municipality.centroid


def zones(ctx: SynthContext, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Zone (``core``/``urban``/``rural``) at each coordinate."""
    districts = ctx.base.districts
    urban_area = districts[districts["kind"] == "MC"].union_all()
    core = core_point(ctx)
    near = np.hypot(np.asarray(x) - core.x, np.asarray(y) - core.y) < CORE_RADIUS_M
    urban = shapely.contains_xy(urban_area, x, y)
    zone: np.ndarray = np.select([near, urban], ["core", "urban"], "rural")
    return zone


def by_zone(
    table: Mapping[str, float] | Mapping[str, tuple[float, ...]], zone: np.ndarray
) -> np.ndarray:
    """Look up a per-zone value (or tuple of values) for each element of ``zone``."""
    values = np.asarray([table[z] for z in ZONES], dtype=float)
    index = pd.Series(zone).map({z: i for i, z in enumerate(ZONES)}).to_numpy(int)
    looked_up: np.ndarray = values[index]
    return looked_up


def inside(ctx: SynthContext, geoms: np.ndarray) -> np.ndarray:
    """Mask of the geometries covered by the municipality."""
    shapely.prepare(ctx.base.municipality)
    covered: np.ndarray = shapely.covered_by(geoms, ctx.base.municipality)
    return covered


def road_lines(ctx: SynthContext, *, main: bool | None = True) -> gpd.GeoDataFrame:
    """Real roads clipped to the municipality, one row per LineString part.

    ``main=True`` keeps the main roads (``MAIN_ROADS``), ``False`` the others, ``None`` all.
    """
    roads = ctx.base.roads
    if main is not None:
        roads = roads[roads["highway"].isin(MAIN_ROADS) == main]
    clipped = shapely.intersection(roads.geometry.to_numpy(), ctx.base.municipality)
    parts, index = shapely.get_parts(clipped, return_index=True)
    lines = (shapely.get_type_id(parts) == shapely.GeometryType.LINESTRING) & ~shapely.is_empty(
        parts
    )
    parts, index = parts[lines], index[lines]
    frame = roads.iloc[index][["osm_id", "highway", "name"]].reset_index(drop=True)
    return gpd.GeoDataFrame(frame, geometry=parts, crs=STORAGE_CRS)


def carriageways(ctx: SynthContext) -> np.ndarray:
    """Carriageway polygons of the real roads and the generated local streets."""
    real = road_carriageways(ctx.base.roads)
    streets = ctx.layers.get("local_streets")
    local = np.array([], dtype=object)
    if streets is not None and not streets.empty:
        local = shapely.buffer(streets.geometry.to_numpy(), LOCAL_HALF_WIDTH_M)
    return np.concatenate([np.asarray(real), np.asarray(local)])


def osm_points(ctx: SynthContext, key: str, values: tuple[str, ...]) -> gpd.GeoDataFrame:
    """Return the real OSM points with ``key`` in ``values`` inside the municipality."""
    pois = ctx.base.pois
    rows = pois[(pois["key"] == key) & pois["value"].isin(values)]
    keep = shapely.contains_xy(ctx.base.municipality, rows.geometry.x, rows.geometry.y)
    return rows[keep].sort_values("osm_id").reset_index(drop=True)


def assets_of(
    ctx: SynthContext,
    generator: str,
    asset_class: str,
    frame: gpd.GeoDataFrame,
    names: pd.Series | None = None,
) -> pd.DataFrame:
    """Register rows of one class from a GeoDataFrame: its other columns are the attributes."""
    attrs = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    return asset_frame(ctx, generator, asset_class, frame.geometry.to_numpy(), attrs, names)


def mark_osm(frame: pd.DataFrame, count: int) -> pd.DataFrame:
    """Label the first ``count`` rows of an asset frame as positioned by OpenStreetMap."""
    frame.loc[frame.index[:count], "source"] = OSM_SOURCE
    frame.loc[frame.index[:count], "licence"] = OSM_LICENCE
    return frame


def lists_from_flags(flags: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    """Turn an ``(n, k)`` boolean matrix into one list of the set labels per row.

    Each distinct row pattern is turned into a list once, so the cost is in the patterns
    (at most ``2**k``), not in the rows.
    """
    flags = np.asarray(flags, dtype=bool)
    codes = flags @ (1 << np.arange(flags.shape[1]))
    table = {
        int(code): [label for bit, label in enumerate(labels) if code >> bit & 1]
        for code in np.unique(codes)
    }
    result: np.ndarray = pd.Series(codes).map(table).to_numpy()
    return result


def hex_lattice(
    bounds: tuple[float, float, float, float],
    spacing: float,
    rng: np.random.Generator,
    jitter: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Points of a hexagonal lattice over ``bounds``, each moved by up to ``jitter`` x spacing."""
    west, south, east, north = bounds
    row_step = spacing * np.sqrt(3) / 2
    cols = np.arange(west, east + spacing, spacing)
    rows = np.arange(south, north + row_step, row_step)
    gx, gy = np.meshgrid(cols, rows)
    gx = gx + (np.arange(len(rows)) % 2 * spacing / 2)[:, None]
    x, y = gx.ravel(), gy.ravel()
    shift = rng.uniform(-jitter, jitter, (2, len(x))) * spacing
    return x + shift[0], y + shift[1]


def first_valid(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For an ``(n, k)`` mask of acceptable options, the rows with one and its first option."""
    rows = np.flatnonzero(valid.any(axis=1))
    return rows, valid[rows].argmax(axis=1)


def suppress_close(geoms: np.ndarray, distance: float | np.ndarray) -> np.ndarray:
    """Keep-mask dropping every geometry within ``distance`` of an earlier one."""
    tree = shapely.STRtree(geoms)
    probe, near = tree.query(geoms, predicate="dwithin", distance=distance)
    keep = np.ones(len(geoms), dtype=bool)
    keep[probe[near < probe]] = False
    return keep


def clear_of(geoms: np.ndarray, obstacles: np.ndarray, distance: float = 0.0) -> np.ndarray:
    """Mask of the geometries farther than ``distance`` (m) from every one of ``obstacles``."""
    clear = np.ones(len(geoms), dtype=bool)
    if len(obstacles) and len(geoms):
        tree = shapely.STRtree(obstacles)
        if distance > 0:
            hit = tree.query(geoms, predicate="dwithin", distance=distance)[0]
        else:
            hit = tree.query(geoms, predicate="intersects")[0]
        clear[hit] = False
    return clear
