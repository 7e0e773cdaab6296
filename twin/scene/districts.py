"""The first page's map: the local units of Maribor over the municipality and its roads.

Mestne četrti (official GURS polygons) are drawn solid blue; krajevne skupnosti, whose
polygons the project derives, are drawn in a lighter amber with a dashed outline, and their
tooltip says that the polygon is approximate. The map draws its own context (land and roads)
and never asks for basemap tiles.
"""

from __future__ import annotations

import html
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk

from twin.scene.catalog import layer
from twin.scene.context import (
    MUNICIPALITY,
    ROADS,
    feature_collection,
    land_layer,
    road_layer,
    surroundings_layer,
)

#: Tables the map draws (for its attribution lines).
MAP_TABLES = ("municipality", "districts", "roads")
#: Height of the map on the page, and the width the initial zoom assumes.
MAP_HEIGHT_PX = 600
MAP_WIDTH_PX = 880
#: Share of the map left free around the municipality in the initial view.
VIEW_PADDING = 0.06
_TILE_PX = 512  # deck.gl's MapView: the world is 512 px wide at zoom 0


#: Catalog entries of the map's layers (``layers/*.toml``).
DISTRICTS = "districts"

#: Tooltip of a district, filled from the feature's ``tt_*`` properties.
#: It is plain text on purpose: deck.gl writes a ``text`` tooltip with ``innerText``, so a
#: name like ``<script>`` stays text in every renderer. (An ``html`` tooltip is not safer:
#: Streamlit 1.67 escapes the values it puts into one, so values escaped here would show as
#: ``&#x27;``, while other deck.gl renderers would not escape them at all.)
TOOLTIP_TEXT = (
    "{tt_title}\n"
    "{tt_kind}\n"
    "official area: {tt_official_km2} km²\n"
    "computed area: {tt_area_km2} km²\n"
    "shape: {tt_note}"
)
TOOLTIP_STYLE = {
    "backgroundColor": "rgba(255, 255, 255, 0.96)",
    "color": "#1e1e1e",
    "fontSize": "13px",
    "lineHeight": "1.45",
    "border": "1px solid #999",
    "maxWidth": "340px",
}
APPROXIMATE_FLAG = "approximate polygon"


def _style_column(kinds: pd.Series, attribute: str) -> list[object]:
    """Return one style attribute per row, by kind, from the layer catalog."""
    spec = layer(DISTRICTS)
    return kinds.map({k: getattr(spec.style_of(k), attribute) for k in kinds.unique()}).tolist()


def tooltip_fields(districts: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return the tooltip properties of each district (see :data:`TOOLTIP_TEXT`).

    Parameters
    ----------
    districts
        A frame from :func:`twin.districts.district_frame`.

    Returns
    -------
    pandas.DataFrame
        ``tt_title`` (the name, with "approximate polygon" for derived shapes), ``tt_kind``,
        ``tt_official_km2``, ``tt_area_km2`` (2 decimals) and ``tt_note``, as plain text,
        indexed like ``districts``.
    """
    flag = np.where(districts["approximate"].astype(bool), f" ({APPROXIMATE_FLAG})", "")
    kind = districts["kind_label"].astype(str) + " (" + districts["kind"].astype(str) + ")"
    return pd.DataFrame(
        {
            "tt_title": districts["name"].astype(str) + flag,
            "tt_kind": kind,
            "tt_official_km2": districts["official_area_km2"].map("{:.2f}".format),
            "tt_area_km2": districts["area_km2"].map("{:.2f}".format),
            "tt_note": districts["geometry_note"].fillna("").astype(str),
        },
        index=districts.index,
    )


def district_layer(districts: gpd.GeoDataFrame) -> pdk.Layer:
    """Fill the districts by kind; outline KS polygons dashed; pick them for the tooltip."""
    tooltip = tooltip_fields(districts)
    frame = pd.concat([districts, tooltip], axis=1).assign(
        fill=_style_column(districts["kind"], "fill"),
        line=_style_column(districts["kind"], "line"),
        dash=_style_column(districts["kind"], "dash"),
        width=_style_column(districts["kind"], "line_width_px"),
    )
    properties = [*tooltip.columns, "kind", "fill", "line", "dash", "width"]
    return pdk.Layer(
        "GeoJsonLayer",
        id="districts",
        data=feature_collection(gpd.GeoDataFrame(frame, geometry="geometry"), properties),
        filled=True,
        stroked=True,
        get_fill_color="properties.fill",
        get_line_color="properties.line",
        get_line_width="properties.width",
        line_width_units='"pixels"',
        get_dash_array="properties.dash",
        dash_justified=True,
        extensions=[{"@@type": "PathStyleExtension", "dash": True}],
        pickable=True,
        auto_highlight=True,
        highlight_color=[255, 255, 255, 90],
    )


def label_layer(districts: gpd.GeoDataFrame) -> pdk.Layer:
    """Write each district's name at a point inside its polygon.

    The names are drawn as text on the canvas (never as HTML), so they are not escaped.
    """
    data = pd.DataFrame(
        {
            "name": districts["name"].astype(str),
            "lon": districts["label_lon"].round(6),
            "lat": districts["label_lat"].round(6),
            "color": _style_column(districts["kind"], "text"),
        }
    )
    return pdk.Layer(
        "TextLayer",
        id="district-labels",
        data=data,
        get_position=["lon", "lat"],
        get_text="name",
        get_color="color",
        get_size=14,
        size_units='"pixels"',
        font_family='"Helvetica, Arial, sans-serif"',
        font_weight='"bold"',
        character_set='"auto"',
        font_settings={"sdf": True},
        outline_width=3,
        outline_color=[255, 255, 255, 235],
        get_text_anchor='"middle"',
        get_alignment_baseline='"center"',
        pickable=False,
    )


def view_state(
    bounds: tuple[float, float, float, float],
    width_px: int = MAP_WIDTH_PX,
    height_px: int = MAP_HEIGHT_PX,
) -> pdk.ViewState:
    """Return the view that fits ``bounds`` (west, south, east, north in degrees).

    Parameters
    ----------
    bounds
        Extent to show, in EPSG:4326.
    width_px, height_px
        Size of the map in screen pixels that the zoom is fitted to.

    Returns
    -------
    pydeck.ViewState
        Centre and zoom (Web Mercator) showing all of ``bounds`` with a margin.
    """
    west, south, east, north = bounds

    def mercator_y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    span_x = math.radians(east - west) * (1 + 2 * VIEW_PADDING)
    span_y = (mercator_y(north) - mercator_y(south)) * (1 + 2 * VIEW_PADDING)
    scale = min(width_px / span_x, height_px / span_y)  # pixels per radian
    zoom = math.log2(scale * 2 * math.pi / _TILE_PX)
    centre_y = (mercator_y(north) + mercator_y(south)) / 2
    latitude = math.degrees(2 * math.atan(math.exp(centre_y)) - math.pi / 2)
    return pdk.ViewState(
        longitude=(west + east) / 2,
        latitude=latitude,
        zoom=round(zoom, 2),
        min_zoom=round(zoom, 2) - 2,
        max_zoom=18,
        pitch=0,
        bearing=0,
    )


def district_deck(
    districts: gpd.GeoDataFrame,
    municipality: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
) -> pdk.Deck:
    """Build the overview map: land, districts, roads and district names, offline.

    Parameters
    ----------
    districts
        A frame from :func:`twin.districts.district_frame`.
    municipality
        A frame from :func:`twin.districts.municipality_frame`; its bounds set the view.
    roads
        A frame from :func:`twin.scene.context.road_frame`.

    Returns
    -------
    pydeck.Deck
        A deck without a basemap provider (no tiles are fetched), with a plain-text
        tooltip on the districts.
    """
    west, south, east, north = (float(v) for v in municipality.total_bounds)
    return pdk.Deck(
        layers=[
            surroundings_layer(municipality),
            land_layer(municipality),
            district_layer(districts),
            road_layer(roads),
            label_layer(districts),
        ],
        initial_view_state=view_state((west, south, east, north)),
        map_provider=None,
        tooltip={"text": TOOLTIP_TEXT, "style": TOOLTIP_STYLE},
        height=MAP_HEIGHT_PX,
    )


_NONE = (0, 0, 0, 0)


def _rgba(colour: tuple[int, ...] | list[int]) -> str:
    """Return a CSS colour of an RGB(A) 0-255 colour."""
    alpha = colour[3] / 255 if len(colour) > 3 else 1.0  # noqa: PLR2004 - RGBA has 4 parts
    return "rgba({}, {}, {}, {:.2f})".format(*colour[:3], alpha)


def _swatch(fill: str, border: str) -> str:
    """Return an inline legend swatch."""
    return (
        f'<span style="display:inline-block;width:1.2em;height:0.85em;background:{fill};'
        f'border:{border};margin-right:0.45em;vertical-align:-0.1em"></span>'
    )


def _title(datasets: pd.DataFrame, table: str) -> str:
    """Return the title of the first dataset loaded into ``table`` (else the table name)."""
    titles = datasets.loc[datasets["table_name"] == table, "title"].astype(str)
    return str(titles.iloc[0]) if len(titles) else table


def legend_html(
    districts: gpd.GeoDataFrame,
    municipality: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    datasets: pd.DataFrame,
) -> str:
    """Return the map's legend as HTML, counted and titled from the data.

    Parameters
    ----------
    districts
        A frame from :func:`twin.districts.district_frame`.
    municipality
        A frame from :func:`twin.districts.municipality_frame`.
    roads
        A frame from :func:`twin.scene.context.road_frame`.
    datasets
        A frame from :func:`twin.sources.dataset_frame` (for the layers' titles).

    Returns
    -------
    str
        HTML in which every string from the data is escaped.
    """
    entries = []
    road_style = layer(ROADS).style
    land = layer(MUNICIPALITY).style
    counts = districts["kind"].value_counts()
    for kind, style in layer(DISTRICTS).styles.items():
        names = ", ".join(districts.loc[districts["kind"] == kind, "name"].astype(str))
        line_style = "dashed" if style.dashed else "solid"
        entries.append(
            _swatch(_rgba(style.fill or _NONE), f"2px {line_style} {_rgba(style.line or _NONE)}")
            + f"<b>{int(counts.get(kind, 0))}</b> {html.escape(style.legend)}"
            + f"<br/><small>{html.escape(names)}</small>"
        )
    entries.append(
        _swatch("transparent", f"0; border-top:2px solid {_rgba(road_style.line or _NONE)}")
        + f"<b>{len(roads)}</b> {html.escape(_title(datasets, 'roads'))}, drawn for orientation"
    )
    boundary = municipality.iloc[0]
    entries.append(
        _swatch(_rgba(land.fill or _NONE), f"2px solid {_rgba(land.line or _NONE)}")
        + f"{html.escape(_title(datasets, 'municipality'))}: {html.escape(str(boundary['name']))}, "
        + f"official area {float(boundary['official_area_km2']):.2f} km²"
    )
    items = "".join(f"<div style='margin-bottom:0.7em'>{e}</div>" for e in entries)
    return f"<div style='font-size:0.88rem;line-height:1.45'>{items}</div>"
