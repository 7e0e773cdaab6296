"""What the Sensors page shows live: the streams with their state and freshness, the sensors.

:func:`read_latest` reads the newest value of every datastream (the map's query, see
:mod:`twin.sensors.latest`); :func:`streams` adds what a reader needs to each (the value as
text, its age, its state) and :func:`sensors` folds them into one row per sensor for the map,
coloured by the most severe state among its fresh datastreams. Everything is computed per
column, never per row in Python, so that the page can refresh every few seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import psycopg

from twin._errors import DatabaseError
from twin.db.engine import connect
from twin.sensors.latest import latest
from twin.sources import SETUP_HINT

#: Seconds between two refreshes of the page's live parts (map, table, alerts), of the chosen
#: sensor's newest values (one small read), and of its charts (drawing them costs more).
REFRESH_S, VALUES_REFRESH_S, CHART_REFRESH_S = 2, 1, 10
#: Threshold states from the most to the least severe (``none``: no threshold for the property).
SEVERITY = ("alert", "limit", "information", "target", "ok", "below_detection", "none")
#: A datastream (or a sensor, when all its datastreams are) without a recent reading.
STALE = "stale"
#: Every state a stream or sensor can be in; a sensor's state is its lowest-ranked stream's.
STATES = (*SEVERITY, STALE)
#: How the state of a value against its thresholds is written.
VALUE_STATES = {"alert": "above the alert threshold", "limit": "above the limit value",
                "information": "above the information threshold",
                "target": "above the target value", "ok": "under the thresholds",
                "below_detection": "below detection", "none": "no threshold"}  # fmt: skip
#: Zone of the times shown (the city's).
LOCAL_ZONE = "Europe/Ljubljana"
#: Ages below each bound (seconds) are written in the unit next to it.
_AGE_UNITS = ((120, 1, "s"), (7200, 60, "min"), (172_800, 3600, "h"), (np.inf, 86_400, "d"))


@contextmanager
def _readable(what: str) -> Iterator[None]:
    """Turn a database without the sensor tables into a :class:`DatabaseError` with a hint."""
    try:
        yield
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as exc:
        raise DatabaseError(
            f"the database has no sensor tables yet ({exc.diag.message_primary}, reading "
            f"{what}): {SETUP_HINT}"
        ) from exc


def read_latest(url: str | None = None) -> pd.DataFrame:
    """Return the newest value of every datastream (see :func:`twin.sensors.latest.latest`).

    Raises
    ------
    DatabaseError
        When the database cannot be reached or has no sensor tables.
    """
    with connect(url) as conn, _readable("the latest values"):
        conn.read_only = True
        return latest(conn)


def numbers(values: pd.Series) -> pd.Series:
    """Return numbers as short text: two decimals at most, no trailing ``.0`` ("" for NaN)."""
    text = values.astype(float).round(2).astype("string").str.replace(r"\.0$", "", regex=True)
    return text.fillna("")


def ages(seconds: pd.Series) -> pd.Series:
    """Return ages in seconds as text: ``"12 s"``, ``"5 min"``, ``"3 h"``, ``"2 d"``."""
    s = seconds.astype(float).clip(lower=0).to_numpy()
    conditions = [s < bound for bound, _, _ in _AGE_UNITS]
    amounts = np.select(conditions, [np.floor(s / size) for _, size, _ in _AGE_UNITS], np.nan)
    units = np.select(conditions, [unit for _, _, unit in _AGE_UNITS], "")
    text = pd.Series(amounts, index=seconds.index).astype("Int64").astype("string")
    return (text + " " + pd.Series(units, index=seconds.index)).fillna("")


def streams(frame: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    """Add what the page shows of each datastream to the frame of :func:`read_latest`.

    Parameters
    ----------
    frame
        The newest value of each datastream.
    now
        The time the ages are counted to (timezone-aware).

    Returns
    -------
    pandas.DataFrame
        The rows, the most severe state first, then by sensor external id and property,
        with ``value_text`` (the value, ``<limit`` below the detection limit), ``age_s``,
        ``freshness`` (``"3 min ago"``, ``"stale, 2 d ago"``), ``state`` (a :data:`STATES`
        entry: ``stale`` when stale, else the threshold state, ``none`` without thresholds),
        ``name`` ("" when the sensor has none), ``value_state`` (the value against its
        thresholds, in words, stale or not) and ``local_time``.
    """
    out = frame.reset_index(drop=True)
    times = pd.to_datetime(out["phenomenon_time"], utc=True)
    below = out["quality"].eq("below_detection") & out["value"].isna()
    value_text = numbers(out["value"]).mask(below, "<" + numbers(out["detection_limit"]))
    age = (now - times).dt.total_seconds()
    stale = out["stale"].fillna(value=True).astype(bool)
    ago = ages(age) + " ago"
    threshold = out["threshold_state"].astype("string").fillna("none")
    state = threshold.mask(stale, STALE)
    out = out.assign(
        name=out["name"].fillna(""),
        value_state=threshold.map(VALUE_STATES).astype(str),
        value_text=value_text.astype(str),
        age_s=age,
        freshness=ago.mask(stale, "stale, " + ago).astype(str),
        state=state.astype(str),
        local_time=times.dt.tz_convert(LOCAL_ZONE),
        stale=stale,
        rank=state.map({name: n for n, name in enumerate(STATES)}).astype(int),
    )
    order = ["rank", "external_id", "property"]
    return out.sort_values(order, kind="stable").drop(columns="rank").reset_index(drop=True)


def sensors(streams_frame: pd.DataFrame) -> pd.DataFrame:
    """Fold the streams of :func:`streams` into one row per sensor, as the map draws it.

    A sensor's ``state`` is the most severe state (in :data:`SEVERITY` order) among its
    fresh datastreams, ``stale`` when all of them are stale. ``tt_title`` and ``tt_text``
    are its tooltip as plain text: the external id and name (its kind when it has no name;
    and "synthetic"), then one line per datastream with the value, unit, state and time
    (local; "stale since …" when stale).

    Returns
    -------
    pandas.DataFrame
        ``sensor_id``, ``external_id``, ``name``, ``kind``, ``synthetic``, ``source``,
        ``lon``, ``lat``, ``state``, ``streams`` (how many), ``stale_streams``,
        ``newest`` (the newest reading's time), ``tt_title``, ``tt_text``.
    """
    s = streams_frame
    rank = s["state"].map({state: n for n, state in enumerate(STATES)}).fillna(len(STATES))
    # the time, not the age: the tooltips (and the map's spec) change only with the readings
    when = s["local_time"].dt.strftime("%Y-%m-%d %H:%M:%S")
    when = when.mask(s["stale"], "stale since " + when)
    lines = (s["property"].astype(str) + ": " + s["value_text"] + " " + s["unit"].astype(str)
             + " · " + s["value_state"] + " · " + when)  # fmt: skip
    grouped = s.assign(rank=rank, line=lines).groupby("sensor_id", sort=False)
    out = grouped.agg(
        external_id=("external_id", "first"),
        name=("name", "first"),
        kind=("kind", "first"),
        synthetic=("synthetic", "first"),
        source=("source", "first"),
        lon=("lon", "first"),
        lat=("lat", "first"),
        rank=("rank", "min"),
        streams=("property", "size"),
        stale_streams=("stale", "sum"),
        newest=("phenomenon_time", "max"),
        tt_text=("line", "\n".join),
    ).reset_index()
    out["state"] = np.asarray(STATES, dtype=object)[
        out["rank"].astype(int).clip(upper=len(STATES) - 1)
    ]
    synthetic = out["synthetic"].fillna(value=False).astype(bool)
    flag = pd.Series(np.where(synthetic, " (synthetic sensor, simulated readings)", ""),
                     index=out.index, dtype=str)  # fmt: skip
    named = out["name"].fillna("").astype(str)
    what = named.where(named != "", out["kind"].fillna("").astype(str).str.replace("_", " "))
    out["tt_title"] = out["external_id"].astype(str) + " · " + what + flag
    out["synthetic"] = synthetic
    return out.drop(columns="rank")


def state_counts(sensor_frame: pd.DataFrame) -> dict[str, int]:
    """Return how many sensors are in each state of :data:`STATES` (zeros included)."""
    counts = sensor_frame["state"].value_counts()
    return {state: int(counts.get(state, 0)) for state in STATES}
