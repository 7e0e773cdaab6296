"""Read and validate input files once, at the boundary, with messages a planner understands.

Every reader returns data in EPSG:3794 or raises :class:`~twin.DataFileError` naming the
file, the feature or row, and what to do.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from twin._errors import DataFileError, InvalidGeometry, exception_reason

STORAGE_CRS = 3794
#: Generous frame around the municipality (lon/lat) that every shipped feature lies in.
CITY_FRAME_LONLAT = (15.40, 46.40, 15.90, 46.70)
#: Same frame in D96/TM metres.
CITY_FRAME_D96 = (535_000.0, 145_000.0, 565_000.0, 170_000.0)
#: Slovenia in D96/TM metres (national networks such as ARSO's list stations elsewhere).
SLOVENIA_FRAME_D96 = (370_000.0, 25_000.0, 630_000.0, 200_000.0)
_MAX_LISTED = 5
#: Largest whole number read exactly through a float (2**53); larger ids are refused.
MAX_EXACT_INT = 2**53


def sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read ({exc.strerror})") from exc


def require_file(path: Path) -> Path:
    """Return ``path`` if it is a readable file, else raise naming it."""
    if not path.is_file():
        raise DataFileError(
            f"{path}: file not found; restore it from the repository (git checkout)"
        )
    return path


def _listed(values: Iterable[object]) -> str:
    items = [str(v) for v in values]
    more = f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return ", ".join(items[:_MAX_LISTED]) + more


def check_unique(frame: pd.DataFrame, column: str, path: Path) -> None:
    """Raise when ``column`` has missing or duplicate values."""
    if frame[column].isna().any():
        rows = frame.index[frame[column].isna()]
        raise DataFileError(f"{path}: {column} is empty in feature/row {_listed(rows)}")
    dup = frame[column][frame[column].duplicated()]
    if len(dup):
        raise DataFileError(
            f"{path}: duplicate {column} {_listed(dup.unique())}; each {column} must appear once"
        )


def _check_frame(bounds: np.ndarray, frame: tuple[float, ...]) -> np.ndarray:
    """Return a mask of rows whose bounds fall outside ``frame``."""
    xmin, ymin, xmax, ymax = frame
    return (
        (bounds[:, 0] < xmin)
        | (bounds[:, 2] > xmax)
        | (bounds[:, 1] < ymin)
        | (bounds[:, 3] > ymax)
    )


def whole_numbers(values: pd.Series, path: Path, column: str, ids: pd.Series) -> pd.Series:
    """Return ``values`` as nullable integers, refusing text, fractions and huge numbers.

    Raises
    ------
    DataFileError
        Naming the first feature (by ``ids``) whose value is not a whole number.
    """
    numeric = pd.to_numeric(values, errors="coerce")
    bad = (numeric.isna() & values.notna()) | (numeric.notna() & (numeric % 1 != 0))
    bad |= numeric.abs() > MAX_EXACT_INT
    if bad.any():
        first = bad.to_numpy().nonzero()[0][0]
        raise DataFileError(
            f"{path}: feature/row {ids.iloc[first]}: {column} {values.iloc[first]!r} "
            "is not a whole number in range"
        )
    return numeric.astype("Int64")


def read_features(
    path: Path, id_column: str, geom_types: set[str], columns: Iterable[str] = ()
) -> gpd.GeoDataFrame:
    """Read a vector file, validate it and return it in EPSG:3794.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage or any file GDAL reads.
    id_column
        Column that must be present, non-empty and unique.
    geom_types
        Allowed geometry types, e.g. ``{"Polygon", "MultiPolygon"}``.
    columns
        Further properties that every file of this kind must have.

    Returns
    -------
    geopandas.GeoDataFrame
        The features in EPSG:3794 and 2D (a Z coordinate is dropped), index = feature
        number in the file (1 = first feature).

    Raises
    ------
    DataFileError
        When the file is missing, unreadable, has no CRS, or ids are missing or duplicate.
    InvalidGeometry
        When a geometry is missing, empty, invalid, of the wrong type, or outside Maribor.
    """
    require_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the checks below report what matters
            frame = gpd.read_file(path, engine="pyogrio")
    except (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        ValueError,
        OSError,
    ) as exc:
        raise DataFileError(
            f"{path}: cannot read ({exception_reason(exc)}); is it a valid vector file?"
        ) from exc
    if frame.empty:
        raise DataFileError(f"{path}: the file has no features; restore the full file")
    frame.index = frame.index + 1
    absent = [c for c in (id_column, *columns) if c not in frame.columns]
    if absent:
        raise DataFileError(f"{path}: property {', '.join(map(repr, absent))} is missing")
    if frame.crs is None:
        raise DataFileError(f"{path}: no coordinate reference system; declare one (EPSG:4326)")
    check_unique(frame, id_column, path)
    geoms = frame.geometry.values
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        raise InvalidGeometry(
            f"{path}: feature {_listed(frame[id_column][missing])} ({id_column}) has no geometry"
        )
    wrong = ~frame.geom_type.isin(geom_types)
    if wrong.any():
        got = frame.geom_type[wrong].iloc[0]
        raise InvalidGeometry(
            f"{path}: feature {_listed(frame[id_column][wrong])} ({id_column}) is a {got}; "
            f"expected {' or '.join(sorted(geom_types))}"
        )
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        first = int(np.flatnonzero(invalid)[0])
        raise InvalidGeometry(
            f"{path}: feature {_listed(frame[id_column][invalid])} ({id_column}) has an invalid "
            f"geometry ({shapely.is_valid_reason(geoms[first])}); repair it, e.g. in QGIS "
            "with 'Fix geometries'"
        )
    lonlat = frame.to_crs(4326) if CRS(frame.crs) != CRS(4326) else frame
    outside = _check_frame(lonlat.geometry.bounds.to_numpy(), CITY_FRAME_LONLAT)
    if outside.any():
        swapped = ~_check_frame(
            lonlat.geometry.bounds.to_numpy()[:, [1, 0, 3, 2]], CITY_FRAME_LONLAT
        )
        hint = (
            "longitude and latitude look swapped"
            if swapped[outside].all()
            else f"wrong coordinate reference system (declared {frame.crs.to_string()})?"
        )
        raise InvalidGeometry(
            f"{path}: feature {_listed(frame[id_column][outside])} ({id_column}) lies outside "
            f"Maribor: {hint}"
        )
    frame["geometry"] = gpd.GeoSeries(
        shapely.force_2d(np.asarray(frame.geometry.values)), index=frame.index, crs=frame.crs
    )
    return frame.to_crs(STORAGE_CRS)


def read_table(path: Path, columns: dict[str, str], id_column: str) -> pd.DataFrame:
    """Read a CSV file with required, typed columns.

    Parameters
    ----------
    path
        UTF-8 CSV with a header row.
    columns
        Required column name to pandas dtype (``"Int64"``, ``"float64"``, ``"string"``, …).
    id_column
        Column that must be non-empty and unique.

    Returns
    -------
    pandas.DataFrame
        The rows, index = data row number (1 = first row after the header).

    Raises
    ------
    DataFileError
        When the file is missing, malformed, lacks a column, or a value has the wrong type.
    """
    require_file(path)
    try:
        frame = pd.read_csv(path, dtype="string", encoding="utf-8-sig", keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, OSError) as exc:
        raise DataFileError(f"{path}: not a readable UTF-8 CSV ({exception_reason(exc)})") from exc
    if frame.empty:
        raise DataFileError(f"{path}: the file has a header but no rows; restore the full file")
    frame.index = frame.index + 1
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise DataFileError(f"{path}: missing column(s) {', '.join(absent)}")
    frame = frame[list(columns)].replace("", pd.NA)
    for column, dtype in columns.items():
        if dtype == "string":
            continue
        numeric = pd.to_numeric(frame[column], errors="coerce")
        bad = numeric.isna() & frame[column].notna()
        if bad.any():
            row = frame.index[bad][0]
            raise DataFileError(
                f"{path}: row {row}, column {column}: {frame[column][row]!r} is not a number"
            )
        if dtype == "Int64":
            frame[column] = whole_numbers(frame[column], path, column, frame.index.to_series())
        else:
            frame[column] = numeric.astype(pd.api.types.pandas_dtype(dtype))
    check_unique(frame, id_column, path)
    return frame


def points_d96(
    frame: pd.DataFrame,
    path: Path,
    x: str = "cen_e",
    y: str = "cen_n",
    extent: tuple[float, float, float, float] = CITY_FRAME_D96,
) -> gpd.GeoSeries:
    """Return EPSG:3794 points from D96/TM columns, checking they fall in ``extent``."""
    if frame[[x, y]].isna().any(axis=None):
        row = frame.index[frame[[x, y]].isna().any(axis=1)][0]
        raise InvalidGeometry(f"{path}: row {row} has no {x}/{y} coordinates")
    xy = frame[[x, y]].to_numpy(dtype="float64")
    outside = _check_frame(np.column_stack([xy, xy]), extent)
    if outside.any():
        where = "Maribor" if extent == CITY_FRAME_D96 else "Slovenia"
        raise InvalidGeometry(
            f"{path}: row {_listed(frame.index[outside])} lies outside {where} "
            f"({x}/{y} must be D96/TM metres, EPSG:3794)"
        )
    return gpd.GeoSeries(shapely.points(xy), index=frame.index, crs=STORAGE_CRS)
