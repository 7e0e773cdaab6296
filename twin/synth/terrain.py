"""A smooth synthetic terrain (DEM) for Maribor, labelled *not measured*.

No open DEM is shipped, so the twin models the relief in broad strokes: the Drava valley
low through the city, Pohorje rising to the south-west and Kozjak to the north-west, with a
little seeded undulation. The surface is then corrected to pass exactly through the real
altitudes of the ARSO stations in the city (270 m MB Titova, 279 m MB Vrbanski). Buildings
take their base height from it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import rasterio
from rasterio.transform import from_origin

from twin.synth._context import STORAGE_CRS, SynthContext

GENERATOR = "terrain"
#: Resolution of the DEM GeoTIFF (m).
CELL_M = 50.0
#: Approximate course of the Drava through MOM (D96/TM), west to east.
DRAVA = np.array(
    [[540_000, 161_000], [545_000, 159_300], [547_500, 158_400], [549_800, 157_300],
     [552_000, 156_200], [554_500, 154_000], [558_000, 152_000]], dtype=float,
)  # fmt: skip
VALLEY_FLOOR_M = 255.0
#: Pohorje (south-west) and Kozjak (north-west): centre, height gain (m), radius (m).
MASSIFS = ((np.array([540_500.0, 150_500.0]), 750.0, 6_500.0),
           (np.array([543_500.0, 166_500.0]), 420.0, 4_500.0))  # fmt: skip
#: Anchor radius of the correction that makes the surface pass through the stations (m).
ANCHOR_RADIUS_M = 1_500.0


def _distance_to_polyline(xy: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance of each point to a polyline (vectorised over points and segments)."""
    a, b = line[:-1], line[1:]
    ab = b - a
    ap = xy[:, None, :] - a[None, :, :]
    t = np.clip((ap * ab).sum(-1) / (ab * ab).sum(-1), 0, 1)
    nearest = a[None] + t[..., None] * ab[None]
    distance: np.ndarray = np.sqrt(((xy[:, None, :] - nearest) ** 2).sum(-1)).min(axis=1)
    return distance


def _relief(rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    """Return the uncorrected surface: valley, terraces, massifs and seeded undulation."""
    waves = rng.uniform(size=(4, 4))

    def surface(xy: np.ndarray) -> np.ndarray:
        valley = VALLEY_FLOOR_M + 18 * np.tanh(_distance_to_polyline(xy, DRAVA) / 1_500)
        for centre, gain, radius in MASSIFS:
            d = np.sqrt(((xy - centre) ** 2).sum(-1))
            valley = valley + gain / (1 + np.exp((d - radius) / (0.18 * radius)))
        for kx, ky, phase, amp in waves:
            valley = valley + 4 * amp * np.sin(
                (xy[:, 0] * (0.5 + kx) + xy[:, 1] * (0.5 + ky)) / 900 + 6.28 * phase
            )
        return valley

    return surface


def elevation_model(
    rng: np.random.Generator, anchors: np.ndarray, altitudes: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    """Return the terrain height function, exact at the anchor points.

    Parameters
    ----------
    rng
        Random stream of the terrain generator.
    anchors
        ``(k, 2)`` D96/TM points with known altitude.
    altitudes
        Their altitudes (m).

    Returns
    -------
    callable
        ``f(xy) -> heights`` for ``(n, 2)`` D96/TM coordinates.
    """
    surface = _relief(rng)
    if len(anchors) == 0:
        return surface

    def kernel(xy: np.ndarray) -> np.ndarray:
        d2 = ((xy[:, None, :] - anchors[None, :, :]) ** 2).sum(-1)
        weight: np.ndarray = np.exp(-d2 / ANCHOR_RADIUS_M**2)
        return weight

    weights = np.linalg.solve(kernel(anchors), altitudes - surface(anchors))

    def height(xy: np.ndarray) -> np.ndarray:
        corrected: np.ndarray = surface(xy) + kernel(xy) @ weights
        return corrected

    return height


def generate(ctx: SynthContext) -> dict[str, pd.DataFrame]:
    """Build the terrain, write it as a GeoTIFF and give ``ctx.elevation`` to later generators."""
    stations = ctx.base.stations
    inside = stations.geometry.within(ctx.base.municipality.buffer(2_000))
    known = stations[inside & stations["altitude_m"].notna()]
    anchors = np.column_stack([known.geometry.x, known.geometry.y])
    height = elevation_model(ctx.rng(GENERATOR), anchors, known["altitude_m"].to_numpy(float))
    ctx.elevation = height

    west, south, east, north = ctx.base.municipality.buffer(500).bounds
    west, north = np.floor(west / CELL_M) * CELL_M, np.ceil(north / CELL_M) * CELL_M
    cols = int(np.ceil((east - west) / CELL_M))
    rows = int(np.ceil((north - south) / CELL_M))
    xs = west + (np.arange(cols) + 0.5) * CELL_M
    ys = north - (np.arange(rows) + 0.5) * CELL_M
    gx, gy = np.meshgrid(xs, ys)
    grid = height(np.column_stack([gx.ravel(), gy.ravel()])).reshape(rows, cols)

    ctx.raster_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.raster_dir / "terrain_50m.tif"
    profile = {
        "driver": "GTiff", "width": cols, "height": rows, "count": 1, "dtype": "float32",
        "crs": f"EPSG:{STORAGE_CRS}", "transform": from_origin(west, north, CELL_M, CELL_M),
        "compress": "deflate",
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(grid.astype("float32"), 1)
        dst.update_tags(
            synthetic="true", generator=GENERATOR, seed=str(ctx.seed),
            description="synthetic terrain for the Maribor twin, not measured; anchored at "
            "the ARSO station altitudes",
        )  # fmt: skip
    ctx.rasters["terrain"] = path
    return {}
