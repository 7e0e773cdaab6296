"""Line of sight over the DEM: the optional mask of the mobile coverage model.

The DEM is ``twin synth``'s ``terrain_50m.tif`` (synthetic, *not measured*) unless another
GeoTIFF in EPSG:3794 is given. Between an antenna (ground + antenna height) and a receiver
(ground + ``receiver_height_m``) the ray is sampled at ``los_samples`` evenly spaced interior
points; the receiver sees the antenna when no terrain sample rises above the ray. Earth
curvature and refraction are neglected (below 1 m over the model's ranges), and so are
buildings and vegetation: it is a terrain mask only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio

from twin._errors import ConfigError
from twin.config import get_settings

DEM_NAME = "terrain_50m.tif"


@dataclass(frozen=True)
class Terrain:
    """A north-up DEM grid in EPSG:3794: heights (m) and the grid's origin and cell size."""

    heights: np.ndarray
    west: float
    north: float
    cell_m: float

    def at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the terrain height at each point (nearest cell; edge cells outside)."""
        rows, cols = self.heights.shape
        col = np.clip(((np.asarray(x) - self.west) // self.cell_m).astype(int), 0, cols - 1)
        row = np.clip(((self.north - np.asarray(y)) // self.cell_m).astype(int), 0, rows - 1)
        values: np.ndarray = self.heights[row, col]
        return values


def default_dem() -> Path:
    """Return where ``twin synth`` writes the DEM."""
    return get_settings().cluster_dir / "rasters" / DEM_NAME


def load_terrain(path: Path | None = None) -> Terrain:
    """Read a DEM GeoTIFF (EPSG:3794, north-up).

    Parameters
    ----------
    path
        The GeoTIFF; ``twin synth``'s DEM by default.

    Returns
    -------
    Terrain
        The heights and the grid.

    Raises
    ------
    ConfigError
        When the file is missing, unreadable, rotated or in another CRS.
    """
    path = path or default_dem()
    if not path.is_file():
        raise ConfigError(
            f"{path}: no DEM for the line-of-sight mask; run `twin synth` (it writes one) "
            "or set line_of_sight = false in twin/coverage/model.toml"
        )
    try:
        with rasterio.open(path) as src:
            crs, transform = src.crs, src.transform
            heights = src.read(1).astype("float64")
    except rasterio.RasterioIOError as exc:
        raise ConfigError(f"{path}: cannot read the DEM ({exc})") from exc
    if crs is None or crs.to_epsg() != 3794 or transform.b or transform.d:  # noqa: PLR2004
        raise ConfigError(f"{path}: the DEM must be a north-up GeoTIFF in EPSG:3794")
    if transform.a != -transform.e:
        raise ConfigError(f"{path}: the DEM must have square cells")
    return Terrain(heights, float(transform.c), float(transform.f), float(transform.a))


def visible(
    terrain: Terrain,
    site_xy: tuple[np.ndarray, np.ndarray],
    antenna_m: np.ndarray,
    receiver_xy: tuple[np.ndarray, np.ndarray],
    receiver_m: float,
    samples: int,
) -> np.ndarray:
    """Return whether each receiver sees its antenna over the terrain (vectorised over pairs).

    Parameters
    ----------
    terrain
        The DEM.
    site_xy
        EPSG:3794 coordinates of each pair's site.
    antenna_m
        Antenna height above ground of each pair's site.
    receiver_xy
        EPSG:3794 coordinates of each pair's receiver.
    receiver_m
        Receiver height above ground.
    samples
        Interior samples along each ray.

    Returns
    -------
    numpy.ndarray
        Boolean per pair.
    """
    sx, sy = (np.asarray(v, dtype=float) for v in site_xy)
    rx, ry = (np.asarray(v, dtype=float) for v in receiver_xy)
    if sx.size == 0:
        return np.zeros(0, dtype=bool)
    top = terrain.at(sx, sy) + np.asarray(antenna_m, dtype=float)
    eye = terrain.at(rx, ry) + receiver_m
    t = np.linspace(0.0, 1.0, samples + 2)[1:-1]
    px = sx[:, None] + (rx - sx)[:, None] * t
    py = sy[:, None] + (ry - sy)[:, None] * t
    ray = top[:, None] + (eye - top)[:, None] * t
    seen: np.ndarray = (terrain.at(px, py) <= ray).all(axis=1)
    return seen
