"""The newest value of every datastream, as the sensor map draws it.

The map refreshes every few seconds, so the frame is read in two parts. What changes with
the register (the sensors, their datastreams and positions) and the thresholds is read once
and kept in the process until ``sensors_latest_key.sql`` reports a change. What changes with
every reading (the newest value of each datastream, ``twin.latest_observations``) is read on
every call, packed by the server into one ``bytea`` of fixed-width records that numpy reads
in one call (no Python object per row), then joined to the first part and compared with the
thresholds per column. ``sensors_latest.sql`` is the same frame as one plain query (what the
benchmark's ``DISTINCT ON`` baseline is built from); :func:`latest` gives the same rows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import psycopg
from pyproj import Transformer

from twin.db._sql import sql_text

#: Columns of :func:`latest`, in order.
COLUMNS = ("datastream_id", "sensor_id", "name", "kind", "external_id", "synthetic", "source",
           "e", "n", "lon", "lat", "property", "unit", "phenomenon_time", "value", "quality",
           "detection_limit", "stale", "threshold_state")  # fmt: skip
#: Quality of a reading by its code in ``sensors_latest_values.sql``.
QUALITIES = ("ok", "below_detection", "suspect")
#: Quality labels by code (the last for a code this module does not know).
_QUALITY_LABELS = np.array([*QUALITIES, None], dtype=object)
#: One record of ``sensors_latest_values.sql`` (big-endian, packed).
_RECORD = np.dtype(
    [("id", ">i4"), ("time", ">i8"), ("value", ">f8"), ("limit", ">f8"), ("quality", ">i2")]
)
#: PostgreSQL's epoch (2000-01-01 UTC) in microseconds after the Unix epoch.
_PG_EPOCH_US = 946_684_800_000_000
_STREAM_COLUMNS = ["sensor_id", "name", "kind", "external_id", "synthetic", "source", "e", "n",
                   "lon", "lat", "property", "unit"]  # fmt: skip


@cache
def _to_wgs84() -> Transformer:
    return Transformer.from_crs(3794, 4326, always_xy=True)


def _with_lonlat(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``lon``/``lat`` (EPSG:4326) from the D96/TM ``e``/``n``, PROJ per column."""
    lon, lat = _to_wgs84().transform(frame["e"].to_numpy(dtype=float),
                                     frame["n"].to_numpy(dtype=float))  # fmt: skip
    return frame.assign(lon=lon, lat=lat)


@dataclass(frozen=True)
class _Streams:
    """The cached part: datastreams with their sensors, and the thresholds per property.

    ``frame`` is indexed by datastream id; ``prop_code``, ``stale_after_us`` and
    ``retired`` are its columns as numpy arrays (row order), ``limits`` has, per property
    code with thresholds, the ascending threshold values and the state labels (``ok``
    first, then the kind of each threshold).
    """

    key: tuple[object, ...]
    frame: pd.DataFrame
    prop_code: np.ndarray
    stale_after_us: np.ndarray
    retired: np.ndarray
    limits: dict[int, tuple[np.ndarray, np.ndarray]]


_CACHE: dict[tuple[object, ...], _Streams] = {}
_LOCK = threading.Lock()


def _rows(conn: psycopg.Connection, name: str) -> pd.DataFrame:
    cur = conn.cursor(binary=True)
    cur.execute(sql_text(name))
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description or ()])


def _read_streams(conn: psycopg.Connection, key: tuple[object, ...]) -> _Streams:
    frame = _with_lonlat(_rows(conn, "sensors_latest_streams").set_index("datastream_id"))
    codes, names = pd.factorize(frame["property"])
    limits: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    known = {str(name): code for code, name in enumerate(names)}
    for prop, group in _rows(conn, "sensors_latest_thresholds").groupby("property", sort=False):
        if str(prop) in known:
            labels = np.concatenate([["ok"], group["kind"].to_numpy(dtype=object)])
            limits[known[str(prop)]] = (group["value"].to_numpy(dtype=float), labels)
    return _Streams(
        key=key,
        frame=frame[_STREAM_COLUMNS],
        prop_code=np.asarray(codes, dtype=np.int64),
        stale_after_us=frame["stale_after_s"].to_numpy(dtype=float) * 1e6,
        retired=frame["retired"].to_numpy(dtype=bool),
        limits=limits,
    )


def _streams(conn: psycopg.Connection, ids: np.ndarray) -> _Streams:
    """Return the cached part, read again when the key changed or a datastream is new."""
    row = conn.execute(sql_text("sensors_latest_key")).fetchone()
    key = tuple(row or ())
    where = (conn.info.host, conn.info.port, conn.info.dbname)
    with _LOCK:
        cached = _CACHE.get(where)
    if cached is None or cached.key != key or not np.isin(ids, cached.frame.index).all():
        cached = _read_streams(conn, key)
        with _LOCK:
            _CACHE[where] = cached
    return cached


def _states(codes: np.ndarray, values: np.ndarray, streams: _Streams) -> np.ndarray:
    """Compare each value with its property's thresholds, property by property.

    The state is the kind of the highest threshold the value is above, ``ok`` when it is
    above none, ``below_detection`` when there is no value, ``None`` for a property
    without thresholds (as ``sensors_latest.sql`` does it).
    """
    states = np.full(len(values), None, dtype=object)
    for code, (bounds, labels) in streams.limits.items():
        mine = codes == code
        if not mine.any():
            continue
        mine_values = values[mine]
        state = labels[np.searchsorted(bounds, mine_values, side="left")]
        state[np.isnan(mine_values)] = "below_detection"
        states[mine] = state
    return states


def _packed(conn: psycopg.Connection) -> pd.DataFrame:
    """Read the newest reading of every datastream (the fast-changing part)."""
    cur = conn.cursor(binary=True)
    row = cur.execute(sql_text("sensors_latest_values")).fetchone()
    blob, now = (row[0] or b"", row[1]) if row else (b"", b"")
    records = np.frombuffer(blob, dtype=_RECORD)
    now_us = int(np.frombuffer(now, dtype=">i8")[0]) if now else 0
    ids = records["id"].astype(np.int64)
    streams = _streams(conn, ids)
    position = streams.frame.index.get_indexer(pd.Index(ids))
    keep = position >= 0
    keep[keep] &= ~streams.retired[position[keep]]
    records, position = records[keep], position[keep]
    micros = records["time"].astype(np.int64)
    values = records["value"].astype(float)
    frame = streams.frame.iloc[position].reset_index()
    frame["phenomenon_time"] = pd.to_datetime(micros + _PG_EPOCH_US, unit="us", utc=True)
    frame["value"] = values
    frame["quality"] = _QUALITY_LABELS[records["quality"].astype(np.int64)]
    frame["detection_limit"] = records["limit"].astype(float)
    frame["stale"] = micros < now_us - streams.stale_after_us[position]
    frame["threshold_state"] = _states(streams.prop_code[position], values, streams)
    frame["datastream_id"] = frame["datastream_id"].astype(np.int64)
    return frame[list(COLUMNS)]


def latest(conn: psycopg.Connection, query: str | None = None) -> pd.DataFrame:
    """Return the newest value of every datastream with its sensor, position and state.

    The newest readings are read anew on every call; the sensors, datastreams and
    thresholds only when they changed (see the module's description). ``lon``/``lat``
    (EPSG:4326) come from the stored D96/TM ``e``/``n``, converted by PROJ per column.
    The columns mean what ``twin/db/sql/sensors_latest.sql`` says.

    Parameters
    ----------
    conn
        Connection to the twin's database.
    query
        Another query with the columns of ``sensors_latest.sql`` (the benchmark's baseline),
        run as it is; by default the two-part read above.

    Returns
    -------
    pandas.DataFrame
        One row per datastream of a sensor that is not retired, columns :data:`COLUMNS`.
    """
    if query is None:
        return _packed(conn)
    cur = conn.cursor(binary=True)
    cur.execute(query)
    frame = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description or ()])
    return _with_lonlat(frame)[list(COLUMNS)]
