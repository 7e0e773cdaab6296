"""``twin sensors summary``: per sensor and property, what was observed in a period."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from twin.db._sql import sql_text
from twin.db.engine import connect

#: Keys of each summary object, in order.
KEYS = ("sensor", "property", "unit", "count", "mean", "min", "max", "first", "last",
        "below_detection", "first_value", "last_value")  # fmt: skip


def summary(
    since: datetime | None = None, until: datetime | None = None, url: str | None = None
) -> list[dict[str, Any]]:
    """Return one object per sensor and property with observations in ``[since, until)``.

    ``sensor`` is the external id (e.g. ARSO's ``E407``) or the register id; ``count`` counts
    stored numeric values and ``below_detection`` the readings below the detection limit
    (which have no value); ``mean``/``min``/``max`` are over the numeric values; ``first`` and
    ``last`` are the earliest and latest phenomenon times (ISO 8601), ``first_value`` and
    ``last_value`` the values then.
    """
    with connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql_text("sensors_summary"), {"since": since, "until": until}).fetchall()
    result = []
    for row in rows:
        item = {key: row[key] for key in KEYS}
        for key in ("first", "last"):
            item[key] = item[key].isoformat() if item[key] is not None else None
        result.append(item)
    return result
