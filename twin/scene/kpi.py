"""The KPI dashboard's maps: a district choropleth and the assets behind a number, offline.

Styles come from the layer catalog (``layers/kpi_choropleth.toml``, ``layers/kpi_assets.toml``).
Tooltips are plain text (``tt_title``/``tt_text``, written by deck.gl with ``innerText``), so
a name from the database stays text. The decks have no basemap provider and no map style:
the context (land, roads) is drawn from the twin's own tables.
"""

from __future__ import annotations

import html

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk
import shapely

from twin.scene.catalog import layer
from twin.scene.context import (
    COORD_DECIMALS,
    feature_collection,
    land_layer,
    road_layer,
    surroundings_layer,
)
from twin.scene.districts import MAP_HEIGHT_PX, TOOLTIP_STYLE, view_state

CHOROPLETH, ASSETS = "kpi_choropleth", "kpi_assets"
TOOLTIP_TEXT = "{tt_title}\n{tt_text}"
#: At most this many assets are drawn inline (the table lists them all).
MAX_DRAWN = 20_000
ASSET_RADIUS_PX = 5


def _colour(value: tuple[int, ...] | None) -> list[int]:
    return list(value or (0, 0, 0, 0))


def ramp(values: pd.Series, direction: str) -> list[list[int]]:
    """Return a fill colour per value: from ``worse`` to ``better`` over the values' range.

    Parameters
    ----------
    values
        One value per district; NaN where there is none (drawn in the ``none`` colour).
    direction
        ``"higher"`` or ``"lower"``: which end of the range is better.

    Returns
    -------
    list of list of int
        RGBA per value.
    """
    spec = layer(CHOROPLETH)
    worse = np.array(_colour(spec.style_of("worse").fill), float)
    better = np.array(_colour(spec.style_of("better").fill), float)
    none = _colour(spec.style_of("none").fill)
    v = values.astype(float).to_numpy()
    finite = np.isfinite(v)
    low, high = (float(v[finite].min()), float(v[finite].max())) if finite.any() else (0.0, 0.0)
    t = np.where(finite, (v - low) / (high - low) if high > low else 1.0, 0.0)
    if direction == "lower":
        t = 1.0 - t
    colours = np.round(worse + np.outer(t, better - worse)).astype(int).tolist()
    return [c if ok else none for c, ok in zip(colours, finite, strict=True)]


def choropleth_layer(
    districts: gpd.GeoDataFrame, values: pd.Series, direction: str, label: str
) -> pdk.Layer:
    """Fill each district by its KPI value; the tooltip names it and gives the value.

    Parameters
    ----------
    districts
        A frame from :func:`twin.districts.district_frame` (``id``, ``name``, geometry).
    values
        Value per district id (NaN where none).
    direction
        ``"higher"`` or ``"lower"`` is better.
    label
        Text after each value in the tooltip (the unit, the numerator and denominator).
    """
    spec = layer(CHOROPLETH)
    v = districts["id"].map(values).astype(float)
    frame = districts.assign(
        fill=ramp(v, direction),
        line=[_colour(spec.style_of("none").line)] * len(districts),
        tt_title=districts["name"].astype(str),
        tt_text=[
            ("no value" if not np.isfinite(x) else f"{x:,.2f}") + f" {label}" for x in v.to_numpy()
        ],
    )
    return pdk.Layer(
        "GeoJsonLayer",
        id=CHOROPLETH,
        data=feature_collection(frame, ["fill", "line", "tt_title", "tt_text"]),
        filled=True,
        stroked=True,
        get_fill_color="properties.fill",
        get_line_color="properties.line",
        get_line_width=spec.style_of("none").line_width_px,
        line_width_units='"pixels"',
        pickable=True,
        auto_highlight=True,
        highlight_color=[255, 255, 255, 90],
    )


def _deck(layers: list[pdk.Layer], bounds: tuple[float, float, float, float]) -> pdk.Deck:
    return pdk.Deck(
        layers=layers,
        initial_view_state=view_state(bounds),
        map_provider=None,
        tooltip={"text": TOOLTIP_TEXT, "style": TOOLTIP_STYLE},
        height=MAP_HEIGHT_PX,
    )


def choropleth_deck(
    districts: gpd.GeoDataFrame,
    municipality: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    values: pd.Series,
    direction: str,
    label: str,
) -> pdk.Deck:
    """Build the district choropleth of one KPI over the land and roads, offline.

    Returns
    -------
    pydeck.Deck
        Without a basemap provider or map style: nothing is fetched from elsewhere.
    """
    bounds = tuple(float(b) for b in municipality.total_bounds)
    return _deck(
        [
            surroundings_layer(municipality),
            land_layer(municipality),
            choropleth_layer(districts, values, direction, label),
            road_layer(roads),
        ],
        (bounds[0], bounds[1], bounds[2], bounds[3]),
    )


def asset_layers(assets: gpd.GeoDataFrame, weight_label: str) -> list[pdk.Layer]:
    """Draw the assets behind a number: points as dots, polygons as shapes, by ``flagged``.

    At most :data:`MAX_DRAWN` assets are drawn (the ones not counted first).
    """
    spec = layer(ASSETS)
    shown = assets.iloc[:MAX_DRAWN]
    flagged = shown["flagged"].to_numpy(bool)
    fill = [_colour(spec.style_of("flagged" if f else "other").fill) for f in flagged]
    names = shown["name"].fillna("").astype(str)
    title = shown["id"].astype(str) + np.where(names != "", " " + names, "")
    text = np.where(flagged, "counted", "not counted") + "; " + weight_label + " "
    text = text + shown["weight"].map("{:,.2f}".format).to_numpy()
    if "walk_m" in shown:
        walk = shown["walk_m"].to_numpy(float)
        text = text + np.where(np.isfinite(walk), [f"; walk {w:,.0f} m" for w in walk], "")
    text = text + np.where(shown["synthetic"].to_numpy(bool), " (synthetic)", "")
    points = shapely.get_type_id(shown.geometry.to_numpy()) == 0
    layers = []
    if points.any():
        xy = shapely.get_coordinates(shown.geometry.to_numpy()[points]).round(COORD_DECIMALS)
        data = pd.DataFrame(
            {"lon": xy[:, 0], "lat": xy[:, 1], "fill": [c for c, p in zip(fill, points,
             strict=True) if p], "tt_title": title[points].to_numpy(),
             "tt_text": text[points]}
        )  # fmt: skip
        layers.append(
            pdk.Layer(
                "ScatterplotLayer",
                id=f"{ASSETS}-points",
                data=data,
                get_position=["lon", "lat"],
                get_radius=ASSET_RADIUS_PX,
                radius_units='"pixels"',
                get_fill_color="fill",
                get_line_color=_colour(spec.style_of("flagged").line),
                stroked=True,
                line_width_min_pixels=spec.style_of("flagged").line_width_px,
                pickable=True,
            )
        )
    if (~points).any():
        shapes = shown[~points].assign(
            fill=[c for c, p in zip(fill, points, strict=True) if not p],
            tt_title=title[~points].to_numpy(),
            tt_text=text[~points],
        )
        layers.append(
            pdk.Layer(
                "GeoJsonLayer",
                id=f"{ASSETS}-shapes",
                data=feature_collection(shapes, ["fill", "tt_title", "tt_text"]),
                filled=True,
                stroked=True,
                get_fill_color="properties.fill",
                get_line_color=_colour(spec.style_of("flagged").line),
                get_line_width=spec.style_of("flagged").line_width_px,
                line_width_units='"pixels"',
                pickable=True,
            )
        )
    return layers


def assets_deck(
    assets: gpd.GeoDataFrame,
    municipality: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    scope: gpd.GeoDataFrame,
    weight_label: str,
) -> pdk.Deck:
    """Build the drill-down map: the scope's outline, the assets coloured by ``flagged``.

    Parameters
    ----------
    assets
        A frame from :func:`twin.kpi.drill.behind` (EPSG:4326).
    municipality, roads
        Context layers.
    scope
        The district (or the municipality) whose assets are shown; its bounds set the view.
    weight_label
        What an asset's weight is (``spaces``, ``ha``, ``inhabitants``) for the tooltip.
    """
    bounds = tuple(float(b) for b in scope.total_bounds)
    outline = pdk.Layer(
        "GeoJsonLayer",
        id="kpi-scope",
        data=feature_collection(scope, []),
        filled=False,
        stroked=True,
        get_line_color=[40, 40, 40, 230],
        get_line_width=2,
        line_width_units='"pixels"',
        pickable=False,
    )
    return _deck(
        [surroundings_layer(municipality), land_layer(municipality), road_layer(roads), outline,
         *asset_layers(assets, weight_label)],
        (bounds[0], bounds[1], bounds[2], bounds[3]),
    )  # fmt: skip


def legend_html(*, choropleth: bool) -> str:
    """Return the legend of the choropleth or of the drill-down, from the layer catalog."""
    spec = layer(CHOROPLETH if choropleth else ASSETS)
    entries = []
    for style in spec.styles.values():
        fill = _colour(style.fill)
        swatch = (
            f"<span style='display:inline-block;width:1.1em;height:0.8em;"
            f"background:rgba({fill[0]},{fill[1]},{fill[2]},{fill[3] / 255:.2f});"
            "margin-right:0.4em;border:1px solid #777'></span>"
        )
        entries.append(f"<div>{swatch}{html.escape(style.legend)}</div>")
    return f"<div style='font-size:0.85rem;line-height:1.6'>{''.join(entries)}</div>"
