"""Export a register class to a file, now or as it was at a past moment.

The columns are those :func:`~twin.register._files.export_columns` lists, typed as in the
register (integers, numbers, booleans and dates stay typed; list attributes are text joined
with ``;``), then the geometry in the chosen CRS. An import of the file changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from psycopg import sql
from pyproj import CRS

from twin._errors import DataFileError
from twin.db.engine import connect
from twin.load._read import STORAGE_CRS
from twin.register._files import (
    LONLAT_CRS,
    SHAPEFILE_TEXT_BYTES,
    driver_of,
    export_columns,
    parse_crs,
    shapefile_names,
    write_frame,
)
from twin.register.catalog import AssetClass, asset_class
from twin.register.store import as_of_source

#: Formats whose default CRS is longitude/latitude (GeoJSON by RFC 7946; CSV by convention).
LONLAT_FORMATS = frozenset({"GeoJSON", "CSV"})
#: Column types (Arrow, so that empty and all-null columns keep their type in every format).
_TYPES = {
    "text": "string[pyarrow]",
    "list": "string[pyarrow]",
    "integer": "int64[pyarrow]",
    "number": "double[pyarrow]",
    "boolean": "bool[pyarrow]",
    "date": "date32[pyarrow]",
}
_COMMON_TYPES = {
    "synthetic": "bool[pyarrow]",
    "version": "int64[pyarrow]",
    "changed_at": "timestamp[us, tz=UTC][pyarrow]",
}


def export_file(
    class_name: str,
    path: Path | str,
    *,
    crs: int | str | None = None,
    as_of: datetime | None = None,
    url: str | None = None,
) -> int:
    """Write every asset of a class to ``path`` (format from the extension).

    Parameters
    ----------
    class_name
        Asset class.
    path
        ``.gpkg``, ``.geojson``, ``.shp`` (a file set) or ``.zip`` (a zipped Shapefile),
        ``.csv`` (``wkt``, and ``lon``/``lat`` for points), ``.parquet`` (GeoParquet) or
        ``.fgb``; an existing file is replaced.
    crs
        CRS of the coordinates; EPSG:4326 for GeoJSON and CSV, EPSG:3794 otherwise.
    as_of
        Export the register as it was at this moment (from the history).
    url
        Database URL.

    Returns
    -------
    int
        Number of assets written.

    Raises
    ------
    DataFileError
        When the format is unsupported, the file cannot be written, or a text is too long
        for a Shapefile.
    """
    path = Path(path)
    cls = asset_class(class_name)
    driver = driver_of(path)
    if crs is not None:
        target = parse_crs(crs)
    else:
        target = LONLAT_CRS if driver in LONLAT_FORMATS else CRS.from_epsg(STORAGE_CRS)
    frame, stored = _read(cls, as_of, url)
    geoms = _transformed(stored, target)
    if driver == "CSV":
        lonlat = geoms if target.equals(LONLAT_CRS) else _transformed(stored, LONLAT_CRS)
        _write_csv(cls, frame, geoms, lonlat, path)
        return len(frame)
    if driver == "ESRI Shapefile":
        frame = _for_shapefile(path, frame)
    write_frame(gpd.GeoDataFrame(frame, geometry=geoms, crs=target), path, cls.name, cls.geometry)
    return len(frame)


def _transformed(geoms: np.ndarray, crs: CRS) -> np.ndarray:
    """EPSG:3794 geometries in ``crs``."""
    if crs.equals(CRS.from_epsg(STORAGE_CRS)):
        return geoms
    return np.asarray(gpd.GeoSeries(geoms, crs=STORAGE_CRS).to_crs(crs).values, dtype=object)


def _read(
    cls: AssetClass, as_of: datetime | None, url: str | None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the class's rows (typed) and geometries in EPSG:3794, ordered by id."""
    columns = export_columns(cls)
    source = as_of_source(cls) if as_of is not None else sql.Identifier("register", cls.table)
    query = sql.SQL("SELECT {c}, ST_AsBinary(t.geom) FROM {s} t ORDER BY t.id").format(
        c=sql.SQL(", ").join(sql.Identifier("t", c) for c in columns), s=source
    )
    with connect(url) as conn:
        rows = conn.execute(query, {"as_of": as_of}).fetchall()
    values = list(zip(*rows, strict=True)) if rows else [()] * (len(columns) + 1)
    types = {a.name: _TYPES[a.type] for a in cls.attributes} | _COMMON_TYPES
    frame = pd.DataFrame(
        {
            c: pd.Series(list(v), dtype=object).astype(
                pd.api.types.pandas_dtype(types.get(c, _TYPES["text"]))
            )
            for c, v in zip(columns, values, strict=False)
        }
    )
    wkb = np.array([bytes(w) for w in values[-1]], dtype=object)
    return frame, shapely.from_wkb(wkb) if len(wkb) else np.array([], dtype=object)


def _for_shapefile(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """Shorten names to 10 characters (see ``shapefile_names``); refuse over-long text."""
    frame = frame.assign(changed_at=frame["changed_at"].astype("string"))
    for column in frame.columns:
        if not pd.api.types.is_string_dtype(frame[column]):
            continue
        encoded: pd.Series = frame[column].str.encode("utf-8")
        size = encoded.str.len()
        if (size > SHAPEFILE_TEXT_BYTES).any():
            where = int(size.fillna(0).to_numpy().argmax())
            raise DataFileError(
                f"{path}: {column} of {frame['id'].iloc[where]} is {int(size.max())} bytes "
                f"long; a Shapefile holds at most {SHAPEFILE_TEXT_BYTES}: export to .gpkg instead"
            )
    return frame.rename(columns=shapefile_names(list(frame.columns)))


def _write_csv(
    cls: AssetClass, frame: pd.DataFrame, geoms: np.ndarray, lonlat: np.ndarray, path: Path
) -> None:
    """CSV: the columns, ``wkt`` (full precision) and for points ``lon``/``lat`` (EPSG:4326)."""
    frame = frame.assign(wkt=shapely.to_wkt(geoms, rounding_precision=-1))
    if cls.geometry == "Point":
        frame = frame.assign(lon=shapely.get_x(lonlat), lat=shapely.get_y(lonlat))
    try:
        frame.to_csv(path, index=False, encoding="utf-8")
    except OSError as exc:
        raise DataFileError(f"{path}: cannot write ({exc.strerror})") from exc
