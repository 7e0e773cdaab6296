"""The municipality and its local units, read for display.

Maribor has 11 mestne četrti (``kind = 'MC'``, official GURS polygons) and 6 krajevne
skupnosti (``kind = 'KS'``) whose polygons the project derives (``approximate`` and
``synthetic``). Areas are computed in SQL in EPSG:3794; shapes arrive in EPSG:4326.
"""

from __future__ import annotations

import geopandas as gpd

from twin.sources import read_geoframe

#: Kind code -> what it is called on screen.
KIND_LABELS: dict[str, str] = {"MC": "mestna četrt", "KS": "krajevna skupnost"}


def district_frame(url: str | None = None) -> gpd.GeoDataFrame:
    """Return the local units with their official and computed areas.

    Parameters
    ----------
    url
        libpq URL; the twin's database by default.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per unit, mestne četrti first, each kind by name: ``id``, ``name``,
        ``kind`` (``'MC'`` or ``'KS'``), ``kind_label``, ``official_area_km2`` (GURS),
        ``area_km2`` (of the stored polygon, in EPSG:3794), ``approximate``, ``synthetic``,
        ``geometry_note``, ``source``, ``licence``, ``label_lon``/``label_lat`` (a point
        inside the polygon) and ``geometry`` (EPSG:4326).

    Raises
    ------
    DatabaseError
        When the database cannot be reached or holds no districts.
    """
    frame = read_geoframe("read_districts", url, what="districts")
    kind_label = frame["kind"].map(KIND_LABELS).fillna(frame["kind"])
    frame.insert(frame.columns.get_loc("kind") + 1, "kind_label", kind_label)
    return frame


def municipality_frame(url: str | None = None) -> gpd.GeoDataFrame:
    """Return the municipality boundary with its official and computed area.

    Parameters
    ----------
    url
        libpq URL; the twin's database by default.

    Returns
    -------
    geopandas.GeoDataFrame
        ``name``, ``official_area_km2``, ``area_km2`` (in EPSG:3794), ``source``,
        ``licence`` and ``geometry`` (EPSG:4326).

    Raises
    ------
    DatabaseError
        When the database cannot be reached or holds no municipality boundary.
    """
    return read_geoframe("read_municipality", url, what="municipality boundary")
