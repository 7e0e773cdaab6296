"""The 3D twin: the Map page's scene, built from the layer catalog.

Every catalog layer with a ``group`` is drawn (``layers/*.toml``; adding a layer is adding a
file). :func:`build_scene` reads each layer's rows once per register version and prepares
what the browser gets: small layers travel inside the page, large ones as files under
``static/`` (:mod:`twin.scene.static`) that deck.gl fetches by URL, the buildings as tiles
at two levels of detail. :func:`scene_deck` turns the prepared layers into a deck for the
current choices (visible layers, colouring, camera, 2D/3D, the picked object); it is cheap
and runs on every page run.

The deck is offline: no ``map_style`` and ``map_provider=None``, so no basemap is fetched; the
scene draws its own ground (the land around and inside the municipality, the districts, the
roads and local streets). Tooltips are plain text (deck.gl writes them with ``innerText``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk
import shapely

from twin.scene.catalog import Layer, Style, catalog, layer
from twin.scene.context import MUNICIPALITY, land_layer, per_object, surroundings_layer
from twin.scene.districts import TOOLTIP_STYLE, view_state
from twin.scene.ground import opaque, outlines
from twin.scene.layerdata import (
    TILE_ZOOMS,
    codes,
    colour_expression,
    encode,
    encode_tiles,
    read_rows,
)
from twin.scene.static import publish_file, publish_tiles

#: Height of the map on the page (px), and the width its views are fitted to.
SCENE_HEIGHT_PX = 640
SCENE_WIDTH_PX = 900
#: Layer id of the deck that a click selects in, per catalog layer.
TOOLTIP_TEXT = "{tt_title}\n{tt_text}"
#: Camera of the 3D view (degrees), and the zoom of a view on one place.
PITCH_3D, BEARING_3D = 50.0, -20.0
STREET_ZOOM = 16.8
#: Zoom added to a fitted view when it is tilted.
TILT_ZOOM = 0.2
#: Places smaller than these (m) are shown at street zoom, or a little farther.
SMALL_M, MEDIUM_M = 150.0, 1200.0
#: Inline layers larger than this travel by URL whatever the catalog says (bytes).
INLINE_LIMIT = 300_000
_PICKED = [255, 0, 170, 255]
#: Roads are drawn this many times wider on the scene than on the 2D maps.
ROAD_WIDTH_SCALE = 2.0
#: Kinds of layer drawn flat on the ground (in catalog order, without depth test): a layer
#: after the buildings (``order``) is drawn over them.
FLAT = ("polygon", "line", "point", "label")
#: Ground polygons styled by category (districts) are filled at this share of their
#: catalog alpha: a tint that leaves the buildings the strongest colours of the scene.
GROUND_TINT = 0.5
#: Concurrent tile requests of a tiled layer (deck.gl's ``maxRequests``): none, not throttled.
#: Throttled, deck.gl issues a layer's first tile requests from a timer that waits behind the
#: first frame's work (measured ~0.5 s after the layer files); a view needs a few tiles.
TILE_REQUESTS = 0
#: Sub-layer props of a pickable polygon layer: its outline is not picked itself (a click on
#: it picks the fill under it), so every outline on the ground draws like a road (see
#: :func:`per_object`).
FLAT_OUTLINE = {"stroke": {"pickable": False}}
#: Drawing parameters of a layer on the ground: in catalog order, without depth test.
ON_GROUND = {"depthCompare": "always", "depthWriteEnabled": False}


@dataclass
class PreparedLayer:
    """One catalog layer, read and made ready for the browser."""

    spec: Layer
    frame: gpd.GeoDataFrame
    data: str | list[dict[str, Any]]
    extent: tuple[float, float, float, float] | None = None
    nbytes: int = 0
    #: Outline tiles of a polygon layer (``outline = "tiles"``): URL template and extent.
    outline: str | None = None
    outline_extent: tuple[float, float, float, float] | None = None


@dataclass
class Scene:
    """Every prepared layer of the scene, in drawing order, and what it was read at."""

    layers: dict[str, PreparedLayer] = field(default_factory=dict)
    version: int = 0
    as_of: datetime | None = None

    def bytes_by_url(self) -> int:
        """Return the bytes of the layers fetched by URL (before gzip)."""
        return sum(p.nbytes for p in self.layers.values() if isinstance(p.data, str))


def scene_layers(directory: Path | None = None) -> list[Layer]:
    """Return the catalog layers drawn on the scene, in drawing order."""
    layers = [spec for spec in catalog(directory).values() if spec.group is not None]
    return sorted(layers, key=lambda spec: (spec.order, spec.id))


def _columns(spec: Layer, frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return the properties the browser needs: id, colour codes, height, tooltip, text."""
    out = pd.DataFrame(index=frame.index)
    if "id" in frame and spec.pickable:
        out["id"] = frame["id"].astype(str)
    for name, colouring in spec.colour_by.items():
        out[f"k_{name}"] = codes(frame, colouring)
    if spec.height is not None:
        out["h"] = pd.to_numeric(frame[spec.height], errors="coerce").fillna(1).round().astype(int)
    elif spec.draw == "column" and "height_m" in frame:
        out["h"] = frame["height_m"].round().astype(int)
    if spec.category is not None:
        out["w"] = _by_style(spec, frame, lambda s: s.line_width_px)
        out["c"] = _by_style(spec, frame, lambda s: list(s.line or s.fill or (0, 0, 0, 0)))
        if spec.geometry == "polygon":  # a faint fill: the scene's ground stays light
            fill = _by_style(spec, frame, lambda s: s.fill or (0, 0, 0, 0))
            out["f"] = fill.map(lambda c: [*c[:3], round(c[3] * GROUND_TINT)])
    if spec.label is not None:
        out["t"] = frame[spec.label].astype(str)
    if spec.pickable:
        out["tt_title"] = frame["tt_title"]
        out["tt_text"] = frame["tt_text"]
    if out.columns.empty:
        out["n"] = np.arange(len(frame))
    return out


def _by_style(spec: Layer, frame: pd.DataFrame, value: Callable[[Style], Any]) -> pd.Series:
    """Return ``value(style)`` for each row: one call per category, not per row."""
    if spec.category is None:
        return pd.Series([value(spec.style)] * len(frame), index=frame.index, dtype=object)
    category = frame[spec.category]
    return category.map({v: value(spec.style_of(v)) for v in category.unique()})


def _ground_lines(
    spec: Layer, frame: gpd.GeoDataFrame, directory: Path | None, name: str
) -> tuple[str, tuple[float, float, float, float], int]:
    """Publish lines on the ground as tiles: paths in the overview, bands close in.

    Every feature gets an opaque colour ``c`` (its line colour over the land's paper) and a
    width ``w`` (px, for the overview's paths); with a ``band_m`` in every style the detail
    tiles hold bands of that width (:mod:`twin.scene.ground`).
    """
    paper = layer(MUNICIPALITY).style.fill or (255, 255, 255, 255)
    props = pd.DataFrame(
        {
            "c": _by_style(spec, frame, lambda st: opaque(st.line or (90, 90, 90, 255), paper)),
            "w": _by_style(spec, frame, lambda st: st.line_width_px),
        },
        index=frame.index,
    )
    band_m = _by_style(spec, frame, lambda st: st.band_m).to_numpy(float)  # in every style
    leave_out = None if spec.overview else pd.Series(data=True, index=frame.index)
    drawn = gpd.GeoDataFrame(props, geometry=frame.geometry, crs=frame.crs)
    tiles, extent = encode_tiles(drawn, ["c", "w"], leave_out=leave_out, band_m=band_m)
    nbytes = sum(len(t) for t in tiles.values())
    return publish_tiles(name, tiles, directory), extent, nbytes


def _label_points(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if {"label_lon", "label_lat"} <= set(frame.columns):
        points = gpd.points_from_xy(frame["label_lon"], frame["label_lat"], crs=frame.crs)
    else:
        points = frame.geometry.representative_point()
    return frame.set_geometry(gpd.GeoSeries(points, index=frame.index, crs=frame.crs))


def prepare(spec: Layer, frame: gpd.GeoDataFrame, directory: Path | None = None) -> PreparedLayer:
    """Make one layer ready for the browser: inline records, a file URL or a tile template.

    Parameters
    ----------
    spec
        The catalog entry.
    frame
        Its rows from :func:`twin.scene.layerdata.read_rows`.
    directory
        Static directory the files go to (the app's by default).

    Returns
    -------
    PreparedLayer
        ``data`` is a list of records (inline), or the URL (template) of the file(s).
    """
    if spec.draw == "label":
        frame = _label_points(frame)
    if frame.empty:
        return PreparedLayer(spec, frame, [])
    if spec.transport == "tiles" and spec.geometry == "line":
        url, extent, nbytes = _ground_lines(spec, frame, directory, spec.id)
        return PreparedLayer(spec, frame, url, extent, nbytes)
    props = _columns(spec, frame)
    drawn = gpd.GeoDataFrame(props, geometry=frame.geometry)
    outline: dict[str, Any] = {}
    if spec.outline == "tiles":  # polygons only (the catalog says so)
        url, extent, _ = _ground_lines(spec, outlines(frame), directory, f"{spec.id}-outline")
        outline = {"outline": url, "outline_extent": extent}
    if spec.transport == "tiles":
        leave_out = (
            frame[spec.colour_by["use"].field].isin(["outbuilding"])
            if "use" in spec.colour_by
            else None
        )
        tiles, extent = encode_tiles(drawn, list(props.columns), leave_out=leave_out)
        nbytes = sum(len(t) for t in tiles.values())
        return PreparedLayer(
            spec, frame, publish_tiles(spec.id, tiles, directory), extent, nbytes, **outline
        )
    payload = encode(drawn, list(props.columns))
    if spec.transport == "url" or len(payload) > INLINE_LIMIT:
        return PreparedLayer(
            spec, frame, publish_file(spec.id, payload, directory), None, len(payload), **outline
        )
    return PreparedLayer(spec, frame, json.loads(payload), None, len(payload), **outline)


def build_scene(
    url: str | None = None,
    *,
    as_of: datetime | None = None,
    version: int = 0,
    directory: Path | None = None,
) -> Scene:
    """Read and prepare every layer of the scene (cache the result by register version).

    Parameters
    ----------
    url
        Database URL.
    as_of
        Show the register as it was at this moment (other layers are as they are).
    version
        The register version read (:func:`twin.scene.layerdata.register_version`).
    directory
        Static directory of the layer files (the app's by default).

    Returns
    -------
    Scene
        The prepared layers by id, in drawing order.
    """
    scene = Scene(version=version, as_of=as_of)
    for spec in scene_layers():
        frame = read_rows(spec, url, as_of=as_of if spec.source == "register" else None)
        scene.layers[spec.id] = prepare(spec, frame, directory)
    return scene


def with_live(scene: Scene, url: str | None = None, directory: Path | None = None) -> Scene:
    """Return the scene with its live layers (``source = "live"``) read anew.

    The register's layers change with the register; the sensors' latest readings change all
    the time. The page keeps the first in a cache keyed by the register's version and
    refreshes the second on their own (a few hundred rows, inline).

    Parameters
    ----------
    scene
        A prepared scene (left unchanged).
    url
        Database URL.
    directory
        Static directory of the layer files (the app's by default).

    Returns
    -------
    Scene
        A new scene with the same layers, in the same order, the live ones fresh.
    """
    fresh = Scene(version=scene.version, as_of=scene.as_of)
    for layer_id, prepared in scene.layers.items():
        spec = prepared.spec
        live = spec.source == "live"
        fresh.layers[layer_id] = (
            prepare(spec, read_rows(spec, url), directory) if live else prepared
        )
    return fresh


# --- the deck ---------------------------------------------------------------------------------


Colour = str | list[int]


def _fill(spec: Layer, colouring: str | None, key: str) -> Colour:
    """Return the fill colour (accessor expression or constant) of a layer."""
    chosen = spec.colour_by.get(colouring or "") or next(iter(spec.colour_by.values()), None)
    if chosen is not None:
        name = next(n for n, c in spec.colour_by.items() if c is chosen)
        return colour_expression(chosen, f"{key}k_{name}")
    if spec.category is not None:
        return "c"
    return per_object(spec.style.fill or spec.style.line or spec.style.text or (90, 90, 90, 255))


def _extruded(p: PreparedLayer, colouring: str | None, three_d: bool) -> dict[str, Any]:
    west, south, east, north = p.extent or (0.0, 0.0, 0.0, 0.0)
    return {
        "type": "TileLayer", "min_zoom": TILE_ZOOMS[0], "max_zoom": TILE_ZOOMS[-1],
        "extent": [west, south, east, north], "max_requests": TILE_REQUESTS,
        "refinement_strategy": '"no-overlap"', "filled": True, "stroked": not three_d,
        "extruded": three_d, "wireframe": False, "get_elevation": "properties.h",
        "elevation_scale": p.spec.elevation_scale,
        "get_fill_color": _fill(p.spec, colouring, "properties."),
        "get_line_color": [110, 100, 90, 200], "line_width_min_pixels": 0.5,
        "material": {"ambient": 0.45, "diffuse": 0.6, "shininess": 20},
        "update_triggers": {"get_fill_color": [colouring or ""]},
    }  # fmt: skip


def _polygon(p: PreparedLayer, colouring: str | None, three_d: bool) -> dict[str, Any]:  # noqa: ARG001
    spec, by_category = p.spec, p.spec.category is not None
    return {
        "type": "PolygonLayer", "get_polygon": "p", "position_format": '"XY"',
        "filled": True, "stroked": spec.outline != "tiles",
        "get_fill_color": "f" if by_category else _fill(spec, colouring, ""),
        "get_line_color": "c" if by_category else per_object(spec.style.line or (80, 80, 80, 255)),
        "get_line_width": "w" if by_category else per_object(spec.style.line_width_px),
        "line_width_units": '"pixels"', "_sub_layer_props": FLAT_OUTLINE,
    }  # fmt: skip


def _line(p: PreparedLayer, colouring: str | None, three_d: bool) -> dict[str, Any]:  # noqa: ARG001
    spec = p.spec
    if spec.transport == "tiles":  # only the tiles in view: paths in the overview, bands close in
        return ground_tiles(p.extent, ROAD_WIDTH_SCALE if spec.category is not None else 1.0)
    colour: Colour = per_object(spec.style.line or (90, 90, 90, 255))
    width: dict[str, Any] = {"get_width": per_object(spec.width_m), "width_units": '"meters"',
                             "width_min_pixels": 1}  # fmt: skip
    if spec.colour_by:
        colour = _fill(spec, colouring, "")
    if spec.category is not None:
        colour = "c"
        width = {"get_width": "w", "width_units": '"pixels"', "width_scale": ROAD_WIDTH_SCALE}
    return dict(type="PathLayer", get_path="p", position_format='"XY"', get_color=colour,
                cap_rounded=True, joint_rounded=True, **width)  # fmt: skip


def ground_tiles(
    extent: tuple[float, float, float, float] | None, width_scale: float = 1.0
) -> dict[str, Any]:
    """Return the props of a ``TileLayer`` of lines on the ground (:func:`_ground_lines`).

    Its tiles hold paths (overview) or bands (close in), each with its colour ``c`` and
    width ``w`` (px, times ``width_scale``); the bands' polygons are filled, not outlined.
    """
    west, south, east, north = extent or (0.0, 0.0, 0.0, 0.0)
    return {
        "type": "TileLayer", "min_zoom": TILE_ZOOMS[0], "max_zoom": TILE_ZOOMS[-1],
        "extent": [west, south, east, north], "max_requests": TILE_REQUESTS,
        "refinement_strategy": '"no-overlap"', "filled": True, "stroked": False,
        "get_fill_color": "properties.c", "get_line_color": "properties.c",
        "get_line_width": "properties.w", "line_width_units": '"pixels"',
        "line_width_scale": width_scale, "line_cap_rounded": True, "line_joint_rounded": True,
    }  # fmt: skip


def _point(p: PreparedLayer, colouring: str | None, three_d: bool) -> dict[str, Any]:  # noqa: ARG001
    spec = p.spec
    return {
        "type": "ScatterplotLayer", "get_position": "p", "get_radius": spec.radius_m,
        "radius_units": '"meters"', "radius_min_pixels": 0.5 if spec.transport == "url" else 2,
        "radius_max_pixels": 14, "get_fill_color": _fill(spec, colouring, ""), "stroked": True,
        "get_line_color": list(spec.style.line or (255, 255, 255, 230)),
        "line_width_min_pixels": 0.5,
    }  # fmt: skip


def _column(p: PreparedLayer, colouring: str | None, three_d: bool) -> dict[str, Any]:
    spec = p.spec
    return {
        "type": "ColumnLayer", "get_position": "p", "get_elevation": "h" if three_d else 0,
        "radius": spec.radius_m, "disk_resolution": 10, "extruded": three_d,
        "elevation_scale": spec.elevation_scale, "get_fill_color": _fill(spec, colouring, ""),
    }  # fmt: skip


def _label(p: PreparedLayer, colouring: str | None, three_d: bool) -> dict[str, Any]:  # noqa: ARG001
    return {
        "type": "TextLayer", "get_position": "p", "get_text": "t",
        "get_color": list(p.spec.style.text or (30, 30, 30, 255)), "get_size": 14,
        "size_units": '"pixels"', "font_family": '"Helvetica, Arial, sans-serif"',
        "font_weight": '"bold"', "character_set": '"auto"', "font_settings": {"sdf": True},
        "outline_width": 3, "outline_color": [255, 255, 255, 235], "billboard": True,
    }  # fmt: skip


_DRAW = {"extruded": _extruded, "polygon": _polygon, "line": _line, "point": _point,
         "column": _column, "label": _label}  # fmt: skip


def deck_layer(
    prepared: PreparedLayer, *, colouring: str | None = None, three_d: bool = True
) -> pdk.Layer | None:
    """Return the deck.gl layer of a prepared catalog layer (``None`` if it draws nothing).

    Parameters
    ----------
    prepared
        The layer and its data (inline records or a URL).
    colouring
        Name of the chosen ``colour_by`` entry (the first by default).
    three_d
        Extrude buildings and columns.

    Returns
    -------
    pydeck.Layer or None
        The layer, with the catalog id as its id (what a click reports).
    """
    spec = prepared.spec
    if spec.draw not in _DRAW:
        return None
    props = _DRAW[spec.draw](prepared, colouring, three_d)
    if spec.draw in FLAT or not three_d:  # on the ground in catalog order, over the land
        props["parameters"] = ON_GROUND
    if spec.pickable:
        props.update(auto_highlight=True, highlight_color=[255, 255, 255, 110])
    kind = props.pop("type")
    return pdk.Layer(kind, data=prepared.data, id=spec.id, pickable=spec.pickable, **props)


def outline_layer(prepared: PreparedLayer) -> pdk.Layer:
    """Return the outline tiles of a polygon layer (drawn on the ground, not picked)."""
    props = ground_tiles(prepared.outline_extent)
    kind = props.pop("type")
    return pdk.Layer(kind, data=prepared.outline, id=f"{prepared.spec.id}-outline",
                     pickable=False, parameters=ON_GROUND, **props)  # fmt: skip


def picked_layer(geometry: shapely.Geometry, height_m: float, *, three_d: bool) -> pdk.Layer:
    """Mark the picked object: its footprint (raised a little above a building) or a ring."""
    if isinstance(geometry, shapely.Polygon | shapely.MultiPolygon):
        ring = shapely.get_coordinates(shapely.get_exterior_ring(shapely.get_parts(geometry)[0]))
        data = [{"p": np.round(ring, 6).tolist(), "h": height_m + 1}]
        return pdk.Layer(
            "PolygonLayer", id="picked", data=data, get_polygon="p", extruded=three_d,
            get_elevation="h", filled=True, stroked=True, get_fill_color=[*_PICKED[:3], 150],
            get_line_color=_PICKED, line_width_min_pixels=3, pickable=False,
        )  # fmt: skip
    point = shapely.get_coordinates(geometry.representative_point())[0]
    return pdk.Layer(
        "ScatterplotLayer", id="picked", data=[{"p": np.round(point, 6).tolist()}],
        get_position="p", get_radius=14, radius_units='"pixels"', filled=False,
        stroked=True, get_line_color=_PICKED, line_width_min_pixels=3, pickable=False,
    )  # fmt: skip


def scene_deck(
    scene: Scene,
    municipality: gpd.GeoDataFrame,
    view: pdk.ViewState,
    *,
    visible: set[str],
    colouring: dict[str, str] | None = None,
    three_d: bool = True,
    picked: tuple[shapely.Geometry, float] | None = None,
    overlays: Sequence[tuple[int, pdk.Layer]] = (),
) -> pdk.Deck:
    """Build the deck of the scene for the current choices.

    Parameters
    ----------
    scene
        The prepared layers (:func:`build_scene`).
    municipality
        The municipality (its land and the tinted surroundings are always drawn).
    view
        The camera.
    visible
        Ids of the layers to draw.
    colouring
        Chosen colouring per layer id (the first of the layer's ``colour_by`` otherwise).
    three_d
        Extrude buildings and columns and tilt the camera; flat plan otherwise.
    picked
        The picked object's geometry (EPSG:4326) and height, to mark.
    overlays
        Further layers with the catalog ``order`` they are drawn at (before the catalog
        layers of a higher order), e.g. :mod:`twin.scene.overlays`.

    Returns
    -------
    pydeck.Deck
        An offline deck (no basemap provider, no map style) with a plain-text tooltip.
    """
    colouring = colouring or {}
    land = scene.layers.get(MUNICIPALITY)
    stroked = land is None or land.outline is None
    layers = [surroundings_layer(municipality), land_layer(municipality, stroked=stroked)]
    waiting = sorted(overlays, key=lambda placed: placed[0])
    for layer_id, prepared in scene.layers.items():
        while waiting and waiting[0][0] < prepared.spec.order:
            layers.append(waiting.pop(0)[1])
        if layer_id not in visible:
            continue
        # the municipality's land is drawn first, under everything (always); its outline here
        if layer_id != MUNICIPALITY:
            drawn = deck_layer(prepared, colouring=colouring.get(layer_id), three_d=three_d)
            if drawn is not None:
                layers.append(drawn)
        if prepared.outline is not None:
            layers.append(outline_layer(prepared))
    layers += [drawn for _, drawn in waiting]
    if picked is not None:
        layers.append(picked_layer(picked[0], picked[1], three_d=three_d))
    return pdk.Deck(
        layers=layers,
        initial_view_state=view,
        map_provider=None,
        tooltip={"text": TOOLTIP_TEXT, "style": TOOLTIP_STYLE},
        height=SCENE_HEIGHT_PX,
    )


# --- cameras ----------------------------------------------------------------------------------


def camera(bounds: tuple[float, float, float, float], *, three_d: bool,
           max_zoom: float | None = None) -> pdk.ViewState:  # fmt: skip
    """Return the view that fits ``bounds``, tilted in 3D."""
    view = view_state(bounds, width_px=SCENE_WIDTH_PX, height_px=SCENE_HEIGHT_PX)
    if three_d:  # a tilted view shows the far half smaller: come a little closer
        view.zoom = round(float(view.zoom) + TILT_ZOOM, 2)
    if max_zoom is not None:
        view.zoom = min(float(view.zoom), max_zoom)
    view.min_zoom, view.max_zoom = 9, 20
    view.pitch, view.bearing = (PITCH_3D, BEARING_3D) if three_d else (0, 0)
    return view


def place_camera(
    lon: float, lat: float, *, three_d: bool, zoom: float = STREET_ZOOM
) -> pdk.ViewState:
    """Return a close view centred on one place."""
    pitch, bearing = (PITCH_3D, BEARING_3D) if three_d else (0, 0)
    return pdk.ViewState(longitude=round(lon, 6), latitude=round(lat, 6), zoom=zoom,
                         min_zoom=9, max_zoom=20, pitch=pitch, bearing=bearing)  # fmt: skip


def hit_camera(
    lon: float, lat: float, size_m: float, *, three_d: bool
) -> tuple[pdk.ViewState, tuple[float, float, float, float]]:
    """Return a view on a place of ``size_m`` metres (closer for smaller), and its bounds."""
    zoom = STREET_ZOOM if size_m < SMALL_M else STREET_ZOOM - 1.3 if size_m < MEDIUM_M else 14.0
    half = 0.0035 * 2 ** (STREET_ZOOM - zoom)  # degrees of longitude on each side, about
    bounds = (lon - half, lat - half * 0.7, lon + half, lat + half * 0.7)
    return place_camera(lon, lat, three_d=three_d, zoom=zoom), bounds


def presets(
    districts: gpd.GeoDataFrame, municipality: gpd.GeoDataFrame
) -> dict[str, tuple[float, float, float, float]]:
    """Return the camera presets by name: the whole city, the centre, each district."""
    out = {"Whole city": tuple(float(v) for v in municipality.total_bounds)}
    ordered = districts.sort_values(["kind", "name"])
    centre = ordered[
        ordered["name"].astype(str).str.casefold().isin(["center", "centre", "center mč"])
    ]
    if len(centre):
        west, south, east, north = (float(v) for v in centre.total_bounds)
        cx, cy = (west + east) / 2, (south + north) / 2
        out["Centre (street level)"] = (cx - 0.004, cy - 0.0025, cx + 0.004, cy + 0.0025)
    for name, geom in zip(ordered["name"].astype(str), ordered.geometry, strict=True):
        out[f"District: {name}"] = tuple(float(v) for v in geom.bounds)
    return out  # type: ignore[return-value]
