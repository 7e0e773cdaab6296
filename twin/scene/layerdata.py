"""Rows of the 3D scene's layers, and their compact JSON encoding.

:func:`read_rows` reads the rows of one catalog layer (a twin table, an asset class of the
register, as it is or as it was, or the sensors' latest readings) with the fields the layer
draws, colours and shows, and the plain-text tooltip columns ``tt_title``/``tt_text``.
:func:`encode` writes them as JSON records with flat coordinate arrays (5 decimals, about
0.8 m; integer heights), and :func:`encode_tiles` as GeoJSON tiles for deck.gl's
``TileLayer``. Both build the text column by column (no Python loop over rows).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from numpy.typing import ArrayLike
from psycopg import sql

from twin._errors import ConfigError
from twin.db._sql import sql_text
from twin.db.engine import connect
from twin.districts import district_frame, municipality_frame
from twin.register.catalog import asset_class
from twin.register.store import list_assets
from twin.scene.catalog import Colouring, Layer
from twin.scene.context import COORD_DECIMALS, road_frame
from twin.scene.districts import tooltip_fields
from twin.scene.ground import bands, pieces
from twin.sensors.latest import latest

IntArray = np.ndarray[Any, np.dtype[np.int64]]
Geoms = np.ndarray[Any, np.dtype[np.object_]]
DISPLAY_SRID = 4326
#: Tables with a reader of their own (computed columns such as the district label points).
_READERS = {"districts": district_frame, "municipality": municipality_frame, "roads": road_frame}
#: Severity of a sensor's threshold states: a sensor shows its worst datastream.
SEVERITY = {"alert": 5, "limit": 4, "information": 3, "target": 2, "ok": 1, "below_detection": 0}
#: Height (m) of a sensor column per severity step, and of one without a state.
SENSOR_STEP_M, SENSOR_BASE_M = 15.0, 12.0
#: Zoom levels of the building tiles: overview (without outbuildings) and detail.
TILE_ZOOMS = (13, 14)
OVERVIEW_LEAVES_OUT = ("outbuilding",)
_SPLIT = "\x00"


def register_version(url: str | None = None) -> int:
    """Return the register's version: the newest entry of register.changes (0 when empty)."""
    with connect(url) as conn:
        row = conn.execute(sql_text("scene_version")).fetchone()
    return int(row[0]) if row else 0


def _table_rows(spec: Layer, url: str | None) -> gpd.GeoDataFrame:
    if spec.table in _READERS:
        return _READERS[spec.table](url)
    query = sql.SQL(sql_text("scene_table")).format(
        fields=sql.SQL(", ").join(sql.Identifier("t", f) for f in spec.fields),
        table=sql.Identifier("twin", spec.table),
    )
    with connect(url) as conn:
        cur = conn.execute(query, {"srid": DISPLAY_SRID})
        names = [c.name for c in cur.description or ()]
        frame = pd.DataFrame(cur.fetchall(), columns=names)
    shapes = gpd.GeoSeries.from_wkb(frame.pop("geometry").map(bytes), crs=DISPLAY_SRID)
    return gpd.GeoDataFrame(frame, geometry=shapes, crs=DISPLAY_SRID)


def sensor_rows(conn: psycopg.Connection) -> gpd.GeoDataFrame:
    """Return one row per sensor with a reading: its worst datastream's reading and state.

    Parameters
    ----------
    conn
        Connection to the twin's database.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id``, ``name``, ``kind``, ``threshold_state`` (``"stale"`` when every reading is
        stale), ``reading`` (value, unit and property as text), ``phenomenon_time``,
        ``severity`` and ``height_m`` (for the column), points in EPSG:4326.
    """
    readings = latest(conn)
    if readings.empty:
        return gpd.GeoDataFrame(
            columns=["id", "name", "kind", "threshold_state", "reading", "severity", "height_m"],
            geometry=gpd.GeoSeries([], crs=DISPLAY_SRID),
        )
    state = readings["threshold_state"].astype("string")
    fresh = ~readings["stale"].astype(bool)
    severity = state.map(SEVERITY).astype("float").fillna(-1).where(fresh, -2)
    value = pd.to_numeric(readings["value"], errors="coerce").round(2).astype("string")
    reading = (
        readings["property"].astype("string").fillna("")
        + " "
        + value.fillna("no value")
        + " "
        + readings["unit"].astype("string").fillna("")
    ).str.strip()
    frame = readings.assign(severity=severity, reading=reading, threshold_state=state)
    worst = frame.sort_values(["sensor_id", "severity"], ascending=[True, False])
    worst = worst.drop_duplicates("sensor_id")
    state_shown = worst["threshold_state"].where(worst["severity"] > -2, "stale")  # noqa: PLR2004
    height = SENSOR_BASE_M + SENSOR_STEP_M * worst["severity"].clip(lower=0)
    return gpd.GeoDataFrame(
        {
            "id": worst["sensor_id"].astype(str).to_numpy(),
            "name": worst["name"].astype("string").to_numpy(),
            "kind": worst["kind"].astype("string").to_numpy(),
            "threshold_state": state_shown.fillna("none").to_numpy(),
            "reading": worst["reading"].to_numpy(),
            "phenomenon_time": worst["phenomenon_time"].astype(str).to_numpy(),
            "severity": worst["severity"].to_numpy(),
            "height_m": height.to_numpy(),
        },
        geometry=gpd.points_from_xy(worst["lon"], worst["lat"], crs=DISPLAY_SRID),
    )


def _derived(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add the fields some colourings read that the register does not store as such."""
    if "lamp_type" in frame:
        led = frame["lamp_type"].astype("string").str.upper().eq("LED").fillna(value=False)
        managed = frame["telemanaged"].astype("boolean").fillna(value=False)
        frame["lamp_class"] = np.where(
            led & managed, "led_telemanaged", np.where(led, "led", "other")
        )
    if "technologies" in frame:
        has_5g = frame["technologies"].astype("string").str.contains("5G", case=False)
        frame["has_5g"] = np.where(has_5g.fillna(value=False), "yes", "no")
    return frame


def _labels(spec: Layer) -> dict[str, str]:
    """Return the label of each tooltip field (with its unit for register attributes)."""
    labels = {f: f.replace("_", " ") for f in spec.tooltip}
    if spec.source == "register":
        cls = asset_class(spec.table)
        for field in spec.tooltip:
            try:
                labels[field] = cls.attribute(field).title
            except ConfigError:
                continue
    return labels


def _shown(value: pd.Series) -> pd.Series:
    """Return values as text: floats with one decimal at most (``12``, ``12.5``)."""
    if value.dtype.kind == "f":
        return value.round(1).astype("string").str.removesuffix(".0")
    return value.astype("string")


def _compact(value: pd.Series, label: str) -> pd.Series:
    """Return a short tooltip entry per row: ``12 m``, ``year built 1975``, ``sodium``.

    Numbers get their unit (from a label such as ``height (m)``) or, without one, the label
    before them; yes/no values the label or ``not`` and the label; text stays as it is.
    """
    if value.dtype.kind == "b" or str(value.dtype) == "boolean":
        flags = value.astype("boolean")
        yes = flags.fillna(value=False).astype(bool)
        no = (~flags).fillna(value=False).astype(bool)
        out = pd.Series(pd.NA, index=value.index, dtype="string")
        return out.mask(yes, label).mask(no, f"not {label}")
    if label.endswith(")") and "(" in label:
        return _shown(value) + f" {label[label.rindex('(') + 1 : -1]}"
    if value.dtype.kind in "iuf":
        return f"{label} " + _shown(value)
    return _shown(value)


def tooltips(frame: pd.DataFrame, spec: Layer) -> pd.DataFrame:
    """Return the plain-text tooltip of each row: ``tt_title`` and ``tt_text``.

    Layers inside the page get the id and the name (or a building's address) as the title
    and the layer's title and its tooltip fields as ``label: value`` lines. Layers the
    browser fetches (``transport`` ``url`` or ``tiles``: many features) get a short one, as
    the text is most of their bytes: the name, or else the first field as ``label: value``,
    and the other fields on one line (``12 m · year built 1975``); the click panel shows the
    whole record. Missing values are left out. Nothing is escaped: deck.gl writes a ``text``
    tooltip with ``innerText``.
    """
    n = len(frame)
    ident = frame["id"].astype(str) if "id" in frame else pd.Series([""] * n, index=frame.index)
    names = (
        frame["name"].astype("string").fillna("")
        if "name" in frame
        else pd.Series("", index=frame.index, dtype="string")
    )
    labels = {f: label for f, label in _labels(spec).items() if f in frame}
    if spec.transport in ("tiles", "url"):
        return _compact_tooltips(frame, labels, names)
    if "address" in frame:
        names = names.where(names != "", frame["address"].astype("string").fillna(""))
    title = (ident + np.where((ident != "") & (names != ""), " · ", "") + names).str.strip()
    text = pd.Series(spec.title, index=frame.index, dtype="string")
    for field, label in labels.items():
        text = text + (f"\n{label}: " + _shown(frame[field])).fillna("")
    return pd.DataFrame(
        {"tt_title": title.astype(str), "tt_text": text.astype(str)}, index=frame.index
    )


def _compact_tooltips(
    frame: pd.DataFrame, labels: dict[str, str], names: pd.Series
) -> pd.DataFrame:
    """Return the short tooltips of a layer the browser fetches (see :func:`tooltips`)."""
    entries = [_compact(frame[f], label) for f, label in labels.items()]
    named = names != ""
    title = names.copy()
    if labels:
        first, label = next(iter(labels.items()))
        first_shown = (f"{label}: " + _shown(frame[first])).fillna("")
        title = title.where(named, first_shown)
    text = pd.Series("", index=frame.index, dtype="string")
    for i, entry in enumerate(entries):
        # the first field is the title of a feature without a name
        shown = entry.where(named, pd.NA) if i == 0 else entry
        text = text + (shown + " · ").fillna("")
    text = text.str.removesuffix(" · ")
    return pd.DataFrame(
        {"tt_title": title.astype(str), "tt_text": text.astype(str)}, index=frame.index
    )


def read_rows(
    spec: Layer, url: str | None = None, as_of: datetime | None = None
) -> gpd.GeoDataFrame:
    """Return the rows a scene layer draws, with tooltip columns, in EPSG:4326.

    Parameters
    ----------
    spec
        The layer's catalog entry.
    url
        Database URL.
    as_of
        For register layers: the register as it was at this moment.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer's fields (and derived colouring fields), ``tt_title``, ``tt_text`` and
        the geometry; rows without a shape are left out.
    """
    if spec.source == "register":
        frame = list_assets(spec.table, as_of=as_of, url=url)
    elif spec.source == "live":
        with connect(url) as conn:
            frame = sensor_rows(conn)
    else:
        frame = _table_rows(spec, url)
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    frame = _derived(frame.copy())
    if spec.table == "districts" and "geometry_note" in frame:
        tips = district_tooltips(frame)
    else:
        tips = tooltips(frame, spec)
    return gpd.GeoDataFrame(pd.concat([frame, tips], axis=1), geometry="geometry", crs=frame.crs)


def district_tooltips(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return the districts' tooltip as on the first page's map (kind, areas, shape note)."""
    tips = tooltip_fields(frame)
    text = (
        tips["tt_kind"]
        + "\nofficial area: " + tips["tt_official_km2"] + " km²"
        + "\ncomputed area: " + tips["tt_area_km2"] + " km²"
        + "\nshape: " + tips["tt_note"]
    )  # fmt: skip
    return pd.DataFrame({"tt_title": tips["tt_title"], "tt_text": text}, index=frame.index)


def codes(frame: pd.DataFrame, colouring: Colouring) -> np.ndarray[Any, np.dtype[np.int16]]:
    """Return each row's colour code: its index in ``colouring.palette``.

    Categories not listed (and missing values) get the code of ``other``; numbers get their
    bin, missing numbers the code after the ramp (drawn in ``other``).
    """
    column = frame[colouring.field] if colouring.field in frame else pd.Series(index=frame.index)
    if colouring.values:
        lookup = {v: i for i, v in enumerate(colouring.values)}
        found = column.astype("string").map(lookup)
        return np.asarray(found.fillna(len(lookup)), dtype=np.int16)
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(float)
    bins = np.searchsorted(np.asarray(colouring.bins), numbers, side="left")
    return np.asarray(np.where(np.isnan(numbers), len(colouring.ramp), bins), dtype=np.int16)


def colour_expression(colouring: Colouring, key: str) -> str:
    """Return the deck.gl accessor expression that turns a colour code into its colour.

    ``key`` is the property holding the code (``properties.k_use`` in GeoJSON tiles).
    """
    parts = [f"{key} == {i} ? {list(c)} : " for i, c in enumerate(colouring.palette)]
    return "".join(parts) + str(list(colouring.other))


def _vertex_text(
    geoms: np.ndarray[Any, np.dtype[np.object_]], *, bracket: bool, open_rings: bool
) -> tuple[Any, Any]:
    """Return each vertex as text (``x,y`` or ``[x,y]``) and the index of its shape.

    With ``open_rings`` (rings), the closing vertex is left out: deck.gl closes rings itself.
    """
    xy, index = shapely.get_coordinates(geoms, return_index=True)
    if open_rings and len(index):
        open_ring = np.r_[index[1:] == index[:-1], False]
        xy, index = xy[open_ring], index[open_ring]
    xy = np.round(xy, COORD_DECIMALS)
    text = xy[:, 0].astype(str).astype(object) + "," + xy[:, 1].astype(str).astype(object)
    if bracket:
        text = "[" + text + "]"
    return text, index


def _joined(
    geoms: np.ndarray[Any, np.dtype[np.object_]],
    props: pd.DataFrame,
    groups: np.ndarray[Any, Any] | None,
    *,
    geojson: bool,
    lines: bool = False,
) -> list[str]:
    """Return one JSON array of records per group (rows already sorted by group).

    Each record is the row's properties plus its vertices: a flat ``"p": [x, y, …]`` array,
    or a GeoJSON Feature with a Polygon (``geojson``; a LineString with ``lines``). The text
    is built by whole columns: one piece per vertex, joined once.
    """
    vertices, index = _vertex_text(geoms, bracket=geojson, open_rings=geojson and not lines)
    if len(vertices) == 0:
        return ["[]"]
    prop_lines = np.asarray(
        props.to_json(orient="records", lines=True, force_ascii=False).splitlines(), dtype=object
    )
    first = np.r_[True, index[1:] != index[:-1]]
    last = np.r_[index[1:] != index[:-1], True]
    if geojson and lines:
        head = '{"type":"Feature","geometry":{"type":"LineString","coordinates":['
        tails = ']},"properties":' + prop_lines + "}"
        sep = ","
    elif geojson:
        head = '{"type":"Feature","geometry":{"type":"Polygon","coordinates":[['
        tails = ']]},"properties":' + prop_lines + "}"
        sep = ","
    else:
        head = '{"p":['
        tails = "]," + np.char.lstrip(prop_lines.astype(str), "{").astype(object)
        sep = ","
    boundary = np.full(len(geoms), ",", dtype=object)
    if groups is not None and len(groups) > 1:
        boundary[np.r_[groups[1:] != groups[:-1], False]] = _SPLIT
    boundary[-1] = ""
    pieces = (
        np.where(first, head, "") + vertices + np.where(last, tails[index] + boundary[index], sep)
    )
    return ["[" + part + "]" for part in "".join(pieces.tolist()).split(_SPLIT)]


def encode(frame: gpd.GeoDataFrame, columns: list[str]) -> bytes:
    """Return the rows as a JSON array of records with flat coordinates in ``p``.

    Points become ``[x, y]``, lines ``[x, y, x, y, …]`` (draw with ``positionFormat: XY``);
    a multi-part line is split into one record per part.

    Parameters
    ----------
    frame
        Rows with point or line shapes in EPSG:4326.
    columns
        Properties kept (at least one).

    Returns
    -------
    bytes
        UTF-8 JSON.
    """
    parts = frame[[*columns, "geometry"]].explode(index_parts=False)
    geoms = np.asarray(parts.geometry.values)
    (text,) = _joined(geoms, pd.DataFrame(parts[columns]), None, geojson=False)
    return text.encode()


def tile_xy(lon: ArrayLike, lat: ArrayLike, zoom: int) -> tuple[IntArray, IntArray]:
    """Return the Web Mercator (XYZ) tile column and row of positions at ``zoom``."""
    n = 2**zoom
    x = np.floor((np.asarray(lon) + 180.0) / 360.0 * n).astype(np.int64)
    phi = np.radians(np.asarray(lat, dtype=float))
    y = np.floor((1.0 - np.arcsinh(np.tan(phi)) / math.pi) / 2.0 * n).astype(np.int64)
    return x, y


def _line_tiles(
    bounds: np.ndarray[Any, np.dtype[np.float64]], zoom: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Return (row, x, y): every tile at ``zoom`` that the bounds of each row touch."""
    x0, y1 = tile_xy(bounds[:, 0], bounds[:, 1], zoom)
    x1, y0 = tile_xy(bounds[:, 2], bounds[:, 3], zoom)
    rows_of = (y1 - y0 + 1).astype(np.int64)
    count = (x1 - x0 + 1) * rows_of
    row = np.repeat(np.arange(len(bounds)), count)
    step = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    return row, x0[row] + step // rows_of[row], y0[row] + step % rows_of[row]


def _line_parts(
    frame: gpd.GeoDataFrame,
    leave_out: pd.Series | None,
    band_m: np.ndarray[Any, np.dtype[np.float64]] | None,
) -> tuple[gpd.GeoDataFrame, pd.Series | None, Geoms, Geoms | None]:
    """Return the rows of the lines' pieces, the pieces, and their bands (with ``band_m``)."""
    shapes, source = pieces(np.asarray(frame.geometry.values))
    rings = None
    if band_m is not None:
        rings = bands(shapes, np.asarray(band_m, dtype=float)[source], frame.crs)
    if leave_out is not None:
        leave_out = leave_out.iloc[source].reset_index(drop=True)
    return frame.iloc[source].reset_index(drop=True), leave_out, shapes, rings


def encode_tiles(
    frame: gpd.GeoDataFrame,
    columns: list[str],
    zooms: tuple[int, ...] = TILE_ZOOMS,
    leave_out: pd.Series | None = None,
    band_m: np.ndarray[Any, np.dtype[np.float64]] | None = None,
) -> tuple[dict[tuple[int, int, int], bytes], tuple[float, float, float, float]]:
    """Cut polygons or lines into GeoJSON tiles.

    A polygon goes in the tile of its centre. A line goes in every tile its bounds touch, so
    that a street crossing a tile's edge is drawn whichever of the tiles is loaded (twice
    where both are, which an opaque line does not show); lines are first cut into short
    pieces (:func:`twin.scene.ground.pieces`). With ``band_m``, the levels after the overview
    hold each piece as a band of its width, a Polygon (:func:`twin.scene.ground.bands`):
    drawn with the fill shader, not the path shader.

    Parameters
    ----------
    frame
        Rows with polygon shapes (holes are left out: LoD1 footprints) or line shapes, in
        EPSG:4326.
    columns
        Properties of each feature.
    zooms
        Tile levels; the first is the overview, where rows flagged in ``leave_out`` are not.
    leave_out
        Rows (boolean, aligned with ``frame``) left out of the overview level.
    band_m
        Width (m) of each line's band (aligned with ``frame``); lines stay lines at every
        level without it.

    Returns
    -------
    tuple
        Tiles as JSON bytes by ``(z, x, y)``, every tile of the extent (empty ones as
        ``[]``), and the extent (west, south, east, north).
    """
    west, south, east, north = (float(v) for v in frame.total_bounds)
    lines = bool(len(frame)) and bool(frame.geom_type.isin(["LineString", "MultiLineString"]).all())
    rings = None
    if lines:
        frame, leave_out, shapes, rings = _line_parts(frame, leave_out, band_m)
    else:
        shapes = shapely.get_exterior_ring(np.asarray(frame.geometry.values))
        centre = shapely.get_coordinates(shapely.centroid(frame.geometry.values))
    props = pd.DataFrame(frame[columns])
    tiles: dict[tuple[int, int, int], bytes] = {}
    for level, zoom in enumerate(zooms):
        keep = np.ones(len(frame), bool)
        if level == 0 and leave_out is not None and len(zooms) > 1:
            keep = ~leave_out.to_numpy(bool)
        banded = rings is not None and level > 0
        drawn = shapes if rings is None or level == 0 else rings
        if banded:
            keep &= ~shapely.is_empty(drawn)
        if lines:
            row, x, y = _line_tiles(shapely.bounds(drawn[keep]), zoom)
            row = np.flatnonzero(keep)[row]
        else:
            row = np.flatnonzero(keep)
            x, y = tile_xy(centre[keep, 0], centre[keep, 1], zoom)
        x0, y1 = tile_xy(west, south, zoom)
        x1, y0 = tile_xy(east, north, zoom)
        for tx in range(int(x0), int(x1) + 1):
            for ty in range(int(y0), int(y1) + 1):
                tiles[(zoom, tx, ty)] = b"[]"
        if not len(row):  # e.g. a layer left out of the overview
            continue
        order = np.lexsort((y, x))
        key = x[order] * (1 << 31) + y[order]
        texts = _joined(drawn[row[order]], props.iloc[row[order]], key, geojson=True,
                        lines=lines and not banded)  # fmt: skip
        for k, text in zip(np.unique(key), texts, strict=True):
            tiles[(zoom, int(k >> 31), int(k & ((1 << 31) - 1)))] = text.encode()
    return tiles, (west, south, east, north)
