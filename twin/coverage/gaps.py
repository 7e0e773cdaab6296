"""The gap map: the municipality's uncovered population on H3 cells, for the map and as a file.

Every person the report counts (population-grid cell centroid or building centroid) falls
in one H3 cell of the resolution in ``model.toml`` (9 by default, ~0.1 km²); a gap cell lists
its uncovered and total population. The h3 library indexes one point per call, so the points
are first reduced to the distinct uncovered positions (a few thousand in Maribor).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from twin._errors import ConfigError
from twin.coverage.model import DISPLAY_SRID, Model, check_tech, load_model, to_lonlat
from twin.coverage.report import Coverage, measure

#: File suffix -> GDAL driver of the gap export.
DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON"}


def gap_frame(coverage: Coverage, resolution: int) -> gpd.GeoDataFrame:
    """Aggregate a coverage's municipality population on H3 cells; keep cells with gaps.

    Returns
    -------
    geopandas.GeoDataFrame
        ``h3`` (cell id), ``population``, ``uncovered_population``, ``uncovered_share``,
        ``tech``, ``centre_lon``/``centre_lat`` and the hexagon (EPSG:4326), largest gap
        first.
    """
    people = coverage.people[coverage.people["in_city"]]
    lon, lat = to_lonlat(people["x"].to_numpy(), people["y"].to_numpy())
    cells = [
        h3.latlng_to_cell(float(b), float(a), resolution) for a, b in zip(lon, lat, strict=True)
    ]
    pop = people["population"].to_numpy(dtype="int64")
    frame = (
        pd.DataFrame({"h3": cells, "population": pop,
                      "uncovered_population": np.where(people["covered"].to_numpy(), 0, pop)})
        .groupby("h3", as_index=False)
        .sum()
    )  # fmt: skip
    frame = frame[frame["uncovered_population"] > 0]
    frame = frame.sort_values(["uncovered_population", "h3"], ascending=[False, True])
    frame = frame.reset_index(drop=True)
    frame["uncovered_share"] = frame["uncovered_population"] / frame["population"]
    frame["tech"] = coverage.tech
    centres = np.array([h3.cell_to_latlng(c) for c in frame["h3"]]).reshape(-1, 2)
    frame["centre_lon"], frame["centre_lat"] = centres[:, 1].round(6), centres[:, 0].round(6)
    rings = [[(lng, la) for la, lng in h3.cell_to_boundary(c)] for c in frame["h3"]]
    return gpd.GeoDataFrame(frame, geometry=shapely.polygons(rings) if rings else [],
                            crs=DISPLAY_SRID)  # fmt: skip


def gaps(
    tech: str = "5g",
    url: str | None = None,
    *,
    resolution: int | None = None,
    model: Model | None = None,
) -> gpd.GeoDataFrame:
    """Return the uncovered population of ``tech`` on H3 cells (see :func:`gap_frame`).

    Parameters
    ----------
    tech
        ``'5g'``, ``'4g'`` or ``'gigabit'``.
    url
        libpq URL; the twin's database by default.
    resolution
        H3 resolution; ``model.toml``'s ``gaps.h3_resolution`` by default.
    model
        The model parameters; ``twin/coverage/model.toml`` by default.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per H3 cell with uncovered people (EPSG:4326).

    Raises
    ------
    ConfigError
        When the technology or resolution is not valid.
    """
    model = model or load_model()
    res = model.gaps.h3_resolution if resolution is None else resolution
    if not 0 <= res <= 15:  # noqa: PLR2004 - H3's resolutions
        raise ConfigError(f"--resolution must be an H3 resolution from 0 to 15, got {res}")
    return gap_frame(measure(tech, url, model=model), res)


def export_gaps(
    path: Path,
    tech: str = "5g",
    url: str | None = None,
    *,
    resolution: int | None = None,
) -> int:
    """Write the gap map to a GeoPackage or GeoJSON file; return the number of H3 cells.

    Raises
    ------
    ConfigError
        When the file's extension is not ``.gpkg``, ``.geojson`` or ``.json``.
    """
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise ConfigError(f"{path}: write the gap map as {', '.join(DRIVERS)}")
    frame = gaps(tech, url, resolution=resolution)
    frame.to_file(path, driver=driver, layer=f"coverage_gaps_{check_tech(tech)}")
    return len(frame)


__all__ = ["export_gaps", "gap_frame", "gaps"]
