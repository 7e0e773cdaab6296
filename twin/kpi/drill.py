"""What lies behind a KPI's number: the assets (or inhabited buildings) it counts in a scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from twin._errors import ConfigError
from twin.db._sql import sql_text
from twin.db.engine import connect
from twin.kpi.calculators import load_rows, placed, register_source, scoped_source
from twin.kpi.catalog import REGISTER_KINDS, load_catalog

DISPLAY_SRID = 4326
#: Columns of the drill-down frame besides the geometry.
COLUMNS = ["id", "name", "flagged", "flagged_reporting", "weight", "synthetic"]


def _frame(rows: list[Any]) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(rows, columns=[*COLUMNS, "geometry"])
    shapes = gpd.GeoSeries.from_wkb(frame.pop("geometry").map(bytes), crs=DISPLAY_SRID)
    return gpd.GeoDataFrame(frame, geometry=shapes, crs=DISPLAY_SRID)


def behind(
    kpi_id: str,
    district_id: int | None = None,
    url: str | None = None,
    *,
    at: datetime | None = None,
    window_hours: float | None = None,
) -> gpd.GeoDataFrame:
    """Return the rows behind a KPI's number in the city or one district.

    Parameters
    ----------
    kpi_id
        A computed KPI of the register (share, density, count, per inhabitant, area) or the
        walking-distance KPI.
    district_id
        The district; the city when None.
    url
        libpq URL; the twin's database by default.
    at, window_hours
        Reporting window for ``flagged_reporting`` (now and the catalog's window by default).

    Returns
    -------
    geopandas.GeoDataFrame
        ``id``, ``name``, ``flagged`` (counts in the numerator), ``flagged_reporting``,
        ``weight`` (what is summed: 1, capacity, hectares inside the scope, inhabitants),
        ``synthetic`` and the geometry (EPSG:4326); not-flagged rows first. For the walking
        KPI the rows are the inhabited buildings and ``walk_m`` the walk to the nearest stop
        (inf beyond the distance), ``flagged`` whether it is within the distance.

    Raises
    ------
    ConfigError
        When the KPI is manual or comes from the coverage engine (see the Coverage page).
    """
    catalog = load_catalog()
    kpi = catalog.get(kpi_id)
    if kpi.calculator not in (*REGISTER_KINDS, "walk_share"):
        how = "entered by hand" if kpi.manual else "computed by the coverage engine"
        raise ConfigError(f"KPI {kpi_id} is {how}; it has no assets to list here")
    moment = at or datetime.now(UTC)
    window = window_hours or catalog.settings.reporting_window_hours
    params: dict[str, Any] = {"district_id": district_id, "at": moment,
                              "since": moment - timedelta(hours=window)}  # fmt: skip
    with connect(url) as conn:
        conn.execute(sql_text("kpi_session"))
        if kpi.calculator == "walk_share":
            return _walk_behind(conn, kpi.distance_m, catalog.settings.walk_connect_m, params)
        source, source_params = register_source(kpi)
        load_rows(conn, source, {**params, **source_params})
        if kpi.calculator in ("area_share", "area_sum"):
            query: sql.Composed | sql.SQL = sql.SQL(sql_text("kpi_behind_areas"))
        else:
            query = sql.SQL(sql_text("kpi_behind")).format(placed=placed())
        return _frame(conn.execute(query, params).fetchall())


def _walk_behind(
    conn: psycopg.Connection, distance_m: float, connect_m: float, params: dict[str, Any]
) -> gpd.GeoDataFrame:
    from twin.kpi._walk import walk_access  # noqa: PLC0415 - only this KPI needs it

    access = walk_access(conn, distance_m, connect_m)
    people = scoped_source("kpi_walk_people_source")
    load_rows(conn, people, {"distance": distance_m})
    query = sql.SQL(sql_text("kpi_behind")).format(placed=placed())
    frame = _frame(conn.execute(query, params).fetchall())
    walk = access.buildings.set_index("id")["walk_m"]
    frame["walk_m"] = frame["id"].map(walk).fillna(np.inf).astype(float)
    frame["flagged"] = frame["walk_m"] <= distance_m
    return frame.sort_values(["flagged", "id"], kind="stable").reset_index(drop=True)
