"""The register page's map: the assets of one class, the selected one, and a grid to move it.

Assets are coloured from their class file (``[display] colour``): points as dots, lines as
paths, polygons as shapes, over the twin's own context (land, district outlines, roads); the
deck has no basemap provider and no map style, so nothing is fetched. Every tooltip is plain
text (``tt_title``/``tt_text``), which deck.gl writes with ``innerText``: a name such as
``<img src=x onerror=…>`` stays text.

Streamlit reports a click on a pickable object, not on the map's coordinates. To place a point
by clicking, the deck lays a pickable grid of small cells around the position being edited
(:func:`move_grid`); the clicked cell's centre is the new position (:func:`picked_cell`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk
import shapely

from twin.register.catalog import AssetClass
from twin.scene.catalog import layer
from twin.scene.context import (
    COORD_DECIMALS,
    feature_collection,
    land_layer,
    road_layer,
    surroundings_layer,
)
from twin.scene.districts import DISTRICTS, MAP_HEIGHT_PX, TOOLTIP_STYLE, view_state

#: Layer ids a click may select: the assets, and the cells of the move grid.
ASSETS, GRID = "register-assets", "register-move-grid"
TOOLTIP_TEXT = "{tt_title}\n{tt_text}"
#: At most this many assets are drawn inline (the spec is sent twice and parsed slowly).
MAP_LIMIT = 2_000
#: Cells per side of the move grid (odd: the middle cell holds the current position).
GRID_CELLS = 21
#: Metres per degree of latitude (mean; the grid needs cells, not survey accuracy).
METRES_PER_DEGREE = 111_320.0
#: Width of the register map on a common screen (the map shares the row with a panel).
MAP_WIDTH_PX = 600
#: Zoom of the view on one selected asset, and the least extent (degrees) it shows.
FOCUS_ZOOM, FOCUS_MARGIN_DEG = 16.5, 0.002
#: Simplification of the context outlines and roads (degrees; 5e-5 is about 4 m).
CONTEXT_TOLERANCE_DEG = 5e-5
#: Decimals of a grid cell's centre (1e-6 degrees is about 0.1 m).
CELL_DECIMALS = 6
_RGBA = list[int]
_FILL_ALPHA = {"Point": 230, "LineString": 235, "Polygon": 150, "MultiPolygon": 150}
_SELECTED = [20, 20, 20, 255]
_PENDING = [37, 99, 235, 255]
_GRID_FILL, _GRID_LINE, _GRID_HIGHLIGHT = [37, 99, 235, 18], [37, 99, 235, 70], [37, 99, 235, 150]


def class_colour(asset_class: AssetClass, alpha: int | None = None) -> _RGBA:
    """Return the class's display colour as RGBA (alpha by geometry type by default)."""
    a = _FILL_ALPHA.get(asset_class.geometry, 200) if alpha is None else alpha
    return [*asset_class.display.colour, a]


def _darker(colour: _RGBA, factor: float = 0.6) -> _RGBA:
    return [*(int(c * factor) for c in colour[:3]), 255]


def tooltip_fields(assets: pd.DataFrame, asset_class: AssetClass) -> pd.DataFrame:
    """Return each asset's tooltip as plain text: ``tt_title`` (id and name), ``tt_text``.

    ``tt_text`` says the class, the lifecycle state and whether the row is synthetic.
    Nothing is escaped here: the tooltip is written as text, never parsed as HTML.
    """
    names = assets["name"].astype("string").fillna("")
    title: pd.Series = assets["id"].astype(str) + np.where(names != "", " · " + names, "")
    synthetic = (
        assets["synthetic"].astype("boolean").fillna(value=False).to_numpy(bool)
        if "synthetic" in assets
        else np.zeros(len(assets), bool)
    )
    text: pd.Series = (
        f"{asset_class.display.icon} {asset_class.title} · "
        + assets["state"].astype("string").fillna("no state").astype(str)
        + np.where(synthetic, " · synthetic", "")
    )
    return pd.DataFrame({"tt_title": title, "tt_text": text}, index=assets.index)


def _parts(assets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One row per single part (Multi* exploded), empty geometries dropped."""
    kept = assets[~assets.geometry.is_empty & assets.geometry.notna()]
    return kept.explode(index_parts=False)


def _rings(polygons: Sequence[shapely.Polygon]) -> list[list[list[list[float]]]]:
    """Return each polygon as its rings (exterior first) of rounded ``[lon, lat]`` pairs."""
    out = []
    for polygon in polygons:
        rings = [polygon.exterior, *polygon.interiors]
        out.append([np.round(np.asarray(r.coords)[:, :2], COORD_DECIMALS).tolist() for r in rings])
    return out


def asset_layer(assets: gpd.GeoDataFrame, asset_class: AssetClass) -> pdk.Layer | None:
    """Draw the assets of one class, pickable as :data:`ASSETS`; ``None`` when there are none.

    Parameters
    ----------
    assets
        Rows of :func:`twin.register.store.list_assets` (EPSG:4326): ``id``, ``name``,
        ``state``, ``synthetic``, ``geometry``. Only the first :data:`MAP_LIMIT` are drawn.
    asset_class
        Their class: geometry type and display colour and radius.

    Returns
    -------
    pydeck.Layer or None
        A ``ScatterplotLayer`` (points, radius in metres with a least size on screen), a
        ``PathLayer`` (lines) or a ``PolygonLayer`` (polygons); each row carries ``id``.
    """
    shown = _parts(assets.iloc[:MAP_LIMIT])
    if shown.empty:
        return None
    tips = tooltip_fields(shown, asset_class)
    fill = class_colour(asset_class)
    common: dict[str, Any] = {"id": ASSETS, "pickable": True, "auto_highlight": True,
                              "highlight_color": [255, 255, 255, 120]}  # fmt: skip
    geoms = shown.geometry.to_numpy()
    kinds = shapely.get_type_id(geoms)
    if (kinds == shapely.GeometryType.POINT).all():
        xy = shapely.get_coordinates(geoms).round(COORD_DECIMALS)
        data = pd.DataFrame({"id": shown["id"].astype(str).to_numpy(), "lon": xy[:, 0],
                             "lat": xy[:, 1], **{c: tips[c].to_numpy() for c in tips}})  # fmt: skip
        return pdk.Layer(
            "ScatterplotLayer", data=data, get_position=["lon", "lat"],
            get_radius=asset_class.display.radius_m, radius_units='"meters"',
            radius_min_pixels=3, radius_max_pixels=14, get_fill_color=fill,
            get_line_color=[255, 255, 255, 230], stroked=True, line_width_min_pixels=0.8,
            **common,
        )  # fmt: skip
    if (kinds == shapely.GeometryType.LINESTRING).all():
        paths = [np.round(np.asarray(g.coords)[:, :2], COORD_DECIMALS).tolist() for g in geoms]
        data = pd.DataFrame({"id": shown["id"].astype(str).to_numpy(), "path": paths,
                             **{c: tips[c].to_numpy() for c in tips}})  # fmt: skip
        return pdk.Layer(
            "PathLayer", data=data, get_path="path", get_color=fill, get_width=3,
            width_units='"meters"', width_min_pixels=2, cap_rounded=True, joint_rounded=True,
            **common,
        )  # fmt: skip
    polygons = [g if isinstance(g, shapely.Polygon) else g.envelope for g in geoms]
    data = pd.DataFrame({"id": shown["id"].astype(str).to_numpy(), "polygon": _rings(polygons),
                         **{c: tips[c].to_numpy() for c in tips}})  # fmt: skip
    return pdk.Layer(
        "PolygonLayer", data=data, get_polygon="polygon", get_fill_color=fill,
        get_line_color=_darker(fill), get_line_width=1, line_width_units='"pixels"',
        stroked=True, filled=True, **common,
    )  # fmt: skip


def selected_layer(geometry: shapely.Geometry) -> pdk.Layer:
    """Outline the selected asset (a ring around a point, a dark outline around a shape)."""
    frame = gpd.GeoDataFrame(geometry=[geometry], crs=4326)
    return pdk.Layer(
        "GeoJsonLayer",
        id="register-selected",
        data=feature_collection(frame, []),
        filled=False,
        stroked=True,
        get_line_color=_SELECTED,
        line_width_min_pixels=3,
        point_type='"circle"',
        get_point_radius=11,
        point_radius_units='"pixels"',
        pickable=False,
    )


def pending_layer(lon: float, lat: float) -> pdk.Layer:
    """Mark the position a point is about to move to with a ring.

    A ring (no fill): while a map selection is active, Streamlit dims the fill of every
    unselected object of every layer, but not a scatterplot's outline.
    """
    data = pd.DataFrame({"lon": [round(lon, CELL_DECIMALS)], "lat": [round(lat, CELL_DECIMALS)]})
    return pdk.Layer(
        "ScatterplotLayer",
        id="register-new-position",
        data=data,
        get_position=["lon", "lat"],
        get_radius=9,
        radius_units='"pixels"',
        filled=False,
        stroked=True,
        get_line_color=_PENDING,
        line_width_min_pixels=3,
        pickable=False,
    )


def move_grid(lon: float, lat: float, cell_m: float, cells: int = GRID_CELLS) -> pd.DataFrame:
    """Return a square grid of cells centred on ``lon``/``lat`` to click a new position on.

    Parameters
    ----------
    lon, lat
        Centre of the grid (EPSG:4326): the middle cell's centre.
    cell_m
        Side of a cell in metres (the precision of a click).
    cells
        Cells per side.

    Returns
    -------
    pandas.DataFrame
        One row per cell: ``polygon`` (its ring) and ``lon``/``lat`` (its centre), plain
        text ``tt_title``/``tt_text`` for the tooltip.
    """
    dlat = cell_m / METRES_PER_DEGREE
    dlon = dlat / math.cos(math.radians(lat))
    steps = np.arange(cells) - cells // 2
    ix, iy = np.meshgrid(steps, steps)
    cx = np.round(lon + ix.ravel() * dlon, CELL_DECIMALS)
    cy = np.round(lat + iy.ravel() * dlat, CELL_DECIMALS)
    hx, hy = dlon / 2, dlat / 2
    rings = [
        [[round(x - hx, CELL_DECIMALS), round(y - hy, CELL_DECIMALS)],
         [round(x + hx, CELL_DECIMALS), round(y - hy, CELL_DECIMALS)],
         [round(x + hx, CELL_DECIMALS), round(y + hy, CELL_DECIMALS)],
         [round(x - hx, CELL_DECIMALS), round(y + hy, CELL_DECIMALS)]]
        for x, y in zip(cx.tolist(), cy.tolist(), strict=True)
    ]  # fmt: skip
    return pd.DataFrame(
        {
            "polygon": rings,
            "lon": cx,
            "lat": cy,
            "tt_title": "move here",
            "tt_text": [f"{x:.6f}, {y:.6f}" for x, y in zip(cx, cy, strict=True)],
        }
    )


def grid_layer(grid: pd.DataFrame) -> pdk.Layer:
    """Draw the move grid: faint cells that light up under the pointer, pickable as GRID."""
    return pdk.Layer(
        "PolygonLayer",
        id=GRID,
        data=grid,
        get_polygon="polygon",
        get_fill_color=_GRID_FILL,
        get_line_color=_GRID_LINE,
        get_line_width=1,
        line_width_units='"pixels"',
        stroked=True,
        filled=True,
        pickable=True,
        auto_highlight=True,
        highlight_color=_GRID_HIGHLIGHT,
    )


def outline_layer(districts: gpd.GeoDataFrame) -> pdk.Layer:
    """Draw the district outlines as light context (styles from ``layers/districts.toml``)."""
    spec = layer(DISTRICTS)
    lines = districts["kind"].map(lambda k: list(spec.style_of(k).line or (0, 0, 0, 0)))
    frame = districts.assign(line=[[*c[:3], 150] for c in lines])
    return pdk.Layer(
        "GeoJsonLayer",
        id="register-districts",
        data=feature_collection(frame, ["line"]),
        filled=False,
        stroked=True,
        get_line_color="properties.line",
        get_line_width=1,
        line_width_units='"pixels"',
        pickable=False,
    )


def _simplified(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the context frame with shapes simplified to :data:`CONTEXT_TOLERANCE_DEG`."""
    return frame.set_geometry(frame.geometry.simplify(CONTEXT_TOLERANCE_DEG))


def focus_view(geometry: shapely.Geometry) -> pdk.ViewState:
    """Return a close view on one asset (at least :data:`FOCUS_MARGIN_DEG` around it)."""
    west, south, east, north = geometry.bounds
    m = FOCUS_MARGIN_DEG
    view = view_state((west - m, south - m, east + m, north + m), width_px=MAP_WIDTH_PX)
    view.zoom = min(float(view.zoom), FOCUS_ZOOM)
    view.min_zoom, view.max_zoom = 9, 20
    return view


def grid_view(grid: pd.DataFrame) -> pdk.ViewState:
    """Return the view that shows the whole move grid (its cells big enough to click)."""
    half_lon = float(grid["lon"].max() - grid["lon"].min()) / (2 * (GRID_CELLS - 1))
    half_lat = float(grid["lat"].max() - grid["lat"].min()) / (2 * (GRID_CELLS - 1))
    bounds = (float(grid["lon"].min()) - half_lon, float(grid["lat"].min()) - half_lat,
              float(grid["lon"].max()) + half_lon, float(grid["lat"].max()) + half_lat)  # fmt: skip
    view = view_state(bounds, width_px=MAP_WIDTH_PX)
    view.min_zoom, view.max_zoom = 9, 22
    return view


def register_deck(
    assets: gpd.GeoDataFrame,
    asset_class: AssetClass,
    context: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame],
    *,
    selected: shapely.Geometry | None = None,
    grid: pd.DataFrame | None = None,
    pending: tuple[float, float] | None = None,
) -> pdk.Deck:
    """Build the register map: context, the class's assets, the selection, the move grid.

    Parameters
    ----------
    assets
        The filtered assets of the class (EPSG:4326); the first :data:`MAP_LIMIT` drawn.
    asset_class
        Their class (colours, geometry type).
    context
        Municipality, districts and roads frames (EPSG:4326).
    selected
        Geometry of the selected asset (EPSG:4326): outlined, and the view centres on it.
    grid
        Cells of :func:`move_grid` to click a new position on; the view then shows the
        whole grid.
    pending
        A new position (lon, lat) to mark.

    Returns
    -------
    pydeck.Deck
        A deck without basemap provider or map style (nothing is fetched), with a plain-text
        tooltip; the assets are pickable as :data:`ASSETS`, the grid's cells as :data:`GRID`.
    """
    municipality, districts, roads = context
    layers = [surroundings_layer(municipality), land_layer(municipality),
              outline_layer(_simplified(districts)), road_layer(_simplified(roads))]  # fmt: skip
    drawn = asset_layer(assets, asset_class)
    if drawn is not None:
        layers.append(drawn)
    if selected is not None and not selected.is_empty:
        layers.append(selected_layer(selected))
    if grid is not None and len(grid):
        layers.append(grid_layer(grid))
    if pending is not None:
        layers.append(pending_layer(*pending))
    if grid is not None and len(grid):
        view = grid_view(grid)
    elif selected is not None and not selected.is_empty:
        view = focus_view(selected)
    else:
        shown = assets.iloc[:MAP_LIMIT]
        extent = shown.total_bounds if len(shown) else municipality.total_bounds
        if not np.isfinite(extent).all():
            extent = municipality.total_bounds
        west, south, east, north = (float(v) for v in extent)
        m = FOCUS_MARGIN_DEG
        view = view_state((west - m, south - m, east + m, north + m), width_px=MAP_WIDTH_PX)
        view.min_zoom, view.max_zoom = 9, 20
    return pdk.Deck(
        layers=layers,
        initial_view_state=view,
        map_provider=None,
        tooltip={"text": TOOLTIP_TEXT, "style": TOOLTIP_STYLE},
        height=MAP_HEIGHT_PX,
    )


def picked_asset(objects: Mapping[str, Sequence[Mapping[str, Any]]] | None) -> str | None:
    """Return the id of the asset a map selection holds (``event.selection.objects``)."""
    chosen = (objects or {}).get(ASSETS) or []
    if not chosen:
        return None
    value = chosen[0].get("id")
    return None if value is None else str(value)


def picked_cell(
    objects: Mapping[str, Sequence[Mapping[str, Any]]] | None,
) -> tuple[float, float] | None:
    """Return the centre (lon, lat) of the grid cell a map selection holds, if any."""
    chosen = (objects or {}).get(GRID) or []
    if not chosen:
        return None
    return float(chosen[0]["lon"]), float(chosen[0]["lat"])
