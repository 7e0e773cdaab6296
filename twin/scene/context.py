"""The map's own context: the municipality outline and the roads (there are no basemap tiles)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk
import shapely

from twin.scene.catalog import layer
from twin.sources import read_geoframe

#: Decimals kept of a display coordinate (1e-5° is about 0.8 m in Maribor).
COORD_DECIMALS = 5

#: Catalog entries (``layers/*.toml``) of the context layers.
MUNICIPALITY = "municipality"
ROADS = "roads"
#: Degrees by which the tinted surroundings reach past the municipality's bounds.
SURROUNDINGS_MARGIN_DEG = 3.0


def road_frame(url: str | None = None) -> gpd.GeoDataFrame:
    """Return the roads drawn as context: ``osm_id``, ``highway``, ``name``, ``geometry``.

    Parameters
    ----------
    url
        libpq URL; the twin's database by default.

    Returns
    -------
    geopandas.GeoDataFrame
        One line per OSM way, in EPSG:4326.

    Raises
    ------
    DatabaseError
        When the database cannot be reached or holds no roads.
    """
    return read_geoframe("read_roads", url, what="roads")


def rounded(geoms: gpd.GeoSeries) -> np.ndarray[Any, np.dtype[np.object_]]:
    """Return the shapes with coordinates rounded to :data:`COORD_DECIMALS` decimals."""
    shapes: np.ndarray[Any, np.dtype[np.object_]] = shapely.transform(
        np.asarray(geoms.values), lambda xy: np.round(xy, COORD_DECIMALS)
    )
    return shapes


def line_paths(geoms: gpd.GeoSeries) -> list[list[list[float]]]:
    """Return each line as a list of ``[lon, lat]`` pairs (for a ``PathLayer``)."""
    coords, index = shapely.get_coordinates(rounded(geoms), return_index=True)
    starts = np.flatnonzero(np.diff(index)) + 1
    return [part.tolist() for part in np.split(coords, starts)]


def per_object(value: Sequence[float] | float) -> str:
    """Return a constant colour or width as an accessor expression (evaluated per object).

    deck.gl draws a constant accessor from a constant vertex attribute and a per-object one
    from a buffer; without a GPU (SwiftShader) every distinct vertex layout of a shader is a
    pipeline compiled anew on its first draw (0.1 to 0.5 s each, measured), before the frame
    shows. Writing the ground's constant colours and widths per object gives its layers one
    layout per kind of layer, so the first frame with buildings waits on fewer compilations.
    """
    return json.dumps(list(value) if isinstance(value, Sequence) else value)


def surroundings_layer(municipality: gpd.GeoDataFrame) -> pdk.Layer:
    """Tint the land around the municipality, so that the map reads as a map without tiles."""
    west, south, east, north = (float(v) for v in municipality.total_bounds)
    m = SURROUNDINGS_MARGIN_DEG
    box = [
        [west - m, south - m],
        [east + m, south - m],
        [east + m, north + m],
        [west - m, north + m],
    ]
    return pdk.Layer(
        "PolygonLayer",
        id="surroundings",
        data=[{"polygon": box}],
        get_polygon="polygon",
        get_fill_color=per_object(layer(MUNICIPALITY).style.surround or (0, 0, 0, 0)),
        stroked=False,
        pickable=False,
    )


def land_layer(municipality: gpd.GeoDataFrame, *, stroked: bool = True) -> pdk.Layer:
    """Fill the municipality with a paper colour and draw its boundary (unless not ``stroked``)."""
    style = layer(MUNICIPALITY).style
    return pdk.Layer(
        "GeoJsonLayer",
        id="municipality",
        data=feature_collection(municipality, []),
        filled=True,
        stroked=stroked,
        get_fill_color=per_object(style.fill or (0, 0, 0, 0)),
        get_line_color=per_object(style.line or (0, 0, 0, 0)),
        get_line_width=per_object(style.line_width_px),
        line_width_units='"pixels"',
        pickable=False,
    )


def road_layer(roads: gpd.GeoDataFrame) -> pdk.Layer:
    """Draw the roads as thin grey lines, styled per ``highway`` class by the catalog."""
    spec = layer(ROADS)
    classes = roads[spec.category or "highway"]
    styles = {value: spec.style_of(value) for value in classes.unique()}
    data = pd.DataFrame(
        {
            "path": line_paths(roads.geometry),
            "width": classes.map({v: st.line_width_px for v, st in styles.items()}),
            "color": classes.map({v: list(st.line or (0, 0, 0, 0)) for v, st in styles.items()}),
        }
    )
    return pdk.Layer(
        "PathLayer",
        id="roads",
        data=data,
        get_path="path",
        get_width="width",
        width_units='"pixels"',
        get_color="color",
        cap_rounded=True,
        joint_rounded=True,
        pickable=False,
    )


def feature_collection(frame: gpd.GeoDataFrame, columns: list[str]) -> dict[str, Any]:
    """Return a GeoJSON FeatureCollection of ``frame`` with ``columns`` as properties.

    Coordinates are rounded to :data:`COORD_DECIMALS` decimals to keep the spec small.
    """
    geometries = shapely.to_geojson(rounded(frame.geometry))
    properties = pd.DataFrame(frame[columns]).to_dict(orient="records")
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": json.loads(g), "properties": p}
            for g, p in zip(geometries, properties, strict=True)
        ],
    }
