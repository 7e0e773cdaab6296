"""The 100 m population grid: people of the buildings summed per cell (dasymetric).

Each building's people are counted in the 100 m cell (EPSG:3794, cells aligned to multiples
of 100 m) that holds its footprint's centroid, so the grid sums exactly to the buildings'
population, which sums to the real settlement figures. The grid is written as a GeoTIFF with
rasterio and, for SQL (coverage, KPIs), as polygons in ``twin.population_grid``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio.transform import from_origin

from twin.synth._context import STORAGE_CRS, SynthContext

GENERATOR = "population"
CELL_M = 100.0
#: Cell ids are ``column * ID_STRIDE + row`` of the global 100 m D96/TM grid.
ID_STRIDE = 1_000_000


def generate(ctx: SynthContext) -> dict[str, pd.DataFrame]:
    """Aggregate building population to 100 m cells; write the GeoTIFF and the table rows."""
    buildings = ctx.layers["buildings"]
    centres = buildings.geometry.centroid
    col = np.floor(centres.x.to_numpy() / CELL_M).astype("int64")
    row = np.floor(centres.y.to_numpy() / CELL_M).astype("int64")
    cells = (
        pd.DataFrame({"col": col, "row": row, "population": buildings["population"].to_numpy()})
        .groupby(["col", "row"], as_index=False)["population"]
        .sum()
    )
    cells = cells[cells["population"] > 0].reset_index(drop=True)

    west, south, east, north = ctx.base.municipality.bounds
    c0, r0 = int(np.floor(west / CELL_M)), int(np.floor(south / CELL_M))
    c1, r1 = int(np.ceil(east / CELL_M)), int(np.ceil(north / CELL_M))
    cols, rows = cells["col"].to_numpy(), cells["row"].to_numpy()
    c0, r0 = min(c0, int(cols.min(initial=c0))), min(r0, int(rows.min(initial=r0)))
    c1 = max(c1, int(cols.max(initial=c1 - 1)) + 1)
    r1 = max(r1, int(rows.max(initial=r1 - 1)) + 1)
    grid = np.zeros((r1 - r0, c1 - c0), dtype="int32")
    grid[r1 - 1 - cells["row"].to_numpy(), cells["col"].to_numpy() - c0] = cells["population"]
    ctx.raster_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.raster_dir / "population_100m.tif"
    profile = {
        "driver": "GTiff", "width": c1 - c0, "height": r1 - r0, "count": 1, "dtype": "int32",
        "crs": f"EPSG:{STORAGE_CRS}", "nodata": None, "compress": "deflate",
        "transform": from_origin(c0 * CELL_M, r1 * CELL_M, CELL_M, CELL_M),
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(grid, 1)
        dst.update_tags(
            synthetic="true", generator=GENERATOR, seed=str(ctx.seed), unit="persons",
            description="synthetic population per 100 m cell, dasymetric from synthetic "
            "buildings scaled to the real settlement populations",
        )  # fmt: skip
    ctx.rasters["population"] = path

    x, y = cells["col"].to_numpy() * CELL_M, cells["row"].to_numpy() * CELL_M
    frame = pd.DataFrame(
        {
            "cell_id": cells["col"].to_numpy() * ID_STRIDE + cells["row"].to_numpy(),
            "population": cells["population"].to_numpy(),
            "geom": shapely.box(x, y, x + CELL_M, y + CELL_M),
        }
    )
    frame = ctx.provenance(frame, GENERATOR).drop(columns=["source", "licence"])
    return {"population_grid": frame}
