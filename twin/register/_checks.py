"""Row checks of an import that need no register lookups: geometry and duplicates.

Every check works on whole arrays and returns problems as a frame with the columns ``row``
(the row number a user sees), ``field`` and ``reason``; the reason reads after the field
(``geometry`` + ``lies outside Maribor: …``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from pyproj import CRS, Transformer

from twin.load._read import CITY_FRAME_D96, STORAGE_CRS
from twin.register._files import Source, crs_name
from twin.register.catalog import AssetClass

#: How far (m) beyond the municipal boundary a feature may lie: the shipped boundary is
#: simplified (several hundred metres off in places).
BOUNDARY_TOLERANCE_M = 500.0
#: Shapely geometry type ids and names.
TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    2: "LinearRing",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}
TYPE_IDS = {name: number for number, name in TYPE_NAMES.items()}
_SINGLE = {"Point": 0, "LineString": 1, "Polygon": 3}
_MULTI = {"Point": 4, "LineString": 5, "Polygon": 6}
COLUMNS = ["row", "field", "reason"]
_STORAGE = CRS.from_epsg(STORAGE_CRS)


def problem_frame(
    index: pd.Index, mask: pd.Series | np.ndarray, column: str, reason: pd.Series | str
) -> pd.DataFrame:
    """Problems for the rows of ``index`` selected by ``mask`` (reason: text or per row)."""
    if isinstance(mask, pd.Series):  # nullable comparisons leave NA: not selected
        selected = mask.astype("boolean").fillna(value=False).to_numpy(dtype=bool)
    else:
        selected = np.asarray(mask, dtype=bool)
    if not selected.any():
        return pd.DataFrame(columns=COLUMNS)
    rows = index[selected]
    if isinstance(reason, pd.Series):
        texts = reason.reindex(rows).astype(str).to_numpy()
    else:
        texts = np.full(len(rows), reason, dtype=object)
    return pd.DataFrame({"row": rows, "field": column, "reason": texts})


def duplicates(
    values: pd.Series, column: str, describe: Callable[[pd.Series, pd.Series], pd.Series]
) -> pd.DataFrame:
    """Problems for every repeat of a value after its first row.

    ``describe(values, first_rows)`` returns the reason of each repeat.
    """
    present = values.dropna()
    repeats = present[present.duplicated()]
    if repeats.empty:
        return pd.DataFrame(columns=COLUMNS)
    firsts = present.drop_duplicates()
    first_row = pd.Series(firsts.index, index=firsts.to_numpy())
    reasons = describe(repeats.astype(str), repeats.map(first_row).astype(str))
    return pd.DataFrame({"row": repeats.index, "field": column, "reason": reasons.to_numpy()})


def boundary(conn: psycopg.Connection) -> tuple[shapely.Geometry, str | None]:
    """Return the area features must lie in: the municipality widened by the tolerance.

    Returns the area (prepared) and a note when the municipality is not loaded (then a
    frame around Maribor is used).
    """
    row = conn.execute("SELECT ST_AsBinary(ST_Union(geom)) FROM twin.municipality").fetchone()
    if row is None or row[0] is None:
        area = shapely.box(*CITY_FRAME_D96)
        note = (
            "the municipality is not loaded (run `twin load maribor`): features were only "
            "checked against a frame around Maribor"
        )
    else:
        area = shapely.buffer(shapely.from_wkb(bytes(row[0])), BOUNDARY_TOLERANCE_M)
        note = None
    shapely.prepare(area)
    return area, note


def shape(asset_class: AssetClass, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bring geometries to the class's type where that loses nothing.

    A one-part Multi* becomes its part; for a MultiPolygon class a Polygon becomes a
    one-part MultiPolygon. Returns the geometries and a mask of those of another type.
    """
    types = shapely.get_type_id(geoms)
    out = geoms.copy()
    if asset_class.geometry == "MultiPolygon":
        polygons = types == _SINGLE["Polygon"]
        if polygons.any():
            out[polygons] = shapely.multipolygons(
                geoms[polygons], indices=np.arange(polygons.sum())
            )
        fits = polygons | (types == _MULTI["Polygon"])
    else:
        single = _SINGLE[asset_class.geometry]
        one_part = (types == _MULTI[asset_class.geometry]) & (
            shapely.get_num_geometries(geoms) == 1
        )
        if one_part.any():
            out[one_part] = shapely.get_geometry(geoms[one_part], 0)
        fits = (types == single) | one_part
    return out, (types >= 0) & ~fits


def _described(geoms: np.ndarray) -> np.ndarray:
    """Describe each geometry: ``a MultiPoint with 3 parts``, ``a LineString``."""
    types = pd.Series(shapely.get_type_id(geoms)).map(TYPE_NAMES).fillna("nothing")
    parts = pd.Series(shapely.get_num_geometries(geoms)).astype(str)
    multi = types.str.startswith("Multi") | types.eq("GeometryCollection")
    text = "a " + types + (" with " + parts + " parts").where(multi & (parts != "1"), "")
    return text.to_numpy(dtype=object)


def to_storage(geoms: np.ndarray, crs: CRS) -> np.ndarray:
    """Geometries transformed from ``crs`` to EPSG:3794 (2D).

    Points (the bulk of big imports), none of them missing or empty, are transformed as
    coordinate arrays and made anew, in half the time of geopandas' copy-and-set of each
    geometry; both transform with the same PROJ operation (``always_xy``).
    """
    if crs.equals(_STORAGE):
        return geoms
    if len(geoms) and bool((shapely.get_type_id(geoms) == TYPE_IDS["Point"]).all()):
        xy = shapely.get_coordinates(geoms)
        if len(xy) == len(geoms):
            return np.asarray(shapely.points(*_storage_xy(xy, crs)), dtype=object)
    series = gpd.GeoSeries(geoms, crs=crs).to_crs(STORAGE_CRS)
    return np.asarray(series.values, dtype=object)


def _storage_xy(xy: np.ndarray, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    """Return x and y of the points ``xy`` (two columns, in ``crs``) in EPSG:3794."""
    if crs.equals(_STORAGE):
        return xy[:, 0], xy[:, 1]
    x, y = _transformer(crs.to_wkt()).transform(xy[:, 0], xy[:, 1])
    return np.asarray(x), np.asarray(y)


@lru_cache(maxsize=16)
def _transformer(wkt: str) -> Transformer:
    """Return the transformation from the CRS ``wkt`` to EPSG:3794, in x/y (east, north) order."""
    return Transformer.from_crs(CRS.from_wkt(wkt), _STORAGE, always_xy=True)


def geometries(
    asset_class: AssetClass, source: Source, area: shapely.Geometry, *, fix: bool
) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Check and convert the geometries of a file (EPSG:3794, the class's type).

    Parameters
    ----------
    asset_class
        Class of the rows.
    source
        The file as read.
    area
        Where features must lie (see :func:`boundary`).
    fix
        Repair invalid geometries with ``make_valid`` instead of rejecting them.

    Returns
    -------
    tuple
        Geometries in EPSG:3794, the problems, and the repairs made (same columns).
    """
    if source.points is not None and asset_class.geometry == "Point":
        return _points(asset_class, source, source.points, area)
    index = source.frame.index
    found: list[pd.DataFrame] = []
    flat = _flat(source.geoms)
    missing = shapely.is_missing(flat) | shapely.is_empty(flat)
    found.append(problem_frame(index, missing, "geometry", "is missing or empty"))
    geoms, wrong = shape(asset_class, _blanked(flat, missing))
    if wrong.any():
        reasons = pd.Series(_described(flat[wrong]), index=index[wrong])
        found.append(
            problem_frame(
                index,
                wrong,
                "geometry",
                "is " + reasons + f"; a {asset_class.name} needs one {asset_class.geometry}",
            )
        )
    usable = ~missing & ~wrong
    geoms = to_storage(_blanked(geoms, ~usable), source.crs)
    finite = np.isfinite(shapely.bounds(geoms)).all(axis=1)
    invalid = usable & finite & ~shapely.is_valid(geoms)
    repairs = pd.DataFrame(columns=COLUMNS)
    if invalid.any():
        why = pd.Series(shapely.is_valid_reason(geoms[invalid]), index=index[invalid])
        if fix:
            geoms, invalid, repairs, unfixable = _repair(asset_class, geoms, invalid, why)
            found.append(unfixable)
        else:
            found.append(
                problem_frame(
                    index,
                    invalid,
                    "geometry",
                    "is not valid ("
                    + why
                    + "); repair it (QGIS: Fix geometries) or import with --fix",
                )
            )
    checked = usable & ~invalid
    outside = checked & ~(finite & shapely.intersects(area, geoms))
    if outside.any():
        found.append(_outside(source, index, outside, area, asset_class))
    return (
        geoms,
        pd.concat([f for f in found if len(f)] or [pd.DataFrame(columns=COLUMNS)]),
        repairs,
    )


def _points(
    asset_class: AssetClass, source: Source, points: np.ndarray, area: shapely.Geometry
) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """:func:`geometries` of a file of finite 2D points (``source.points``), on x/y arrays.

    The same checks and answers as for geometries in general, with less to check: each
    feature is one point, and a point with finite coordinates is valid. Only the points
    in EPSG:3794 are made as geometries (for the write).
    """
    x, y = _storage_xy(points, source.crs)
    inside = np.isfinite(x) & np.isfinite(y)
    inside[inside] = shapely.intersects_xy(area, x[inside], y[inside])
    problems = (
        _outside(source, source.frame.index, ~inside, area, asset_class)
        if not inside.all()
        else pd.DataFrame(columns=COLUMNS)
    )
    geoms = np.asarray(shapely.points(x, y), dtype=object)
    return geoms, problems, pd.DataFrame(columns=COLUMNS)


def _flat(geoms: np.ndarray) -> np.ndarray:
    """Return ``geoms`` in 2D (unchanged when none has Z or M: forcing copies every one)."""
    if (shapely.has_z(geoms) | shapely.has_m(geoms)).any():
        return np.asarray(shapely.force_2d(geoms), dtype=object)
    return geoms


def _blanked(geoms: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return a copy of ``geoms`` with None where ``mask`` is set."""
    out = np.array(geoms, dtype=object)
    out[mask] = None
    return out


def _repair(
    asset_class: AssetClass, geoms: np.ndarray, invalid: np.ndarray, why: pd.Series
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Repair invalid geometries; return geometries, still-invalid mask, repairs, problems."""
    fixed = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
    fixed, wrong = shape(asset_class, fixed)
    wrong |= shapely.is_empty(fixed) | ~shapely.is_valid(fixed)
    rows = why.index
    described = pd.Series(_described(fixed), index=rows)
    unfixable = problem_frame(
        rows,
        wrong,
        "geometry",
        "is not valid (" + why + ") and make_valid gives " + described + f", not one "
        f"{asset_class.geometry}; repair it by hand",
    )
    good = ~wrong
    text = why + " repaired with make_valid"
    if asset_class.geometry in ("Polygon", "MultiPolygon"):
        area = pd.Series(shapely.area(fixed), index=rows).round(1).astype(str)
        text = text + " (area now " + area + " m²)"
    repairs = problem_frame(rows, good, "geometry", text)
    out = geoms.copy()
    positions = np.flatnonzero(invalid)
    out[positions[good]] = fixed[good]
    still = invalid.copy()
    still[positions[good]] = False
    return out, still, repairs, unfixable


def _outside(
    source: Source,
    index: pd.Index,
    outside: np.ndarray,
    area: shapely.Geometry,
    asset_class: AssetClass,
) -> pd.DataFrame:
    """Problems of features outside Maribor, recognising swapped coordinates."""
    flat = _flat(source.geoms_at(outside))
    swapped = shapely.transform(flat, lambda xy: xy[:, ::-1])
    swapped, _ = shape(asset_class, swapped)
    moved = to_storage(swapped, source.crs)
    inside = np.isfinite(shapely.bounds(moved)).all(axis=1) & shapely.intersects(area, moved)
    axes = "longitude and latitude" if source.crs.is_geographic else "x and y"
    hint = np.where(
        inside,
        f"lies outside Maribor: {axes} look swapped",
        f"lies outside Maribor (more than {BOUNDARY_TOLERANCE_M:.0f} m beyond the municipal "
        f"boundary); check the coordinates and their CRS ({crs_name(source.crs)})",
    )
    return pd.DataFrame({"row": index[outside], "field": "geometry", "reason": hint})
