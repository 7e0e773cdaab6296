"""The ingest path: validate readings, store them once, keep the latest value, record alerts.

Every adapter (ARSO XML, CSV, MQTT, HTTP) turns its input into a frame of readings and calls
:func:`ingest`. One transaction: readings that cannot be stored (unknown property or sensor,
wrong unit, time without zone, no value) go to ``twin.dead_letters`` with the reason. The others
are stored once per (datastream, phenomenon time): the batch's keys are checked against each
other (the first reading of a key wins) and against what is already stored, and the new
readings are COPYed (binary) straight into ``twin.observations``, so a replay stores nothing
twice. Should another session store one of the keys in between, the COPY fails on the primary
key, is rolled back to a savepoint and the check runs again. The newest value per datastream
and the threshold exceedances are updated from the rows actually stored.

The work is done per distinct value where it can be (sensor keys, properties, qualities are
validated and resolved once each, not once per reading), so a batch of a million readings
costs little more than the COPY itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from twin.db._sql import sql_text
from twin.load._stage import copy_rows
from twin.sensors import _binary
from twin.sensors.catalog import properties

#: Columns of a readings frame (``phenomenon_end``, ``detection_limit``, ``unit``, ``topic``
#: and ``payload`` are optional).
COLUMNS = ("sensor", "property", "phenomenon_time", "value", "quality")
QUALITIES = ("ok", "below_detection", "suspect")
#: Zone of the calendar days of daily thresholds.
LOCAL_ZONE = "Europe/Ljubljana"
#: How often the check-and-COPY is tried when other sessions keep storing the same keys.
_ATTEMPTS = 5
_COPY = sql.SQL(
    "COPY twin.observations (datastream_id, phenomenon_time, phenomenon_end, value, quality, "
    "detection_limit, source) FROM STDIN WITH (FORMAT binary)"
)
#: Readings per encoded slice of the COPY.
_SLICE = 100_000
_PER_MICRO = {"s": 1_000_000, "ms": 1000, "us": 1}
_KEY = np.dtype([("stream", ">i4"), ("time", ">i8")])


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


@dataclass(frozen=True)
class _Coded:
    """A text column as codes into its distinct values (code -1: missing).

    ``labels`` are distinct; ``per_row`` spreads one value per label (and one for missing)
    over the rows.
    """

    codes: np.ndarray
    labels: np.ndarray

    @classmethod
    def of(cls, values: pd.Series, *, strip: bool) -> _Coded:
        """Code ``values.astype("string")`` (stripped when asked), one conversion per value."""
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        text = pd.Series(uniques, dtype=object).astype("string")
        if strip:
            text = text.str.strip()
        merged, labels = pd.factorize(text.to_numpy(dtype=object))
        # code -1 (missing) picks the appended -1; works when every value is missing too
        codes = np.append(merged, -1)[codes]
        return cls(codes.astype(np.int64), np.asarray(labels, dtype=object))

    def per_row(self, per_label: np.ndarray | list[object], missing: object) -> np.ndarray:
        """Return ``per_label[code]`` for each row, ``missing`` where the value is missing."""
        table = np.empty(len(self.labels) + 1, dtype=np.asarray(per_label).dtype)
        if table.dtype.kind in "US":
            table = table.astype(object)
        table[:-1] = per_label
        table[-1] = missing
        spread: np.ndarray = table[self.codes]  # code -1 picks the last entry
        return spread

    def where(self, test: np.ndarray | list[bool], *, missing: bool = False) -> np.ndarray:
        """Rows whose label passes ``test`` (one bool per label)."""
        return self.per_row(np.asarray(test, dtype=bool), missing).astype(bool)


@dataclass(frozen=True)
class _Checked:
    """The validated frame: first problem per reading ("" when none) and coded columns."""

    reasons: np.ndarray
    sensor: _Coded
    prop: _Coded
    quality: _Coded
    value: np.ndarray


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


def _check(frame: pd.DataFrame) -> _Checked:
    """Find the first reason each reading cannot be stored (empty when it can)."""
    known = properties()
    n = len(frame)
    reason = np.full(n, "", dtype=object)
    open_ = np.ones(n, dtype=bool)

    def flag(mask: np.ndarray, text: str | np.ndarray) -> None:
        hit = mask & open_
        if hit.any():
            reason[hit] = text if isinstance(text, str) else text[hit]
            open_[hit] = False

    sensor = _Coded.of(frame["sensor"], strip=True)
    flag(sensor.where(sensor.labels == "", missing=True), "no sensor id")
    prop = _Coded.of(frame["property"], strip=True)
    flag(
        ~prop.where([p in known for p in prop.labels]),
        prop.per_row(
            np.array([f"unknown observed property {p!r}" for p in prop.labels], dtype=object),
            f"unknown observed property {'(none)'!r}",
        ),
    )
    if "unit" in frame.columns:
        unit = _Coded.of(frame["unit"], strip=True)
        given = unit.per_row(unit.labels, None)
        expected = prop.per_row([known[p].unit if p in known else None for p in prop.labels],
                                None)  # fmt: skip
        candidates = unit.where(unit.labels != "") & prop.where([p in known for p in prop.labels])
        wrong = np.zeros(n, dtype=bool)
        wrong[candidates] = given[candidates] != expected[candidates]
        if wrong.any():
            names = prop.per_row(prop.labels, "")
            text = np.full(n, "", dtype=object)
            text[wrong] = [f"wrong unit {u!r} for {p} (expected {e!r})"
                           for u, p, e in zip(given[wrong], names[wrong], expected[wrong],
                                              strict=True)]  # fmt: skip
            flag(wrong, text)
    times = frame["phenomenon_time"]
    flag(times.isna().to_numpy(), "missing or unreadable timestamp")
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        # mixed input (some times with a zone, some without) arrives as objects
        aware = times.map(lambda t: isinstance(t, pd.Timestamp) and t.tzinfo is not None)
        flag(~aware.to_numpy(dtype=bool), "timestamp without time zone")
    quality = _Coded.of(frame["quality"], strip=False)
    flag(~quality.where([q in QUALITIES for q in quality.labels]), "unknown quality flag")
    value = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    below = quality.where(quality.labels == "below_detection")
    flag(np.isnan(value) & ~below, "no numeric value")
    flag(np.isinf(value), "value is not finite")
    return _Checked(reason, sensor, prop, quality, value)


def _micros(values: pd.Series) -> np.ndarray:
    """Return times as whole microseconds since the Unix epoch (UTC), rounded down."""
    times = pd.to_datetime(values, utc=True)
    unit = str(times.dt.unit)
    raw = times.to_numpy(dtype=f"datetime64[{unit}]").view(np.int64)
    micros: np.ndarray = raw // 1000 if unit == "ns" else raw * _PER_MICRO[unit]
    return micros


def _floats(frame: pd.DataFrame, column: str, rows: np.ndarray) -> np.ndarray:
    """Return a numeric column at ``rows`` (NaN where missing or no number, or no column)."""
    if column not in frame.columns:
        return np.full(len(rows), np.nan)
    values = pd.to_numeric(frame[column].iloc[rows], errors="coerce")
    return values.to_numpy(dtype=float, na_value=np.nan)


def _or_none(values: np.ndarray) -> list[object]:
    """Floats as a list with None for NaN (NULL in SQL)."""
    return [None if v != v else float(v) for v in values.tolist()]  # noqa: PLR0124 - NaN test


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


@dataclass
class _Batch:
    """The readings about to be stored: one entry per reading, aligned arrays."""

    rows: np.ndarray  # positions in the frame
    stream: np.ndarray  # datastream id
    stream_code: np.ndarray  # dense 0..k-1 code of the datastream within the batch
    streams: np.ndarray  # datastream id of each code
    prop: np.ndarray  # property label code
    time: np.ndarray  # microseconds since the Unix epoch
    end: np.ndarray
    end_null: np.ndarray
    value: np.ndarray
    quality: np.ndarray  # quality label code
    limit: np.ndarray

    def take(self, mask: np.ndarray) -> _Batch:
        """Return the readings where ``mask`` holds (the datastream codes are kept)."""
        return _Batch(
            self.rows[mask], self.stream[mask], self.stream_code[mask], self.streams,
            self.prop[mask], self.time[mask], self.end[mask], self.end_null[mask],
            self.value[mask], self.quality[mask], self.limit[mask],
        )  # fmt: skip

    def packed(self, codes: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Return one int64 per (datastream code, time in this batch's span).

        Equal keys give equal numbers; a time between the batch's first and last that no
        reading of the batch has gives -1 when the span is too long to number every
        microsecond of it.
        """
        first = int(self.time.min())
        span = int(self.time.max()) - first + 1
        if len(self.streams) * span < 2**62:
            packed: np.ndarray = codes.astype(np.int64) * span + (times - first)
            return packed
        steps = np.unique(self.time)
        at = np.searchsorted(steps, times).clip(max=len(steps) - 1)
        ranked: np.ndarray = np.where(steps[at] == times, codes * len(steps) + at, -1)
        return ranked


def _dense(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the distinct codes (of ``0..size-1``), and each value's position among them."""
    present = np.flatnonzero(np.bincount(codes, minlength=size))
    position = np.full(size, -1, dtype=np.int64)
    position[present] = np.arange(len(present))
    return present, position[codes]


def _resolve(
    conn: psycopg.Connection, checked: _Checked, good: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Find the register sensor of each good reading, by id or station code.

    Returns
    -------
    tuple of numpy arrays
        Per reading a code into the second array (-1 when the register has no such
        sensor); the distinct register sensor ids.
    """
    used, position = _dense(checked.sensor.codes[good], len(checked.sensor.labels))
    keys = [str(k) for k in checked.sensor.labels[used]]
    found: list[object] = [None] * len(keys)
    for n, sensor_id in conn.execute(sql_text("observations_resolve"), {"keys": keys}):
        found[int(n) - 1] = sensor_id
    sensor_of_key, sensors = pd.factorize(np.asarray(found, dtype=object))
    return sensor_of_key[position], np.asarray(sensors, dtype=object)


def _batch(
    conn: psycopg.Connection, frame: pd.DataFrame, checked: _Checked, rows: np.ndarray,
    sensor_codes: np.ndarray, sensors: np.ndarray, report: IngestReport,
) -> _Batch | None:  # fmt: skip
    """Create the missing datastreams and line the readings up for the COPY."""
    prop_codes = checked.prop.codes[rows]
    n_props = len(checked.prop.labels)
    pairs, pair_of_row = _dense(sensor_codes * n_props + prop_codes, len(sensors) * n_props)
    params = {
        "sensors": [str(s) for s in sensors[pairs // n_props]],
        "properties": [str(p) for p in checked.prop.labels[pairs % n_props]],
    }
    made = conn.execute(sql_text("observations_datastreams"), params).fetchone()
    report.new_datastreams = int(made[0]) if made else 0
    stream_of_pair = np.full(len(pairs), -1, dtype=np.int64)
    for n, stream in conn.execute(sql_text("observations_streams"), params):
        stream_of_pair[int(n) - 1] = int(stream)
    stream = stream_of_pair[pair_of_row]
    has = stream >= 0
    if not has.any():
        return None
    if not has.all():
        rows, stream, pair_of_row = rows[has], stream[has], pair_of_row[has]
    if "phenomenon_end" in frame.columns:
        end_raw = frame["phenomenon_end"].iloc[rows]
        end_null = end_raw.isna().to_numpy()
        end = np.zeros(len(rows), dtype=np.int64)
        if not end_null.all():
            # stored to the whole second, as before
            end[~end_null] = _micros(end_raw[~end_null]) // 1_000_000 * 1_000_000
    else:
        end_null = np.ones(len(rows), dtype=bool)
        end = np.zeros(len(rows), dtype=np.int64)
    return _Batch(
        rows=rows, stream=stream, stream_code=pair_of_row, streams=stream_of_pair,
        prop=checked.prop.codes[rows], time=_micros(frame["phenomenon_time"].iloc[rows]),
        end=end, end_null=end_null, value=checked.value[rows],
        quality=checked.quality.codes[rows], limit=_floats(frame, "detection_limit", rows),
    )  # fmt: skip


def _stored_keys(conn: psycopg.Connection, batch: _Batch) -> np.ndarray:
    """Return the batch's keys that are already stored, packed like :meth:`_Batch.packed`."""
    present = np.unique(batch.stream_code)
    streams = batch.streams[present]
    params = {
        "streams": [int(s) for s in streams],
        "first": pd.Timestamp(int(batch.time.min()), unit="us", tz="UTC").to_pydatetime(),
        "last": pd.Timestamp(int(batch.time.max()), unit="us", tz="UTC").to_pydatetime(),
    }
    row = conn.execute(sql_text("observations_existing"), params).fetchone()
    if row is None or row[0] is None:
        return np.empty(0, dtype=np.int64)
    keys = np.frombuffer(bytes(row[0]), dtype=_KEY)
    order = np.argsort(streams)
    codes = present[order][np.searchsorted(streams[order], keys["stream"].astype(np.int64))]
    return batch.packed(codes, keys["time"].astype(np.int64) + _binary.PG_EPOCH_US)


def _copy(conn: psycopg.Connection, batch: _Batch, labels: np.ndarray, source: str) -> None:
    """COPY the batch into ``twin.observations`` (binary, NULLs where missing)."""
    qualities = tuple(str(q) for q in labels)
    cur = conn.cursor()
    # The slices are encoded while a writer thread sends the previous ones: the server
    # already stores rows while Python encodes the next.
    with cur.copy(_COPY, writer=QueuedLibpqWriter(cur)) as cp:
        cp.write(_binary.HEADER)
        for start in range(0, len(batch.rows), _SLICE):
            part = slice(start, start + _SLICE)
            fields = [
                _binary.Field("int4", batch.stream[part]),
                _binary.Field("timestamptz", batch.time[part] - _binary.PG_EPOCH_US),
                _binary.Field("timestamptz", batch.end[part] - _binary.PG_EPOCH_US,
                              batch.end_null[part]),
                _binary.Field("float8", batch.value[part], np.isnan(batch.value[part])),
                _binary.Field("text", batch.quality[part], labels=qualities),
                _binary.Field("float8", batch.limit[part], np.isnan(batch.limit[part])),
                _binary.Field("text", np.zeros(len(batch.stream[part]), dtype=np.int64),
                              labels=(source,)),
            ]  # fmt: skip
            for chunk in _binary.encode(fields):
                cp.write(chunk)
        cp.write(_binary.TRAILER)


def _store(conn: psycopg.Connection, batch: _Batch, labels: np.ndarray, source: str) -> _Batch:
    """Store the batch's readings whose key is new; return them."""
    packed = batch.packed(batch.stream_code, batch.time)
    first_of_key = ~pd.Series(packed).duplicated().to_numpy()
    for attempt in range(1, _ATTEMPTS + 1):
        stored = _stored_keys(conn, batch)
        new = first_of_key
        if len(stored):
            new = new & ~pd.Series(packed).isin(stored).to_numpy()
        fresh = batch if new.all() else batch.take(new)
        if not len(fresh.rows):
            return fresh
        conn.execute(
            sql_text("observations_partitions"),
            {
                "first": pd.Timestamp(int(fresh.time.min()), unit="us", tz="UTC").to_pydatetime(),
                "last": pd.Timestamp(int(fresh.time.max()), unit="us", tz="UTC").to_pydatetime(),
            },
        )
        try:
            with conn.transaction():  # a savepoint: a clash rolls back the COPY alone
                _copy(conn, fresh, labels, source)
        except psycopg.errors.UniqueViolation:
            if attempt == _ATTEMPTS:
                raise
            continue
        return fresh
    raise AssertionError("unreachable")  # pragma: no cover


def _latest(conn: psycopg.Connection, fresh: _Batch, labels: np.ndarray) -> None:
    """Keep the newest stored reading of each datastream in ``twin.latest_observations``."""
    order = np.lexsort((fresh.time, fresh.stream))
    streams = fresh.stream[order]
    newest = order[np.r_[streams[1:] != streams[:-1], True]]
    conn.execute(
        sql_text("observations_latest"),
        {
            "streams": fresh.stream[newest].tolist(),
            "times": fresh.time[newest].tolist(),
            "values": _or_none(fresh.value[newest]),
            "qualities": [str(q) for q in labels[fresh.quality[newest]]],
            "limits": _or_none(fresh.limit[newest]),
        },
    )


def _exceedances(conn: psycopg.Connection, fresh: _Batch, checked: _Checked) -> int:
    """Record the threshold exceedances of the stored readings; return how many."""
    numeric = ~np.isnan(fresh.value)
    lists: dict[str, list[object]] = {
        f"{p}_{c}": [] for p, cs in (("h", ("streams", "thresholds", "times", "values")),
                                    ("e", ("streams", "thresholds", "times", "limits")),
                                    ("d", ("streams", "thresholds", "limits", "days")))
        for c in cs
    }  # fmt: skip
    names = checked.prop.labels
    for threshold_id, prop, averaging, limit in conn.execute(sql_text("observations_thresholds")):
        of_prop = np.flatnonzero(names == prop)
        if not len(of_prop):
            continue
        rows = numeric & np.isin(fresh.prop, of_prop)
        if averaging == "1h":
            rows &= fresh.value > limit
            stem, extra = "h", fresh.value[rows].tolist()
        elif averaging == "8h":
            stem, extra = "e", [limit] * int(rows.sum())
        else:
            local = pd.to_datetime(fresh.time[rows], unit="us", utc=True).tz_convert(LOCAL_ZONE)
            days = local.tz_localize(None).to_numpy().astype("datetime64[D]")
            pairs = pd.DataFrame({"stream": fresh.stream[rows], "day": days}).drop_duplicates()
            lists["d_streams"] += pairs["stream"].tolist()
            lists["d_thresholds"] += [threshold_id] * len(pairs)
            lists["d_limits"] += [limit] * len(pairs)
            lists["d_days"] += list(pairs["day"].to_numpy().astype("datetime64[D]").astype(object))
            continue
        lists[f"{stem}_streams"] += fresh.stream[rows].tolist()
        lists[f"{stem}_thresholds"] += [threshold_id] * int(rows.sum())
        lists[f"{stem}_times"] += fresh.time[rows].tolist()
        lists[f"{stem}_{'values' if stem == 'h' else 'limits'}"] += extra
    if not any(lists.values()):
        return 0
    row = conn.execute(sql_text("observations_exceedances"), lists).fetchone()
    return int(row[0]) if row else 0


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
        Received, stored, duplicates (already stored, or repeated within the batch: the
        first wins), dead letters and exceedances.
    """
    report = IngestReport(received=len(frame))
    if frame.empty:
        return report
    frame = frame.reset_index(drop=True)
    checked = _check(frame)
    bad = checked.reasons != ""
    topics = frame["topic"] if "topic" in frame.columns else None
    if bad.any():
        reasons = pd.Series(checked.reasons[bad], index=frame.index[bad])
        report.dead_letters += dead_letter(
            conn, source, _payloads(frame[bad]), reasons,
            topics[bad] if topics is not None else None,
        )  # fmt: skip
        for reason, count in reasons.value_counts().items():
            report.reasons[str(reason)] = int(count)
    good = np.flatnonzero(~bad)
    if not len(good):
        return report
    sensor_codes, sensors = _resolve(conn, checked, good)
    unknown = sensor_codes < 0
    if unknown.any():
        rows = good[unknown]
        keys = checked.sensor.labels[checked.sensor.codes[rows]]
        why = pd.Series([f"unknown sensor {k!r}" for k in keys], index=rows)
        report.dead_letters += dead_letter(
            conn, source, _payloads(frame.iloc[rows]), why,
            topics.iloc[rows] if topics is not None else None,
        )  # fmt: skip
        for reason, count in why.value_counts().items():
            report.reasons[str(reason)] = report.reasons.get(str(reason), 0) + int(count)
        good, sensor_codes = good[~unknown], sensor_codes[~unknown]
        if not len(good):
            return report
    batch = _batch(conn, frame, checked, good, sensor_codes, sensors, report)
    if batch is None:
        return report
    fresh = _store(conn, batch, checked.quality.labels, source)
    report.stored = len(fresh.rows)
    report.duplicates = len(batch.rows) - report.stored
    if report.stored:
        _latest(conn, fresh, checked.quality.labels)
        report.exceedances = _exceedances(conn, fresh, checked)
    return report
