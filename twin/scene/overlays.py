"""Results of other parts of the twin drawn on the Map page's scene: a KPI, coverage gaps.

The values come from the KPI engine (:func:`twin.kpi.compute`) and the coverage model
(:func:`twin.coverage.gaps.gaps`); the layers are the KPI page's district choropleth
(:func:`twin.scene.kpi.choropleth_layer`) and the coverage page's gap cells
(:func:`twin.scene.coverage.gap_layer`), laid flat on the scene's ground between the
catalog layers (``order``, as in ``layers/*.toml``). The page computes the values once per
register version; this module only turns them into layers and legends. The features travel
as files under ``static/`` (:func:`twin.scene.static.publish_file`, once per content) that
deck.gl fetches: the map is sent again at every live refresh, and a few hundred kilobytes of
inline GeoJSON would travel and be parsed with it. Tooltips are plain text
(``tt_title``/``tt_text``, written by deck.gl with ``innerText``); legends are escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk

from twin.kpi import Kpi, Result
from twin.scene.catalog import layer
from twin.scene.coverage import GAPS, gap_layer
from twin.scene.explore import swatch
from twin.scene.kpi import CHOROPLETH, choropleth_layer
from twin.scene.static import publish_file

#: Where the overlays go among the catalog layers: over the district tint (5), under the
#: roads (10) and everything after them.
KPI_ORDER, COVERAGE_ORDER = 7, 8
#: The districts are simplified for the choropleth (degrees; 3e-5 is about 3 m): the
#: official outlines are more detailed than a fill needs.
SIMPLIFY_DEG = 3e-5
#: Metres per degree of latitude (mean; enough to size a camera).
METRES_PER_DEGREE = 111_320.0
#: Drawn on the ground in drawing order, like the catalog's flat layers.
FLAT_PARAMETERS = {"depthCompare": "always", "depthWriteEnabled": False}


@dataclass(frozen=True)
class Overlay:
    """A layer drawn over the scene's ground, with its legend entry (HTML, escaped)."""

    id: str
    order: int
    layer: pdk.Layer
    legend: str

    @property
    def placed(self) -> tuple[int, pdk.Layer]:
        """Return ``(order, layer)`` as :func:`twin.scene.city.scene_deck` takes it."""
        return self.order, self.layer


def _flat(
    drawn: pdk.Layer, layer_id: str, shapes: gpd.GeoSeries, directory: Path | None
) -> pdk.Layer:
    """Lay the layer on the ground and move its (GeoJSON) data to a file fetched by URL.

    Each feature (one per row of ``shapes``, in order) gets where a click on it flies to:
    ``fly_lon``, ``fly_lat`` (a point inside it) and ``fly_m`` (its larger side, metres).
    """
    drawn.id = layer_id
    drawn.parameters = dict(FLAT_PARAMETERS)
    points = shapes.representative_point()
    west, south, east, north = shapes.bounds.to_numpy().T
    size = np.maximum((east - west) * np.cos(np.radians(points.y.to_numpy())), north - south)
    for feature, x, y, m in zip(
        drawn.data["features"], points.x, points.y, size * METRES_PER_DEGREE, strict=True
    ):
        feature["properties"].update(fly_lon=round(x, 6), fly_lat=round(y, 6), fly_m=round(m))
    payload = json.dumps(drawn.data, separators=(",", ":"), ensure_ascii=False)
    drawn.data = publish_file(layer_id, payload.encode("utf-8"), directory)
    return drawn


def district_values(results: Iterable[Result], kpi_id: str) -> pd.Series:
    """Return one KPI's value per district id (NaN where it has none).

    Parameters
    ----------
    results
        Results of :func:`twin.kpi.compute` (the city's and the districts').
    kpi_id
        The KPI.

    Returns
    -------
    pandas.Series
        Float values indexed by district id.
    """
    rows = [(r.district_id, r.value) for r in results if r.id == kpi_id and r.district_id]
    return pd.Series(
        [np.nan if v is None else float(v) for _, v in rows],
        index=[int(d) for d, _ in rows],
        dtype=float,
    )


def _number(value: float) -> str:
    return f"{value:,.2f}" if np.isfinite(value) else "no value"


def kpi_overlay(
    districts: gpd.GeoDataFrame,
    results: Iterable[Result],
    kpi: Kpi,
    directory: Path | None = None,
) -> Overlay:
    """Fill the districts by one KPI's value, from worse to better by its direction.

    Parameters
    ----------
    districts
        A frame from :func:`twin.districts.district_frame` (``id``, ``name``, geometry).
    results
        Results of :func:`twin.kpi.compute`.
    kpi
        The chosen KPI (its unit goes in the tooltip, its direction decides the ramp).
    directory
        Static directory of the layer file (the app's by default).

    Returns
    -------
    Overlay
        The choropleth (tooltip: the district's name, the value and unit) and its legend.
    """
    values = district_values(results, kpi.id)
    simple = districts.set_geometry(
        districts.geometry.simplify(SIMPLIFY_DEG, preserve_topology=True)
    )
    choropleth = choropleth_layer(simple, values, kpi.direction, kpi.unit)
    drawn = _flat(choropleth, CHOROPLETH, simple.geometry, directory)
    spec = layer(CHOROPLETH)
    shown = districts["id"].map(values).astype(float).to_numpy()
    finite = shown[np.isfinite(shown)]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (np.nan, np.nan)
    worst, best = (low, high) if kpi.direction == "higher" else (high, low)
    unit = html.escape(kpi.unit)
    better = swatch(spec.style_of("better").fill or (0, 0, 0, 0))
    rows = [
        f"<div>{swatch(spec.style_of('worse').fill or (0, 0, 0, 0))}worst: "
        f"{_number(worst)} {unit}</div>",
        f"<div>{better}best: {_number(best)} {unit}</div>",
    ]
    if len(finite) and low == high:  # one value everywhere: drawn as the best
        rows = [f"<div>{better}every district with a value: {_number(low)} {unit}</div>"]
    if len(finite) < len(shown):
        none = spec.style_of("none")
        rows.append(f"<div>{swatch(none.fill or (0, 0, 0, 0))}{html.escape(none.legend)}</div>")
    legend = (
        f"<b>{html.escape(kpi.name_en)}</b> <small>per district, "
        f"{html.escape(kpi.direction)} is better</small>"
        f"<div style='margin-left:0.6em'>{''.join(rows)}</div>"
    )
    return Overlay(CHOROPLETH, KPI_ORDER, drawn, legend)


def coverage_overlay(
    gaps: gpd.GeoDataFrame, tech: str, label: str, directory: Path | None = None
) -> Overlay:
    """Draw the H3 cells where ``tech`` leaves people uncovered (darker: more people).

    Parameters
    ----------
    gaps
        The gap cells of :func:`twin.coverage.gaps.gaps` (EPSG:4326).
    tech
        The technology (part of the layer id: ``coverage_gaps-5g``).
    label
        Its name for the legend and the tooltip.
    directory
        Static directory of the layer file (the app's by default).

    Returns
    -------
    Overlay
        The gap cells (tooltip: the cell, uncovered and total people) and the legend entry.
    """
    layer_id = f"{GAPS}-{tech}"
    titled = gaps.assign(h3=gaps["h3"].astype(str) + f" · {label}")
    drawn = _flat(gap_layer(titled, what_if=False), layer_id, gaps.geometry, directory)
    style = layer(GAPS).style
    people = int(gaps["uncovered_population"].sum()) if len(gaps) else 0
    legend = (
        f"{swatch(style.fill or (0, 0, 0, 0))}<b>{html.escape(label)}: uncovered people</b> "
        f"<small>({len(gaps):,} H3 cells, {people:,} people)</small>"
        f"<div style='margin-left:0.6em'><small>{html.escape(style.legend)}</small></div>"
    )
    return Overlay(layer_id, COVERAGE_ORDER, drawn, legend)


#: Names of the coverage technologies (:func:`twin.coverage.model.technologies`).
TECH_LABELS = {"5g": "5G", "4g": "4G", "gigabit": "Gigabit broadband"}


def legend_html(overlays: Iterable[Overlay]) -> str:
    """Return the legend entries of the overlays (each already escaped) as one block."""
    items = "".join(f"<div style='margin-bottom:0.45em'>{o.legend}</div>" for o in overlays)
    return f"<div style='font-size:0.85rem;line-height:1.4'>{items}</div>" if items else ""
