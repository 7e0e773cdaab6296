"""What the Map page does around the scene: legend, search, the picked object's panel, export."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg

from twin._errors import TwinError
from twin.db._sql import sql_text
from twin.db.engine import connect
from twin.register.store import Version, get_asset, history
from twin.scene.city import PreparedLayer, Scene
from twin.sensors.latest import latest

#: At most this many hits of each kind (assets, addresses, streets) per search.
SEARCH_LIMIT = 20
#: A category of at most this many features lists their names in the legend.
NAMES_LISTED = 20
#: At most this many features in one GeoJSON export.
EXPORT_LIMIT = 200_000
_SWATCH = (
    '<span style="display:inline-block;width:0.95em;height:0.95em;background:{};'
    'border:1px solid rgba(0,0,0,0.25);margin-right:0.4em;vertical-align:-0.1em"></span>'
)


def _rgba(colour: tuple[int, ...] | list[int]) -> str:
    alpha = colour[3] / 255 if len(colour) > 3 else 1.0  # noqa: PLR2004 - RGBA has 4 parts
    return "rgba({}, {}, {}, {:.2f})".format(*colour[:3], alpha)


def swatch(colour: tuple[int, ...] | list[int]) -> str:
    """Return a legend's colour square (HTML) for an RGB or RGBA colour."""
    return _SWATCH.format(_rgba(colour))


def legend_html(scene: Scene, visible: set[str], colouring: dict[str, str]) -> str:
    """Return the legend of the visible layers as HTML (every text escaped).

    Parameters
    ----------
    scene
        The prepared scene.
    visible
        Ids of the drawn layers.
    colouring
        Chosen colouring per layer id.

    Returns
    -------
    str
        One entry per visible layer (title, number of features) with its colours.
    """
    entries = []
    for layer_id, prepared in scene.layers.items():
        spec = prepared.spec
        if layer_id not in visible or spec.draw == "label":
            continue
        count = f" <small>({len(prepared.frame):,})</small>" if len(prepared.frame) else ""
        chosen = spec.colour_by.get(colouring.get(layer_id, "")) or next(
            iter(spec.colour_by.values()), None
        )
        if chosen is None and spec.styles and spec.category in prepared.frame:
            entries.append(f"<b>{html.escape(spec.title)}</b>{count}" + _categories(prepared))
            continue
        if chosen is None:
            colour = spec.style.fill or spec.style.line or (90, 90, 90, 255)
            entries.append(swatch(colour) + f"<b>{html.escape(spec.title)}</b>{count}")
            continue
        rows = "".join(f"<div>{swatch(c)}{html.escape(label)}</div>" for label, c in chosen.legend)
        entries.append(
            f"<b>{html.escape(spec.title)}</b>{count} <small>by {html.escape(chosen.title)}</small>"
            f"<div style='margin-left:0.6em'>{rows}</div>"
        )
    items = "".join(f"<div style='margin-bottom:0.45em'>{e}</div>" for e in entries)
    return f"<div style='font-size:0.85rem;line-height:1.4'>{items}</div>"


def _categories(prepared: PreparedLayer) -> str:
    """Return the legend rows of a layer styled by category, naming the few features."""
    spec, frame = prepared.spec, prepared.frame
    values = frame[spec.category].astype(str)
    rows = []
    for value, style in spec.styles.items():
        names = frame.loc[values == value, "name"].astype(str) if "name" in frame else []
        listed = ", ".join(names) if 0 < len(names) <= NAMES_LISTED else ""
        rows.append(
            f"<div>{swatch(style.fill or style.line or (90, 90, 90, 255))}"
            f"{int((values == value).sum())} {html.escape(style.legend or value)}"
            + (f"<br/><small>{html.escape(listed)}</small>" if listed else "")
            + "</div>"
        )
    return f"<div style='margin-left:0.6em'>{''.join(rows)}</div>"


def search(text: str, url: str | None = None, limit: int = SEARCH_LIMIT) -> pd.DataFrame:
    """Find assets by id or name, buildings by address, and streets by name.

    Parameters
    ----------
    text
        What the user typed (matched case-insensitively anywhere; ``%`` and ``_`` literal).
    url
        Database URL.
    limit
        At most this many hits of each kind.

    Returns
    -------
    pandas.DataFrame
        ``kind`` (asset, address, street), ``id``, ``label``, ``class``, ``lon``, ``lat``
        (where to fly), ``size_m`` (its extent) and ``shown`` (the hit as a line of text).
    """
    text = text.strip()
    columns = ["kind", "id", "label", "class", "lon", "lat", "size_m"]
    if not text:
        return pd.DataFrame(columns=[*columns, "shown"])
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    with connect(url) as conn:
        rows = conn.execute(
            sql_text("scene_search"), {"pattern": pattern, "text": text, "limit": limit}
        ).fetchall()
    hits = pd.DataFrame(rows, columns=columns)
    ids = hits["id"].astype("string").fillna("")
    extra = np.where((ids != "") & (ids != hits["label"].astype("string")), " (" + ids + ")", "")
    hits["shown"] = hits["kind"].astype(str) + ": " + hits["label"].astype(str) + extra
    return hits


@dataclass
class Picked:
    """Everything the side panel shows about a picked object."""

    layer: str
    id: str
    title: str
    attributes: pd.DataFrame
    register: bool = False
    history: list[Version] = field(default_factory=list)
    readings: pd.DataFrame = field(default_factory=pd.DataFrame)
    missing: str | None = None


def _row_of(prepared: PreparedLayer, object_id: str) -> pd.Series | None:
    frame = prepared.frame
    if "id" not in frame:
        return None
    rows = frame[frame["id"].astype(str) == object_id]
    return None if rows.empty else rows.iloc[0]


def picked_geometry(scene: Scene, layer_id: str, object_id: str) -> tuple[Any, float] | None:
    """Return the picked object's geometry and height (m) from the scene, if it is there."""
    prepared = scene.layers.get(layer_id)
    row = None if prepared is None else _row_of(prepared, object_id)
    if prepared is None or row is None:
        return None
    spec = prepared.spec
    height = float(row.get(spec.height, 0) or 0) if spec.height else 0.0
    return row.geometry, height


def _readings(conn: psycopg.Connection, ids: set[str]) -> pd.DataFrame:
    frame = latest(conn)
    columns = [
        "sensor_id",
        "property",
        "value",
        "unit",
        "phenomenon_time",
        "threshold_state",
        "stale",
    ]
    mine = frame[frame["sensor_id"].astype(str).isin(ids)]
    return pd.DataFrame(mine[[c for c in columns if c in mine]]).reset_index(drop=True)


def describe(scene: Scene, layer_id: str, object_id: str, url: str | None = None) -> Picked:
    """Return what the panel shows about an object picked on the scene.

    Register assets show their stored attributes (or, with an "as of" scene, the values of
    then), their history and the latest readings of the sensors that are (or hang on) them;
    other objects show the fields the scene drew.

    Parameters
    ----------
    scene
        The prepared scene.
    layer_id
        The catalog layer the object was picked on.
    object_id
        Its ``id``.
    url
        Database URL.

    Returns
    -------
    Picked
        Attributes as a ``field``/``value`` table of text.
    """
    prepared = scene.layers.get(layer_id)
    title = object_id
    if prepared is None:
        return Picked(layer_id, object_id, title, pd.DataFrame(), missing="no such layer")
    row = _row_of(prepared, object_id)
    if row is not None:
        title = str(row.get("tt_title") or object_id)
    if prepared.spec.source in {"register", "live"}:
        picked = Picked(layer_id, object_id, title, pd.DataFrame(), register=True)
        try:
            values = get_asset(object_id, url) if scene.as_of is None or row is None else None
            picked.history = history(object_id, url)
        except TwinError as exc:
            picked.missing = str(exc)
            values = None
        shown = (
            values
            if values is not None
            else ({} if row is None else row.drop("geometry").to_dict())
        )
        children = shown.pop("children", []) if isinstance(shown, dict) else []
        picked.attributes = _table(shown)
        with connect(url) as conn:
            sensors = {object_id, *(str(c[1]) for c in children if str(c[0]) == "sensor")}
            picked.readings = _readings(conn, sensors)
        return picked
    shown = {} if row is None else row.drop(["geometry", "tt_title"], errors="ignore").to_dict()
    return Picked(layer_id, object_id, title, _table(shown))


def _table(values: Mapping[Any, Any]) -> pd.DataFrame:
    skip = {"tt_title", "tt_text", "geom", "wkt", "geometry"}
    items = [(str(k), "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v))
             for k, v in values.items() if k not in skip]  # fmt: skip
    return pd.DataFrame(items, columns=["field", "value"])


def export_geojson(
    scene: Scene, visible: set[str], bounds: tuple[float, float, float, float]
) -> tuple[bytes, int]:
    """Return the visible features inside ``bounds`` as one GeoJSON FeatureCollection.

    Parameters
    ----------
    scene
        The prepared scene.
    visible
        Ids of the drawn layers.
    bounds
        West, south, east, north (EPSG:4326): the current view.

    Returns
    -------
    tuple
        The GeoJSON (EPSG:4326, property ``layer`` naming the catalog layer) and the number
        of features (at most :data:`EXPORT_LIMIT`).
    """
    west, south, east, north = bounds
    parts = []
    for layer_id, prepared in scene.layers.items():
        spec = prepared.spec
        if layer_id not in visible or prepared.frame.empty or spec.draw == "label":
            continue
        frame = prepared.frame.cx[west:east, south:north]
        keep = [c for c in dict.fromkeys(["id", "name", *spec.fields]) if c in frame.columns]
        part = gpd.GeoDataFrame(frame[keep].assign(layer=layer_id), geometry=frame.geometry)
        parts.append(part)
    if not parts:
        return b'{"type": "FeatureCollection", "features": []}', 0
    merged = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=4326).iloc[:EXPORT_LIMIT]
    for column in merged.columns:
        if column != "geometry" and merged[column].dtype == object:
            merged[column] = merged[column].astype("string")
    return merged.to_json(drop_id=True, na="drop").encode(), len(merged)
