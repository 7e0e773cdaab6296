"""The Sensors page's map: every sensor coloured by its latest values against thresholds.

The sensors are dots over the twin's own context (land, roads) with a plain-text tooltip
(``tt_title``/``tt_text``, written by deck.gl with ``innerText``, so a name such as
``<img src=x onerror=…>`` stays text); synthetic sensors get a dark ring. Colours and legend
texts come from ``layers/sensors_live.toml``. The deck has no basemap provider and no map
style: nothing is fetched.
"""

from __future__ import annotations

import html
import json

import geopandas as gpd
import pandas as pd
import pydeck as pdk

from twin.scene.catalog import layer
from twin.scene.context import (
    COORD_DECIMALS,
    ROADS,
    land_layer,
    line_paths,
    surroundings_layer,
)
from twin.scene.districts import MAP_HEIGHT_PX, TOOLTIP_STYLE, view_state
from twin.sensors.live import STATES

LAYER = "sensors_live"
#: The sensors layer's id (a click on the map selects from it).
SENSORS = "sensors"
TOOLTIP_TEXT = "{tt_title}\n{tt_text}"
#: Radius of a sensor's dot on screen.
RADIUS_PX = 4
SYNTHETIC = "synthetic"
#: Simplification of the context roads (degrees; 5e-5 is about 4 m).
ROAD_TOLERANCE_DEG = 5e-5


def sensor_layer(sensor_frame: pd.DataFrame) -> pdk.Layer:
    """Draw each sensor of :func:`twin.sensors.live.sensors` as a dot in its state's colour."""
    spec = layer(LAYER)
    fills = {state: list(spec.style_of(state).fill or (0, 0, 0, 0)) for state in STATES}
    ring = spec.style_of(SYNTHETIC)
    plain = spec.style
    synthetic = sensor_frame["synthetic"].astype(bool)
    data = pd.DataFrame(
        {
            "sensor_id": sensor_frame["sensor_id"].astype(str),
            "lon": sensor_frame["lon"].astype(float).round(COORD_DECIMALS),
            "lat": sensor_frame["lat"].astype(float).round(COORD_DECIMALS),
            "fill": sensor_frame["state"].map(fills),
            "line": synthetic.map({True: list(ring.line or (0, 0, 0, 255)),
                                   False: list(plain.line or (0, 0, 0, 0))}),
            "line_width": synthetic.map({True: ring.line_width_px, False: plain.line_width_px}),
            "tt_title": sensor_frame["tt_title"].astype(str),
            "tt_text": sensor_frame["tt_text"].astype(str),
        }
    )  # fmt: skip
    return pdk.Layer(
        "ScatterplotLayer",
        id=SENSORS,
        data=data,
        get_position=["lon", "lat"],
        get_radius=RADIUS_PX,
        radius_units='"pixels"',
        get_fill_color="fill",
        get_line_color="line",
        get_line_width="line_width",
        line_width_units='"pixels"',
        stroked=True,
        pickable=True,
        auto_highlight=True,
        highlight_color=[255, 255, 255, 120],
    )


class CompactDeck(pdk.Deck):  # type: ignore[misc]
    """A deck whose JSON has no indentation.

    pydeck writes its spec indented, which makes the spec several times larger; the Sensors
    page sends it again at every refresh, and the browser parses it with a slow JSON5
    parser (see DESIGN.md, Known pitfalls). Streamlit reads the spec through ``to_json``.
    """

    def to_json(self) -> str:
        """Return the spec as compact JSON."""
        spec: str = super().to_json()
        return json.dumps(json.loads(spec), separators=(",", ":"), ensure_ascii=False)


def road_layers(roads: gpd.GeoDataFrame) -> list[pdk.Layer]:
    """Draw the roads simplified, one layer per road class styled by the catalog.

    A colour and width per layer, not per road, and lines simplified to
    :data:`ROAD_TOLERANCE_DEG`, keep the context small enough to resend at every refresh.
    """
    spec = layer(ROADS)
    classes = roads[spec.category or "highway"].astype(str)
    simple = roads.geometry.simplify(ROAD_TOLERANCE_DEG)
    layers = []
    for value in sorted(classes.unique()):
        style = spec.style_of(value)
        layers.append(
            pdk.Layer(
                "PathLayer",
                id=f"roads-{value}",
                data=[{"path": path} for path in line_paths(simple[classes == value])],
                get_path="path",
                get_width=style.line_width_px,
                width_units='"pixels"',
                get_color=list(style.line or (0, 0, 0, 0)),
                cap_rounded=True,
                joint_rounded=True,
                pickable=False,
            )
        )
    return layers


def context_layers(municipality: gpd.GeoDataFrame, roads: gpd.GeoDataFrame) -> list[pdk.Layer]:
    """Return the map's context: the land around, the municipality, the roads (built once)."""
    return [surroundings_layer(municipality), land_layer(municipality), *road_layers(roads)]


def sensor_deck(
    sensor_frame: pd.DataFrame,
    municipality: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    context: list[pdk.Layer] | None = None,
) -> pdk.Deck:
    """Build the sensor map over the land and roads, fitted to the municipality, offline.

    Parameters
    ----------
    sensor_frame
        One row per sensor (:func:`twin.sensors.live.sensors`).
    municipality
        A frame from :func:`twin.districts.municipality_frame`; its bounds set the view.
    roads
        A frame from :func:`twin.scene.context.road_frame`.
    context
        The layers of :func:`context_layers`, when the caller keeps them between refreshes.

    Returns
    -------
    pydeck.Deck
        A deck without a basemap provider, with a plain-text tooltip on the sensors.
    """
    west, south, east, north = (float(v) for v in municipality.total_bounds)
    return CompactDeck(
        layers=[*(context or context_layers(municipality, roads)), sensor_layer(sensor_frame)],
        initial_view_state=view_state((west, south, east, north)),
        map_provider=None,
        tooltip={"text": TOOLTIP_TEXT, "style": TOOLTIP_STYLE},
        height=MAP_HEIGHT_PX,
    )


def _swatch(fill: tuple[int, ...] | None, line: tuple[int, ...] | None, width: float) -> str:
    r, g, b, a = fill or (0, 0, 0, 0)
    lr, lg, lb, _ = line or (0, 0, 0, 0)
    return (
        f'<span style="display:inline-block;width:0.9em;height:0.9em;border-radius:50%;'
        f"background:rgba({r},{g},{b},{a / 255:.2f});border:{width:.1f}px solid "
        f'rgb({lr},{lg},{lb});margin-right:0.45em;vertical-align:-0.1em"></span>'
    )


def legend_html(counts: dict[str, int]) -> str:
    """Return the map's legend as HTML: one entry per state with its count of sensors.

    Parameters
    ----------
    counts
        Sensors per state (:func:`twin.sensors.live.state_counts`).

    Returns
    -------
    str
        HTML whose texts (from the layer catalog) are escaped.
    """
    spec = layer(LAYER)
    entries = []
    for state in STATES:
        style = spec.style_of(state)
        entries.append(
            _swatch(style.fill, spec.style.line, spec.style.line_width_px)
            + f"<b>{counts.get(state, 0):,}</b> {html.escape(style.legend)}"
        )
    ring = spec.style_of(SYNTHETIC)
    entries.append(_swatch(None, ring.line, ring.line_width_px * 2) + html.escape(ring.legend))
    return "<div style='line-height:1.9'>" + "<br/>".join(entries) + "</div>"
