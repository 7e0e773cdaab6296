"""The ingest path: validate readings, store them once, keep the latest value, record alerts.

Every adapter (ARSO XML, CSV, MQTT, HTTP) turns its input into a frame of readings and calls
:func:`ingest`. One transaction: readings that cannot be stored (unknown property or sensor,
wrong unit, time without zone, no value) go to ``twin.dead_letters`` with the reason; the others
are COPYed into a staging table and inserted with ``ON CONFLICT DO NOTHING`` on
(datastream, phenomenon time), so a replay stores nothing twice; the newest value per
datastream and the threshold exceedances are updated from the rows actually inserted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from twin.db._sql import sql_text
from twin.load._stage import copy_rows
from twin.sensors.catalog import properties

#: Columns of a readings frame (``phenomenon_end``, ``detection_limit``, ``unit``, ``topic``
#: and ``payload`` are optional).
COLUMNS = ("sensor", "property", "phenomenon_time", "value", "quality")
QUALITIES = ("ok", "below_detection", "suspect")
_STAGE = "_stage_observations"
_STAGED = ("row_no", "sensor", "property", "phenomenon_time", "phenomenon_end", "value",
           "quality", "detection_limit")  # fmt: skip


@dataclass
class IngestReport:
    """What one ingest did."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    new_datastreams: int = 0
    exceedances: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: IngestReport) -> None:
        """Add the counts of another report to this one."""
        for name in ("received", "stored", "duplicates", "dead_letters", "new_datastreams",
                     "exceedances"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, count in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + count


def _payloads(frame: pd.DataFrame) -> pd.Series:
    """Raw text of each reading for the dead letters (its payload, else its fields)."""
    if "payload" in frame.columns:
        return frame["payload"].astype("string").fillna("")
    shown = frame[[c for c in frame.columns if c not in ("topic",)]].astype("string")
    return pd.Series(
        shown.to_json(orient="records", lines=True, force_ascii=False).splitlines(),
        index=frame.index,
        dtype="string",
    )


def _problems(frame: pd.DataFrame) -> pd.Series:
    """Return the first reason each reading cannot be stored (empty when it can)."""
    known = properties()
    reason = pd.Series("", index=frame.index, dtype="object")

    def flag(mask: pd.Series | np.ndarray, text: pd.Series | str) -> None:
        mask = pd.Series(mask, index=frame.index).fillna(value=True).astype(bool) & (reason == "")
        if isinstance(text, pd.Series):
            reason[mask] = text[mask]
        else:
            reason[mask] = text

    sensor = frame["sensor"].astype("string").str.strip()
    flag(sensor.isna() | (sensor == ""), "no sensor id")
    prop = frame["property"].astype("string").str.strip()
    flag(~prop.isin(list(known)), "unknown observed property " + prop.fillna("(none)").map(repr))
    if "unit" in frame.columns:
        unit = frame["unit"].astype("string").str.strip()
        expected = prop.map({k: p.unit for k, p in known.items()})
        wrong = unit.notna() & (unit != "") & expected.notna() & (unit != expected)
        flag(wrong, "wrong unit " + unit.fillna("").map(repr) + " for " + prop.fillna("")
             + " (expected " + expected.fillna("").map(repr) + ")")  # fmt: skip
    times = frame["phenomenon_time"]
    flag(times.isna(), "missing or unreadable timestamp")
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        # mixed input (some times with a zone, some without) arrives as objects
        aware = times.map(lambda t: isinstance(t, pd.Timestamp) and t.tzinfo is not None)
        flag(~aware.astype(bool), "timestamp without time zone")
    quality = frame["quality"].astype("string")
    flag(~quality.isin(QUALITIES), "unknown quality flag")
    value = pd.to_numeric(frame["value"], errors="coerce")
    flag(value.isna() & (quality != "below_detection"), "no numeric value")
    flag(~np.isfinite(value.fillna(0.0)), "value is not finite")
    return reason


def dead_letter(
    conn: psycopg.Connection, source: str, payloads: pd.Series, reasons: pd.Series,
    topics: pd.Series | None = None,
) -> int:  # fmt: skip
    """Record rejected input with its reason; return how many."""
    if payloads.empty:
        return 0
    frame = pd.DataFrame(
        {
            "source": source,
            "topic": topics.astype("string") if topics is not None else pd.NA,
            "payload": payloads.astype("string").fillna(""),
            "reason": reasons.astype("string"),
        }
    )
    copy_rows(conn, sql.Identifier("twin", "dead_letters"), frame)
    return len(frame)


def ingest(conn: psycopg.Connection, frame: pd.DataFrame, source: str) -> IngestReport:
    """Store a frame of readings (inside the caller's transaction).

    Parameters
    ----------
    conn
        Connection; the caller commits (so a batch is stored entirely or not at all).
    frame
        One reading per row: ``sensor`` (register id or external station code), ``property``,
        ``phenomenon_time`` (timezone-aware), ``value``, ``quality``; optional
        ``phenomenon_end``, ``detection_limit``, ``unit``, ``topic``, ``payload``.
    source
        Where the readings come from (``ARSO``, ``mqtt``, ``http``, ``csv:<file>``).

    Returns
    -------
    IngestReport
        Received, stored, duplicates (already stored), dead letters and exceedances.
    """
    report = IngestReport(received=len(frame))
    if frame.empty:
        return report
    frame = frame.reset_index(drop=True)
    reasons = _problems(frame)
    bad = reasons != ""
    topics = frame["topic"] if "topic" in frame.columns else None
    if bad.any():
        report.dead_letters += dead_letter(
            conn, source, _payloads(frame[bad]), reasons[bad],
            topics[bad] if topics is not None else None,
        )  # fmt: skip
        for reason, count in reasons[bad].value_counts().items():
            report.reasons[str(reason)] = int(count)
    good = frame[~bad]
    if good.empty:
        return report
    staged = pd.DataFrame(
        {
            "row_no": good.index.to_numpy(),
            "sensor": good["sensor"].astype("string").str.strip(),
            "property": good["property"].astype("string").str.strip(),
            "phenomenon_time": pd.to_datetime(good["phenomenon_time"], utc=True).dt.strftime(
                "%Y-%m-%d %H:%M:%S.%f+00"
            ),
            "phenomenon_end": (
                pd.to_datetime(good["phenomenon_end"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S+00")
                if "phenomenon_end" in good.columns else None
            ),
            "value": pd.to_numeric(good["value"], errors="coerce"),
            "quality": good["quality"].astype("string"),
            "detection_limit": (
                pd.to_numeric(good["detection_limit"], errors="coerce")
                if "detection_limit" in good.columns else np.nan
            ),
        }
    )  # fmt: skip
    conn.execute(sql_text("observations_stage"))
    copy_rows(conn, sql.Identifier(_STAGE), staged[list(_STAGED)])
    unknown = conn.execute(sql_text("observations_resolve")).fetchall()
    if unknown:
        rows = [int(r[0]) for r in unknown]
        why = pd.Series([f"unknown sensor {r[1]!r}" for r in unknown], index=rows)
        report.dead_letters += dead_letter(
            conn, source, _payloads(frame.loc[rows]), why,
            topics.loc[rows] if topics is not None else None,
        )  # fmt: skip
        for reason, count in why.value_counts().items():
            report.reasons[str(reason)] = report.reasons.get(str(reason), 0) + int(count)
    made = conn.execute(sql_text("observations_datastreams")).fetchone()
    report.new_datastreams = int(made[0]) if made else 0
    conn.execute(sql_text("observations_streams"))
    conn.execute(sql_text("observations_partitions"))
    row = conn.execute(sql_text("observations_insert"), {"source": source}).fetchone()
    staged_ok = int(row[1]) if row else 0
    report.stored = int(row[0]) if row else 0
    report.duplicates = staged_ok - report.stored
    exceeded = conn.execute(sql_text("observations_exceedances")).fetchone()
    report.exceedances = int(exceeded[0]) if exceeded else 0
    conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(_STAGE)))
    return report
