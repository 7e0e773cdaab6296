"""Read and write register files (GeoPackage, GeoJSON, Shapefile, CSV, GeoParquet, FlatGeobuf).

A Shapefile is a ``.shp`` with its sidecar files, or a ``.zip`` of them.

Reading returns the attribute columns as found, the geometries in the file's CRS and the row
numbers a user sees (feature number, 1 = first; for CSV the line number, header = line 1).
Writing takes a frame already shaped for export. Checking the values is the importer's job.
"""

from __future__ import annotations

import re
import tempfile
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from twin._errors import DataFileError, InvalidValue, exception_reason
from twin.load._read import CITY_FRAME_LONLAT
from twin.register.catalog import AssetClass

#: GDAL driver of each file extension (``.zip`` is a zipped Shapefile).
DRIVERS = {
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "ESRI Shapefile",
    ".zip": "ESRI Shapefile",
    ".fgb": "FlatGeobuf",
    ".csv": "CSV",
    ".parquet": "Parquet",
}
#: Sidecar files of a Shapefile.
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
#: Longest field name a Shapefile (dBase) holds.
SHAPEFILE_NAME_LENGTH = 10
#: Longest text a Shapefile field holds, in bytes.
SHAPEFILE_TEXT_BYTES = 254
#: CSV geometry columns: point coordinates, or well-known text.
LONLAT = ("lon", "lat")
WKT_COLUMNS = ("wkt", "geometry")
LONLAT_CRS = CRS.from_epsg(4326)
_EWKT = re.compile(r"^\s*SRID=(\d+);", re.IGNORECASE)
_CRS_HINT = "e.g. --crs EPSG:3794 for D96/TM metres or --crs EPSG:4326 for longitude/latitude"


@dataclass
class Source:
    """What a file holds, before any check.

    Parameters
    ----------
    frame
        Attribute columns as read (CSV: text), index = the row number a user sees.
    geoms
        Shapely geometries (None where missing), in ``crs``, aligned with ``frame``; made
        from ``points`` on first use when the reader left it None.
    crs
        Coordinate reference system of ``geoms``.
    label
        How rows are numbered: ``"row"`` (feature number) or ``"line"`` (CSV line).
    driver
        GDAL driver name of the format.
    notes
        What the reader decided (CRS assumed or overridden, columns used for geometry).
    problems
        Row-level reading problems (bad coordinates, unreadable WKT): row, field, reason.
    points
        The x/y of every feature (an array of two columns, in ``crs``) when all are 2D
        points with finite coordinates, as a file of street lights or sensors holds; else
        None. The checks work on these coordinates without making a geometry of each.
    """

    frame: pd.DataFrame
    shapes: np.ndarray | None
    crs: CRS
    label: str
    driver: str
    notes: list[str] = field(default_factory=list)
    problems: list[pd.DataFrame] = field(default_factory=list)
    points: np.ndarray | None = None

    @property
    def geoms(self) -> np.ndarray:
        """The geometries (made from ``points`` on first use)."""
        if self.shapes is None:
            points = self.points if self.points is not None else np.empty((0, 2))
            made: np.ndarray = np.asarray(shapely.points(points), dtype=object).reshape(-1)
            self.shapes = made
            return made
        return self.shapes

    def geoms_at(self, mask: np.ndarray) -> np.ndarray:
        """Return the geometries of the rows selected by ``mask`` (making only those)."""
        if self.shapes is None and self.points is not None:
            made: np.ndarray = np.asarray(shapely.points(self.points[mask]), dtype=object)
            return made.reshape(-1)
        return np.asarray(self.geoms[mask], dtype=object)


def export_columns(asset_class: AssetClass) -> list[str]:
    """Columns of an export, in order (before the geometry).

    The editable columns, ``synthetic`` (generated rows stay marked as such), and the
    version and time of the last change for information (an import checks ``version``).
    """
    return [
        "id",
        "name",
        "state",
        "parent_id",
        "source",
        "licence",
        "synthetic",
        *(a.name for a in asset_class.attributes),
        "version",
        "changed_at",
    ]


def parse_crs(value: object) -> CRS:
    """Return the CRS named by ``value`` (``3794``, ``"EPSG:3794"``, WKT or PROJ text).

    Raises
    ------
    InvalidValue
        When ``value`` names no CRS.
    """
    text = str(value).strip()
    try:
        return CRS.from_user_input(int(text) if text.isdigit() else text)
    except CRSError as exc:
        message = f"--crs {text!r} is not a coordinate reference system ({_CRS_HINT})"
        raise InvalidValue(message) from exc


def crs_name(crs: CRS) -> str:
    """Short name of a CRS: ``EPSG:3794`` when it has an EPSG code, else its name."""
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.name


def driver_of(path: Path) -> str:
    """Return the GDAL driver for ``path``'s extension.

    Raises
    ------
    DataFileError
        When the extension is not one of the supported formats.
    """
    suffix = path.suffix.lower()
    if suffix not in DRIVERS:
        raise DataFileError(
            f"{path}: unsupported file type {suffix or '(none)'}; use one of "
            f"{', '.join(sorted(DRIVERS))}"
        )
    return DRIVERS[suffix]


def shapefile_names(columns: Sequence[str]) -> dict[str, str]:
    """Map column names to Shapefile field names (at most 10 characters), deterministically.

    Names that fit are kept; a longer name becomes its first 10 characters, or, when those
    are taken, its first 8 characters and a two-digit counter. The importer maps the names
    back with the same function, so a class's own export always reads back.
    """
    short = {c: c for c in columns if len(c) <= SHAPEFILE_NAME_LENGTH}
    taken = set(short)
    for column in columns:
        if column in short:
            continue
        name, counter = column[:SHAPEFILE_NAME_LENGTH], 1
        while name in taken:
            name = f"{column[: SHAPEFILE_NAME_LENGTH - 2]}{counter:02d}"
            counter += 1
        short[column] = name
        taken.add(name)
    return {c: short[c] for c in columns}


def _layer(path: Path, target: str, wanted: str) -> str | None:
    """Pick the layer to read: the only one, or the one named after the class."""
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(target)]
    except (pyogrio.errors.DataSourceError, OSError) as exc:
        raise DataFileError(
            f"{path}: cannot read ({exception_reason(exc)}); is it a valid vector file?"
        ) from exc
    if len(layers) <= 1:
        return layers[0] if layers else None
    if wanted in layers:
        return wanted
    raise DataFileError(
        f"{path}: holds {len(layers)} layers ({', '.join(layers)}); name the one to import "
        f"{wanted!r} or keep only that layer in the file"
    )


def _read_vector(
    path: Path, driver: str, layer_name: str
) -> tuple[pd.DataFrame, np.ndarray | None, CRS | None, np.ndarray | None]:
    """Read a GDAL vector layer: attributes, geometries (or point x/y), declared CRS.

    Point layers (every feature a finite 2D point) keep their coordinates only
    (:func:`_wkb_points`); other layers are parsed with shapely. Two reads of the layer,
    attributes and geometries, take a third of the time of a GeoDataFrame read, most of
    which went to making a shapely geometry of each point.
    """
    target = f"/vsizip/{path}" if path.suffix.lower() == ".zip" else str(path)
    layer = _layer(path, target, layer_name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the importer reports what matters
            frame = pyogrio.read_dataframe(target, layer=layer, use_arrow=True, read_geometry=False)
            meta, table = pyogrio.read_arrow(target, layer=layer, columns=[])
            if table.num_columns != 1:
                raise DataFileError(f"{path}: the layer has no geometry column")
            wkb = table.column(0).combine_chunks()
            if isinstance(wkb.type, pa.ExtensionType):
                wkb = wkb.storage
            points = _wkb_points(wkb)
            shapes = (
                None
                if points is not None
                else np.asarray(shapely.from_wkb(wkb.to_numpy(zero_copy_only=False)), dtype=object)
            )
    except (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        shapely.errors.ShapelyError,
        ValueError,
        OSError,
    ) as exc:
        raise DataFileError(
            f"{path}: cannot read as {driver} ({exception_reason(exc)}); is it a valid file?"
        ) from exc
    if len(frame.columns) == 0:  # a layer of geometries only
        frame = pd.DataFrame(index=range(len(wkb)))
    return _plain(frame), shapes, CRS(meta["crs"]) if meta["crs"] is not None else None, points


#: One ISO WKB 2D point, little endian: byte order, type, x, y (21 bytes, packed).
_WKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])
_WKB_LITTLE_ENDIAN, _WKB_POINT_TYPE = 1, 1


def _wkb_points(wkb: pa.Array) -> np.ndarray | None:
    """Return the x/y of WKB that is all finite little-endian 2D points, else None."""
    if not len(wkb) or wkb.null_count or not pa.types.is_binary(wkb.type):
        return None
    _, offsets_buffer, data_buffer = wkb.buffers()
    if offsets_buffer is None or data_buffer is None:
        return None
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[wkb.offset : wkb.offset + len(wkb) + 1]
    if not (np.diff(offsets) == _WKB_POINT.itemsize).all():
        return None
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    record = data.view(_WKB_POINT)
    if not ((record["order"] == _WKB_LITTLE_ENDIAN) & (record["type"] == _WKB_POINT_TYPE)).all():
        return None
    xy = np.column_stack([record["x"], record["y"]])
    return xy if np.isfinite(xy).all() else None  # empty points (NaN) take the general path


def _split(frame: gpd.GeoDataFrame) -> tuple[pd.DataFrame, np.ndarray, CRS | None]:
    geoms = np.asarray(frame.geometry.values, dtype=object)
    attributes = _plain(pd.DataFrame(frame.drop(columns=frame.geometry.name)))
    return attributes, geoms, CRS(frame.crs) if frame.crs is not None else None


def _plain(attributes: pd.DataFrame) -> pd.DataFrame:
    """Arrow-typed columns as plain values; rows numbered from 1 (the feature number)."""
    for column in attributes.columns:
        if isinstance(attributes[column].dtype, pd.ArrowDtype):  # GeoParquet: plain values
            values = attributes[column].astype(object)
            attributes[column] = values.where(values.notna(), None)
    attributes.index = pd.RangeIndex(1, len(attributes) + 1)
    return attributes


def _read_parquet(path: Path) -> tuple[pd.DataFrame, np.ndarray, CRS | None]:
    try:
        frame = gpd.read_parquet(path)
    except ValueError as exc:
        raise DataFileError(
            f"{path}: not a GeoParquet file ({exception_reason(exc)}); write it with a "
            "geometry column and 'geo' metadata (GeoPandas, GDAL, QGIS)"
        ) from exc
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read ({exception_reason(exc)})") from exc
    return _split(frame)


def _csv_separator(path: Path) -> str:
    with path.open(encoding="utf-8-sig", errors="replace") as fh:
        header = fh.readline()
    return ";" if header.count(";") > header.count(",") else ","


def _read_csv(path: Path, crs: CRS | None) -> Source:
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8-sig", sep=_csv_separator(path)
        )
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataFileError(f"{path}: not a readable UTF-8 CSV ({exception_reason(exc)})") from exc
    frame.index = pd.RangeIndex(2, len(frame) + 2)  # line 1 is the header
    lower = {c.strip().lower(): c for c in frame.columns}
    if all(c in lower for c in LONLAT):
        return _csv_points(frame, [lower[c] for c in LONLAT], crs)
    for name in WKT_COLUMNS:
        if name in lower:
            return _csv_wkt(path, frame, lower[name], crs)
    raise DataFileError(
        f"{path}: no geometry columns; a CSV needs lon and lat columns (points, EPSG:4326) "
        "or a wkt column (well-known text)"
    )


def _numbers(frame: pd.DataFrame, column: str) -> tuple[pd.Series, pd.DataFrame]:
    text = frame[column].str.strip()
    values = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = values.isna() & (text != "")
    problems = pd.DataFrame(
        {
            "row": frame.index[bad],
            "field": column,
            "reason": "is not a number (got " + text[bad].map(repr) + ")",
        }
    )
    return values, problems


def _csv_points(frame: pd.DataFrame, columns: list[str], crs: CRS | None) -> Source:
    (lon, bad_lon), (lat, bad_lat) = (_numbers(frame, c) for c in columns)
    xy = np.column_stack([lon.to_numpy(dtype=float), lat.to_numpy(dtype=float)])
    points = xy if len(xy) and np.isfinite(xy).all() else None  # every row a finite point
    geoms = None
    if points is None:
        present = lon.notna() & lat.notna()
        geoms = np.full(len(frame), None, dtype=object)
        geoms[present.to_numpy()] = shapely.points(xy[present.to_numpy()])
    notes = [f"geometry from the {columns[0]}/{columns[1]} columns"]
    if crs is None:
        crs = LONLAT_CRS
    else:
        notes.append(f"{columns[0]}/{columns[1]} read as x/y in {crs_name(crs)} (--crs)")
    extra = [c for c in frame.columns if c.strip().lower() in WKT_COLUMNS]
    if extra:
        notes.append(f"column {extra[0]} not used: lon/lat give the points")
    attributes = frame.drop(columns=[*columns, *extra])
    problems = [p for p in (bad_lon, bad_lat) if len(p)]
    return Source(attributes, geoms, crs, "line", "CSV", notes, problems, points=points)


def _csv_wkt(path: Path, frame: pd.DataFrame, column: str, crs: CRS | None) -> Source:
    text = frame[column].str.strip()
    srids = text.str.extract(_EWKT, expand=False).dropna().unique()
    text = text.str.replace(_EWKT, "", regex=True)
    blank = text == ""
    geoms = np.full(len(frame), None, dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = shapely.from_wkt(text[~blank].to_numpy(dtype=object), on_invalid="ignore")
    geoms[(~blank).to_numpy()] = parsed
    bad = ~blank & pd.Series(shapely.is_missing(geoms), index=frame.index)
    problems = [
        pd.DataFrame(
            {
                "row": frame.index[bad],
                "field": column,
                "reason": "is not well-known text (got "
                + frame[column][bad].str.slice(0, 40).map(repr)
                + ")",
            }
        )
    ]
    notes = [f"geometry from the {column} column (well-known text)"]
    if crs is None:
        crs = _wkt_crs(path, column, srids, geoms)
        notes.append(f"CRS {crs_name(crs)} taken from the {column} column")
    elif len(srids):
        notes.append(f"SRID in the {column} column overridden by --crs {crs_name(crs)}")
    return Source(
        frame.drop(columns=[column]),
        geoms,
        crs,
        "line",
        "CSV",
        notes,
        [p for p in problems if len(p)],
    )


def _wkt_crs(path: Path, column: str, srids: np.ndarray, geoms: np.ndarray) -> CRS:
    """CRS of a WKT column without --crs: its EWKT SRID, or plain lon/lat inside Maribor."""
    if len(srids) > 1:
        raise DataFileError(
            f"{path}: the {column} column mixes SRIDs {', '.join(sorted(srids))}; "
            "use one CRS per file"
        )
    if len(srids) == 1:
        return CRS.from_epsg(int(srids[0]))
    present = geoms[~shapely.is_missing(geoms)]
    if not len(present):
        return LONLAT_CRS  # nothing to place
    xmin, ymin, xmax, ymax = shapely.total_bounds(present)
    lon0, lat0, lon1, lat1 = CITY_FRAME_LONLAT
    if lon0 <= xmin and xmax <= lon1 and lat0 <= ymin and ymax <= lat1:
        return LONLAT_CRS
    raise DataFileError(
        f"{path}: the {column} column has no coordinate reference system (CSV cannot store "
        f"one) and its coordinates are not longitude/latitude in Maribor; pass --crs "
        f"({_CRS_HINT}), or write the WKT as EWKT (SRID=3794;POINT(…))"
    )


def read_source(path: Path, layer: str, crs: CRS | None = None) -> Source:
    """Read a register file: attributes, geometries, CRS and row numbers.

    Parameters
    ----------
    path
        The file; its extension names the format.
    layer
        Layer to read when the file holds several (the class name).
    crs
        CRS to use instead of the file's (``--crs``); required when the file has none.

    Raises
    ------
    DataFileError
        When the file is missing or unreadable, or has no CRS and none was given.
    """
    if not path.is_file():
        raise DataFileError(f"{path}: file not found")
    driver = driver_of(path)
    if driver == "CSV":
        source = _read_csv(path, crs)
    else:
        points: np.ndarray | None = None
        shapes: np.ndarray | None
        if driver == "Parquet":
            frame, shapes, declared = _read_parquet(path)
        else:
            frame, shapes, declared, points = _read_vector(path, driver, layer)
        notes = []
        if crs is None:
            if declared is None:
                raise DataFileError(
                    f"{path}: no coordinate reference system (a Shapefile needs its .prj); "
                    f"pass --crs ({_CRS_HINT})"
                )
            crs = declared
        elif declared is not None and declared != crs:
            notes.append(f"file declares {crs_name(declared)}; --crs {crs_name(crs)} used")
        source = Source(frame, shapes, crs, "row", driver, notes, points=points)
    if not len(source.frame.index):
        source.notes.append("the file holds no features")
    return source


def _remove_shapefile(path: Path) -> None:
    for suffix in SHAPEFILE_PARTS:
        path.with_suffix(suffix).unlink(missing_ok=True)


def write_frame(frame: gpd.GeoDataFrame, path: Path, layer: str, geometry_type: str) -> None:
    """Write ``frame`` to ``path`` in the format of its extension (replacing the file).

    Raises
    ------
    DataFileError
        When the extension is unsupported or the file cannot be written.
    """
    driver = driver_of(path)
    try:
        if driver == "Parquet":
            path.unlink(missing_ok=True)
            frame.to_parquet(path, index=False)
        elif path.suffix.lower() == ".zip":
            with tempfile.TemporaryDirectory(prefix="twin-export-") as tmp:
                inner = Path(tmp) / f"{layer}.shp"
                _write_ogr(frame, inner, driver, layer, geometry_type)
                path.unlink(missing_ok=True)
                with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
                    for suffix in SHAPEFILE_PARTS:
                        part = inner.with_suffix(suffix)
                        if part.exists():
                            archive.write(part, part.name)
        else:
            if driver == "ESRI Shapefile":
                _remove_shapefile(path)
            else:
                path.unlink(missing_ok=True)
            _write_ogr(frame, path, driver, layer, geometry_type)
    except (OSError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise DataFileError(f"{path}: cannot write ({exception_reason(exc)})") from exc


def _write_ogr(
    frame: gpd.GeoDataFrame, path: Path, driver: str, layer: str, geometry_type: str
) -> None:
    options: dict[str, object] = {}
    if driver == "FlatGeobuf":
        options["SPATIAL_INDEX"] = "NO"  # keep the feature order (row numbers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pyogrio.write_dataframe(
            frame,
            path,
            driver=driver,
            layer=layer,
            geometry_type=geometry_type,
            use_arrow=True,
            layer_options=options or None,
        )
