"""The Sensors page's alerts: recent threshold exceedances, and what went to the dead letters."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from twin.sources import read_frame

#: Most exceedances listed, and most dead-letter reasons.
EXCEEDANCE_LIMIT, REASON_LIMIT = 50, 10
#: How averaging periods are written.
AVERAGING = {"1h": "hourly value", "8h": "8-hour mean", "24h": "daily mean"}


def exceedances(since: datetime, url: str | None = None, limit: int = EXCEEDANCE_LIMIT
                ) -> pd.DataFrame:  # fmt: skip
    """Return the newest exceedances (``twin.exceedances``) of periods from ``since`` on.

    Parameters
    ----------
    since
        Earliest period start (timezone-aware).
    url
        libpq URL; the twin's database by default.
    limit
        Most rows returned, newest first.

    Returns
    -------
    pandas.DataFrame
        See ``twin/db/sql/sensors_exceedances.sql``, plus ``what`` (``"daily mean"`` …).

    Raises
    ------
    DatabaseError
        When the database cannot be reached or has no sensor tables.
    """
    frame = read_frame("sensors_exceedances", url, {"since": since, "limit": limit})
    return frame.assign(what=frame["averaging"].map(AVERAGING).fillna(frame["averaging"]))


def dead_letters(since: datetime, url: str | None = None, limit: int = REASON_LIMIT
                 ) -> tuple[int, pd.DataFrame]:  # fmt: skip
    """Return how many readings went to the dead letters since ``since``, and the main reasons.

    Returns
    -------
    tuple of int and pandas.DataFrame
        The count, and one row per source and reason (``source``, ``reason``, ``count``,
        ``newest``), most frequent first, at most ``limit``.

    Raises
    ------
    DatabaseError
        When the database cannot be reached or has no sensor tables.
    """
    frame = read_frame("sensors_dead_letters", url, {"since": since, "limit": limit})
    total = int(frame["total"].iloc[0]) if len(frame) else 0
    return total, frame.drop(columns="total")
