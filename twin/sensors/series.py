"""A sensor's readings over a time range, and the thresholds to draw with them.

The panel of one sensor charts each of its datastreams over the last 24 hours, 7 days or a
chosen range. Long ranges are cut into at most :data:`MAX_POINTS` time buckets per datastream
in SQL (mean, min and max of each), so a week of readings every few seconds still draws fast;
readings sparser than the buckets come back one by one, unchanged.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pandas as pd

from twin.sensors.live import numbers
from twin.sources import read_frame

#: The ranges offered, each ending at the sensor's newest reading.
RANGES = {"24 h": timedelta(hours=24), "7 d": timedelta(days=7)}
#: Most points per datastream in a chart.
MAX_POINTS = 500
#: Thresholds up to this many times a chart's highest value are drawn; the lowest always is.
HEADROOM = 1.5
#: How averaging periods are written next to a threshold.
AVERAGING = {"1h": "hourly", "8h": "8-hour mean", "24h": "daily mean"}


def newest_reading(sensor_id: str, url: str | None = None) -> pd.Timestamp | None:
    """Return the time of the sensor's newest reading (``None`` when it has none)."""
    frame = read_frame("sensors_newest", url, {"sensor": sensor_id})
    value = frame["newest"].iloc[0] if len(frame) else None
    return None if value is None or pd.isna(value) else pd.Timestamp(value)


def window(span: timedelta, newest: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """Return ``[since, until)`` of ``span`` that ends with the newest reading.

    A sensor that reports live gets the last ``span`` up to now; a stale one (e.g. a sample
    file's station) the ``span`` up to its newest reading rather than an empty chart.
    """
    end = min(newest, now) if newest is not None else now
    until = end + timedelta(seconds=1)
    return until - span, until


def bucket(since: datetime, until: datetime, points: int = MAX_POINTS) -> timedelta:
    """Return the width of the time buckets that keep ``[since, until)`` to ``points`` (≥ 1 s)."""
    seconds = (until - since).total_seconds() / points
    return timedelta(seconds=max(1, math.ceil(seconds)))


def series(
    sensor_id: str, since: datetime, until: datetime, url: str | None = None
) -> pd.DataFrame:
    """Return the sensor's readings in ``[since, until)``, per datastream and time bucket.

    Parameters
    ----------
    sensor_id
        Register id of the sensor.
    since, until
        The range (timezone-aware).
    url
        libpq URL; the twin's database by default.

    Returns
    -------
    pandas.DataFrame
        ``property``, ``unit``, ``phenomenon_time`` (UTC), ``value`` (the bucket's mean),
        ``min``, ``max``, ``count`` (numeric readings), ``below_detection`` (readings below
        the detection limit), ``detection_limit``; sorted by property and time.

    Raises
    ------
    DatabaseError
        When the database cannot be reached or has no sensor tables.
    """
    params = {"sensor": sensor_id, "since": since, "until": until,
              "bucket": bucket(since, until)}  # fmt: skip
    frame = read_frame("sensors_series", url, params)
    frame["phenomenon_time"] = pd.to_datetime(frame["phenomenon_time"], utc=True)
    for column in ("value", "min", "max", "detection_limit"):
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    return frame


def thresholds(properties: list[str], url: str | None = None) -> pd.DataFrame:
    """Return the thresholds of ``properties`` with a label each (``"limit 200 µg/m³, hourly"``).

    Raises
    ------
    DatabaseError
        When the database cannot be reached or has no sensor tables.
    """
    frame = read_frame("sensors_thresholds", url, {"properties": properties})
    value = numbers(frame["value"])
    averaging = frame["averaging"].map(AVERAGING).fillna(frame["averaging"])
    return frame.assign(label=frame["kind"] + " " + value + " " + frame["unit"] + ", " + averaging)


def drawn(lines: pd.DataFrame, highest: float) -> pd.Series:
    """Say which thresholds of one property a chart draws: the lowest, and any near the data.

    A threshold far above every value (an alert level at twice the limit) would squash the
    readings into the chart's bottom; those are listed under the chart instead.
    """
    lowest = lines["value"].min() if len(lines) else math.inf
    limit = max(highest * HEADROOM, lowest) if math.isfinite(highest) else lowest
    return lines["value"] <= limit
