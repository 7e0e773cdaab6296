"""The newest value of every datastream, as the sensor map draws it."""

from __future__ import annotations

from functools import cache

import pandas as pd
import psycopg
from pyproj import Transformer

from twin.db._sql import sql_text

#: Columns of :func:`latest`, in order.
COLUMNS = ("datastream_id", "sensor_id", "name", "kind", "external_id", "synthetic", "source",
           "e", "n", "lon", "lat", "property", "unit", "phenomenon_time", "value", "quality",
           "detection_limit", "stale", "threshold_state")  # fmt: skip


@cache
def _to_wgs84() -> Transformer:
    return Transformer.from_crs(3794, 4326, always_xy=True)


def latest(conn: psycopg.Connection, query: str | None = None) -> pd.DataFrame:
    """Return the newest value of every datastream with its sensor, position and state.

    Runs ``twin/db/sql/sensors_latest.sql`` (see there for the columns' meaning) and adds
    ``lon``/``lat`` (EPSG:4326) to its D96/TM ``e``/``n``: PROJ converts the whole column at
    once here, several times faster than ``ST_Transform`` row by row in the query.

    Parameters
    ----------
    conn
        Connection to the twin's database.
    query
        Another query with the same columns (the benchmark's baseline); the map's by default.

    Returns
    -------
    pandas.DataFrame
        One row per datastream, columns :data:`COLUMNS`.
    """
    cur = conn.cursor(binary=True)
    cur.execute(query or sql_text("sensors_latest"))
    names = [c.name for c in cur.description or ()]
    frame = pd.DataFrame(cur.fetchall(), columns=names)
    lon, lat = _to_wgs84().transform(frame["e"].to_numpy(dtype=float),
                                     frame["n"].to_numpy(dtype=float))  # fmt: skip
    frame.insert(names.index("n") + 1, "lon", lon)
    frame.insert(names.index("n") + 2, "lat", lat)
    return frame
