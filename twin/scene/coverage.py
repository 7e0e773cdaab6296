"""The coverage page's map: gap cells, sites, suggestions and a what-if site, offline.

Styles come from the layer catalog (``layers/coverage_*.toml``). Every tooltip is plain
text (``tt_title``/``tt_text``), which deck.gl writes with ``innerText``: a name from the
database stays text. The deck has no basemap provider and no map style, so nothing is
fetched; the context (land, roads, district outlines) is drawn from the twin's tables.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk

from twin.coverage.model import to_lonlat
from twin.coverage.report import Coverage
from twin.coverage.suggest import Suggestion
from twin.coverage.whatif import WhatIf
from twin.scene.catalog import layer
from twin.scene.context import (
    COORD_DECIMALS,
    feature_collection,
    land_layer,
    road_layer,
    surroundings_layer,
)
from twin.scene.districts import DISTRICTS, MAP_HEIGHT_PX, TOOLTIP_STYLE, view_state

GAPS, SITES, SUGGESTIONS, WHATIF = (
    "coverage_gaps", "coverage_sites", "coverage_suggestions", "coverage_whatif"
)  # fmt: skip
TOOLTIP_TEXT = "{tt_title}\n{tt_text}"
#: Smallest share of the gap colour's alpha (a cell with one uncovered person).
MIN_ALPHA_SHARE = 0.25
#: Marker radii on screen (pixels).
SITE_RADIUS_PX, SUGGESTION_RADIUS_PX, WHATIF_RADIUS_PX = 4, 9, 8


def _colour(value: tuple[int, int, int, int] | None) -> list[int]:
    return list(value or (0, 0, 0, 0))


def gap_layer(gaps: gpd.GeoDataFrame, *, what_if: bool = True) -> pdk.Layer:
    """Fill the gap cells, more opaque where more people are uncovered; pick for the what-if.

    Each feature carries ``site_lon``/``site_lat`` (the cell's centre) for placing a site;
    without ``what_if`` the tooltip does not invite a click (the Map page's scene).
    """
    style = layer(GAPS).style
    fill = _colour(style.fill)
    uncovered = gaps["uncovered_population"].to_numpy(dtype=float)
    top = float(uncovered.max(initial=1.0)) or 1.0
    alpha = np.round(fill[3] * (MIN_ALPHA_SHARE + (1 - MIN_ALPHA_SHARE) * uncovered / top))
    frame = gaps.assign(
        fill=[[*fill[:3], int(a)] for a in alpha],
        site_lon=gaps["centre_lon"].round(COORD_DECIMALS),
        site_lat=gaps["centre_lat"].round(COORD_DECIMALS),
        tt_title="H3 " + gaps["h3"].astype(str),
        tt_text=(
            gaps["uncovered_population"].map("{:,}".format)
            + " of "
            + gaps["population"].map("{:,}".format)
            + " people uncovered"
            + ("; click to place a what-if site here" if what_if else "")
        ),
    )
    properties = ["fill", "site_lon", "site_lat", "tt_title", "tt_text", "h3"]
    return pdk.Layer(
        "GeoJsonLayer",
        id=GAPS,
        data=feature_collection(frame, properties),
        filled=True,
        stroked=True,
        get_fill_color="properties.fill",
        get_line_color=_colour(style.line),
        get_line_width=style.line_width_px,
        line_width_units='"pixels"',
        pickable=True,
        auto_highlight=True,
        highlight_color=[255, 255, 255, 110],
    )


def outline_layer(districts: gpd.GeoDataFrame) -> pdk.Layer:
    """Draw the district outlines only (the gaps are the fill)."""
    spec = layer(DISTRICTS)
    frame = districts.assign(
        line=districts["kind"].map(lambda k: _colour(spec.style_of(k).line)).tolist()
    )
    return pdk.Layer(
        "GeoJsonLayer",
        id="district-outlines",
        data=feature_collection(frame, ["line"]),
        filled=False,
        stroked=True,
        get_line_color="properties.line",
        get_line_width=1.2,
        line_width_units='"pixels"',
        pickable=False,
    )


def site_frame(coverage: Coverage) -> pd.DataFrame:
    """Return the modelled sites of a coverage (one row per site) in EPSG:4326.

    Returns
    -------
    pandas.DataFrame
        ``site_id``, ``operator``, ``bands`` (codes), ``range_m`` (longest band), ``lon``,
        ``lat``.
    """
    em = coverage.emitters
    if em.empty:
        return pd.DataFrame(columns=["site_id", "operator", "bands", "range_m", "lon", "lat"])
    sites = (
        em.groupby("site_id", sort=True)
        .agg(operator=("operator", "first"), bands=("band", ", ".join),
             range_m=("range_m", "max"), x=("x", "first"), y=("y", "first"))
        .reset_index()
    )  # fmt: skip
    lon, lat = to_lonlat(sites["x"].to_numpy(), sites["y"].to_numpy())
    return sites.drop(columns=["x", "y"]).assign(
        lon=np.round(lon, COORD_DECIMALS), lat=np.round(lat, COORD_DECIMALS)
    )


def site_layer(sites: pd.DataFrame) -> pdk.Layer:
    """Draw the modelled sites as small dots, with operator and bands in the tooltip."""
    style = layer(SITES).style
    data = pd.DataFrame(
        {"lon": sites["lon"], "lat": sites["lat"],
         "tt_title": sites["site_id"].astype(str) + " (" + sites["operator"].astype(str) + ")",
         "tt_text": "bands " + sites["bands"].astype(str) + "; range up to "
         + sites["range_m"].map("{:,.0f}".format) + " m"}
    )  # fmt: skip
    return pdk.Layer(
        "ScatterplotLayer",
        id=SITES,
        data=data,
        get_position=["lon", "lat"],
        get_radius=SITE_RADIUS_PX,
        radius_units='"pixels"',
        get_fill_color=_colour(style.fill),
        get_line_color=_colour(style.line),
        stroked=True,
        line_width_min_pixels=style.line_width_px,
        pickable=True,
    )


def suggestion_layers(suggestions: Sequence[Suggestion]) -> list[pdk.Layer]:
    """Draw the suggestions as numbered markers (rank), gains in the tooltip."""
    style = layer(SUGGESTIONS).style
    data = pd.DataFrame(
        {"lon": [s.lon for s in suggestions], "lat": [s.lat for s in suggestions],
         "rank": [str(s.rank) for s in suggestions],
         "tt_title": [f"suggestion {s.rank}: {s.candidate_id} ({s.kind})" for s in suggestions],
         "tt_text": [f"+{s.marginal_gain:,} people; {100 * s.cumulative_share:.2f} % covered "
                     f"with the ones before; {s.band} at {s.height_m:.0f} m"
                     for s in suggestions]}
    )  # fmt: skip
    return [
        pdk.Layer(
            "ScatterplotLayer",
            id=SUGGESTIONS,
            data=data,
            get_position=["lon", "lat"],
            get_radius=SUGGESTION_RADIUS_PX,
            radius_units='"pixels"',
            get_fill_color=_colour(style.fill),
            get_line_color=_colour(style.line),
            stroked=True,
            line_width_min_pixels=style.line_width_px,
            pickable=True,
        ),
        pdk.Layer(
            "TextLayer",
            id="coverage-suggestion-ranks",
            data=data,
            get_position=["lon", "lat"],
            get_text="rank",
            get_color=_colour(style.text),
            get_size=11,
            size_units='"pixels"',
            get_text_anchor='"middle"',
            get_alignment_baseline='"center"',
            pickable=False,
        ),
    ]


def whatif_layers(result: WhatIf) -> list[pdk.Layer]:
    """Draw the what-if site and a circle of its longest band's range (metres)."""
    style = layer(WHATIF).style
    reach = max((e["range_m"] for e in result.emitters), default=0.0)
    data = pd.DataFrame(
        {"lon": [result.site["lon"]], "lat": [result.site["lat"]], "range_m": [reach],
         "tt_title": ["what-if site"],
         "tt_text": [f"newly covers {result.city.new_covered:,} people; range {reach:,.0f} m"]}
    )  # fmt: skip
    common = {"data": data, "get_position": ["lon", "lat"], "pickable": True, "stroked": True}
    return [
        pdk.Layer("ScatterplotLayer", id="coverage-whatif-range", get_radius="range_m",
                  radius_units='"meters"', get_fill_color=_colour(style.fill),
                  get_line_color=_colour(style.line), line_width_min_pixels=style.line_width_px,
                  **common),
        pdk.Layer("ScatterplotLayer", id=WHATIF, get_radius=WHATIF_RADIUS_PX,
                  radius_units='"pixels"', get_fill_color=_colour(style.line),
                  get_line_color=[255, 255, 255, 255], line_width_min_pixels=2, **common),
    ]  # fmt: skip


def coverage_deck(
    districts: gpd.GeoDataFrame,
    municipality: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    gaps: gpd.GeoDataFrame,
    sites: pd.DataFrame,
    suggestions: Sequence[Suggestion] = (),
    whatif: WhatIf | None = None,
) -> pdk.Deck:
    """Build the coverage map: land, gaps, districts, roads, sites, suggestions, what-if.

    Parameters
    ----------
    districts, municipality, roads
        Context frames (EPSG:4326) as the overview map reads them.
    gaps
        The gap cells (:func:`twin.coverage.gaps.gap_frame`).
    sites
        The modelled sites (:func:`site_frame`).
    suggestions
        Ranked suggestions to draw.
    whatif
        A what-if result whose site to draw.

    Returns
    -------
    pydeck.Deck
        A deck without basemap provider or map style (nothing is fetched), with a
        plain-text tooltip.
    """
    extra = whatif_layers(whatif) if whatif else []
    layers = [surroundings_layer(municipality), land_layer(municipality), gap_layer(gaps),
              outline_layer(districts), road_layer(roads), site_layer(sites),
              *suggestion_layers(suggestions), *extra]  # fmt: skip
    west, south, east, north = (float(v) for v in municipality.total_bounds)
    return pdk.Deck(
        layers=layers,
        initial_view_state=view_state((west, south, east, north)),
        map_provider=None,
        tooltip={"text": TOOLTIP_TEXT, "style": TOOLTIP_STYLE},
        height=MAP_HEIGHT_PX,
    )


def coverage_legend_html() -> str:
    """Return the legend of the coverage map (titles and legends from the catalog, escaped)."""
    entries = []
    for layer_id in (GAPS, SITES, SUGGESTIONS, WHATIF):
        style = layer(layer_id).style
        fill, line = _colour(style.fill), _colour(style.line)
        swatch = (
            f"<span style='display:inline-block;width:1em;height:1em;margin-right:0.4em;"
            f"vertical-align:-0.15em;background:rgba({fill[0]},{fill[1]},{fill[2]},"
            f"{fill[3] / 255:.2f});border:2px solid rgba({line[0]},{line[1]},{line[2]},"
            f"{line[3] / 255:.2f})'></span>"
        )
        entries.append(f"<div>{swatch}{html.escape(style.legend)}</div>")
    return "<div style='font-size:0.88rem;line-height:1.6'>" + "".join(entries) + "</div>"
