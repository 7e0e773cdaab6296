"""Workload: the sensor ingest path in bulk, and the latest value per datastream for the map."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bench._harness import Context, Result, Timing, measure
from bench.synth_city import run_measured
from twin._errors import SetupError
from twin.db._sql import sql_text
from twin.db.engine import connect, libpq_env, sqlalchemy_url
from twin.sensors.latest import latest
from twin.sensors.observations import IngestReport, ingest

NAME = "sensors"

#: Bulk ingest: sensors x properties x hourly readings = observations per batch.
INGEST_SENSORS = 1_000
INGEST_PROPERTIES = ("no2", "pm10", "pm2.5", "o3", "temperature")
INGEST_HOURS = 200
INGEST_START = "2026-01-25T00:00:00Z"  # the batch crosses a month: two partitions
#: The ORM baseline stores this many of the same readings (its rate is scaled up).
ORM_ROWS = 20_000
#: Latest value: sensors (half air quality with no2 and pm10, half weather with temperature
#: and humidity), readings per datastream, hours between readings.
LATEST_SENSORS = 10_000
LATEST_PER_STREAM = 500
LATEST_STEP_HOURS = 4
_SOURCE = "bench"
_COLUMNS = "datastream_id, phenomenon_time, phenomenon_end, value, quality, detection_limit, source"
_N_INGEST = INGEST_SENSORS * len(INGEST_PROPERTIES) * INGEST_HOURS
_N_LATEST = LATEST_SENSORS * 2 * LATEST_PER_STREAM

MEASURES = (
    f"**Bulk ingest.** Ours: `twin.sensors.observations.ingest(conn, frame, 'bench')` + commit, "
    f"in-process on an open connection, for one frame of {_N_INGEST:,} readings "
    f"({INGEST_SENSORS:,} register sensors times {len(INGEST_PROPERTIES)} properties "
    f"({', '.join(INGEST_PROPERTIES)}) times {INGEST_HOURS} hourly readings from {INGEST_START}, "
    "values drawn so that some exceed the NO₂/O₃ hourly and PM10 daily thresholds; the frame is "
    "built untimed). Timed: validation of every reading, sensor and datastream resolution "
    "(the datastreams are created by the first run: all tables of the sensor layer are "
    "emptied and the monthly partitions dropped before each repetition, untimed), partition "
    "creation, the replay check, the binary COPY into `twin.observations`, the latest value "
    "per datastream and the threshold exceedances, in one transaction. The same call again "
    "with the same frame (a replay: nothing stored) is a row of its own. Floor: the rows ours "
    "stored, dumped once to CSV (`psql \\copy (SELECT …) TO`, untimed), loaded by one "
    "`psql -1 -c '\\copy twin.observations (…) FROM … CSV'` process into the emptied "
    "partitioned table (partitions kept; primary key and BRIN index in place), timed end to "
    "end as in the synth-city workload: no validation, no replay check, no latest value, no "
    f"exceedances. Baseline: SQLAlchemy ORM, the first {ORM_ROWS:,} readings as plain "
    "Python records (untimed), timed: the datastream ids looked up once, one mapped "
    "`Observation` object per reading, `session.add_all` + `commit` (SQLAlchemy 2 batches "
    "these into multi-row INSERTs, fetching the server default `result_time` with RETURNING); "
    f"its time is scaled linearly to {_N_INGEST:,} readings for the ratio. It does no "
    "validation, no replay check, no latest value, no exceedances. A `CHECKPOINT` precedes "
    "every timed side, the sides run interleaved. "
    f"**Latest value.** {LATEST_SENSORS:,} register sensors (half air quality with no2 and "
    f"pm10, half weather with temperature and humidity), {LATEST_SENSORS * 2:,} "
    f"datastreams with {LATEST_PER_STREAM} readings each every {LATEST_STEP_HOURS} hours up "
    f"to now ({_N_LATEST:,} observations over the monthly partitions), written by one SQL "
    "`INSERT … SELECT … generate_series` and `twin.latest_observations` filled as the ingest "
    "path leaves it by one `INSERT … SELECT DISTINCT ON` (both untimed), then `VACUUM "
    "ANALYZE`. Ours: `twin.sensors.latest.latest(conn)`, what the map and the Sensors page "
    "call every few seconds, on an open connection: the newest value of every datastream "
    "with its sensor, D96/TM and WGS84 position, property, unit, stale flag and threshold "
    "state, as a pandas DataFrame. It reads the newest readings "
    "(`twin.latest_observations`, kept by the ingest path) on every call, packed by the "
    "server into one bytea of fixed-width records read by numpy in one call, and joins them "
    "to the sensors, datastreams and thresholds it keeps in the process until "
    "`sensors_latest_key.sql` (register version, newest datastream, thresholds; checked on "
    "every call) reports a change; the first call, which reads those too, is in the notes. "
    "Baseline: the same frame as one plain query, `twin/db/sql/sensors_latest.sql` with "
    "`twin.latest_observations` replaced by `SELECT DISTINCT ON (datastream_id) … FROM "
    "twin.observations ORDER BY datastream_id, phenomenon_time DESC` over the raw table, "
    "executed and fetched (binary) by psycopg; its server execution time is reported too. "
    "A second row times `sensors_latest.sql` itself (the same join over "
    "`twin.latest_observations`, no cache) against the same baseline. Checked: all three "
    "give the same rows, values, stale flags and threshold states. Each repetition runs "
    "ours, the plain query and the baseline once, one after another."
)


class _Base(DeclarativeBase):
    pass


class _Observation(_Base):
    """``twin.observations`` as an ORM class (the baseline only)."""

    __tablename__ = "observations"
    __table_args__ = {"schema": "twin"}  # noqa: RUF012 - SQLAlchemy's declarative form

    datastream_id: Mapped[int] = mapped_column(primary_key=True)
    phenomenon_time: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), primary_key=True)
    phenomenon_end: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    value: Mapped[float | None]
    quality: Mapped[str]
    detection_limit: Mapped[float | None]
    result_time: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    source: Mapped[str]


@dataclass
class _IngestRuns:
    ours: list[float] = field(default_factory=list)
    replay: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    orm: list[float] = field(default_factory=list)
    report: IngestReport = field(default_factory=IngestReport)
    csv_mib: float = 0.0


def _sensors(ctx: Context, count: int, kind_of: str, properties_of: str, interval_s: int) -> None:
    """Create ``count`` register sensors ``sensor:bench-NNNNN`` on a grid in the city."""
    with ctx.database.connect() as conn:
        conn.execute(
            "SELECT set_config('twin.user', 'bench', false), "
            "set_config('twin.reason', 'benchmark sensors', false)"
        )
        conn.execute(
            "INSERT INTO register.sensor (id, name, kind, observed_properties, "
            "reporting_interval_s, geom) "
            "SELECT format('sensor:bench-%%s', lpad(i::text, 5, '0')), "
            f"format('Bench sensor %%s', i), {kind_of}, {properties_of}, %s, "
            "ST_SetSRID(ST_MakePoint(546000 + (i %% 100) * 40, 155000 + (i / 100) * 40), 3794) "
            "FROM generate_series(0, %s - 1) i ON CONFLICT (id) DO NOTHING",
            [interval_s, count],
        )


def _drop_sensors(ctx: Context) -> None:
    with ctx.database.connect() as conn:
        conn.execute("SELECT set_config('twin.user', 'bench', false)")
        conn.execute("DELETE FROM register.sensor WHERE id LIKE 'sensor:bench-%'")


def _checkpoint(ctx: Context) -> None:
    with ctx.database.connect() as conn:
        conn.execute("CHECKPOINT")


def _empty_sensor_layer(ctx: Context, *, partitions: bool) -> None:
    """Empty observations, latest values, exceedances, datastreams (and drop the partitions)."""
    with ctx.database.connect() as conn:
        conn.execute(
            "TRUNCATE twin.observations, twin.latest_observations, twin.exceedances, "
            "twin.datastreams, twin.dead_letters RESTART IDENTITY"
        )
        if partitions:
            for (name,) in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'twin.observations'::regclass"
            ).fetchall():
                conn.execute(
                    psycopg.sql.SQL("DROP TABLE {}").format(psycopg.sql.Identifier("twin", name))
                )


def ingest_frame() -> pd.DataFrame:
    """Return the bulk batch: every sensor, property and hour, in that order."""
    sensors = np.array([f"sensor:bench-{i:05d}" for i in range(INGEST_SENSORS)], dtype=object)
    props = np.array(INGEST_PROPERTIES, dtype=object)
    times = pd.date_range(INGEST_START, periods=INGEST_HOURS, freq="h")
    s, p, t = (a.ravel() for a in np.meshgrid(
        np.arange(INGEST_SENSORS), np.arange(len(props)), np.arange(INGEST_HOURS), indexing="ij"
    ))  # fmt: skip
    rng = np.random.default_rng(6)
    # typical levels (µg/m³, °C) with a long tail: a few NO2/O3 hours and PM10 days exceed
    shape = np.array([2.0, 3.0, 3.0, 4.0, 0.0])[p]
    mean = np.array([45.0, 35.0, 20.0, 80.0, 0.0])[p]
    value = np.where(shape > 0, rng.gamma(np.maximum(shape, 1), mean / np.maximum(shape, 1)),
                     rng.normal(4.0, 5.0, len(p)))  # fmt: skip
    return pd.DataFrame(
        {
            "sensor": sensors[s],
            "property": props[p],
            "phenomenon_time": times[t],
            "value": value.round(1),
            "quality": "ok",
        }
    )


def _ours(ctx: Context, frame: pd.DataFrame) -> tuple[float, IngestReport]:
    with connect(ctx.database.url) as conn:
        start = time.perf_counter()
        report = ingest(conn, frame, _SOURCE)
        conn.commit()
        return time.perf_counter() - start, report


def _count(ctx: Context, query: str) -> int:
    with ctx.database.connect() as conn:
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def _psql() -> str:
    psql = shutil.which("psql")
    if psql is None:
        raise SetupError("psql is not installed; run `apt-get install postgresql-client`")
    return psql


def _quoted(path: Path) -> str:
    if "'" in str(path):
        raise SetupError(f"cannot pass {path} to psql \\copy (it contains a quote)")
    return f"'{path}'"


def _dump_csv(ctx: Context, psql: str, path: Path) -> None:
    dsn, env = libpq_env(ctx.database.url)
    command = (
        f"\\copy (SELECT {_COLUMNS} FROM twin.observations ORDER BY datastream_id, "
        f"phenomenon_time) TO {_quoted(path)} WITH (FORMAT csv)"
    )
    run_measured([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", command], env,
                 "psql \\copy … TO")  # fmt: skip


def _floor(ctx: Context, psql: str, path: Path) -> float:
    dsn, env = libpq_env(ctx.database.url)
    command = f"\\copy twin.observations ({_COLUMNS}) FROM {_quoted(path)} WITH (FORMAT csv)"
    done = run_measured(
        [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-d", dsn, "-c", command], env,
        "psql \\copy … FROM",
    )  # fmt: skip
    return done.seconds


def _orm_records(frame: pd.DataFrame) -> list[tuple[str, str, datetime, float, str]]:
    """The first readings as plain Python records, as an application would hold them."""
    head = frame.iloc[:ORM_ROWS]
    return list(zip(head["sensor"], head["property"], head["phenomenon_time"].dt.to_pydatetime(),
                    head["value"].astype(float), head["quality"], strict=True))  # fmt: skip


def _orm(engine: sa.Engine, records: list[tuple[str, str, datetime, float, str]]) -> float:
    start = time.perf_counter()
    with Session(engine) as session:
        streams = {
            (sensor, prop): stream
            for stream, sensor, prop in session.execute(
                sa.text("SELECT id, sensor_id, property FROM twin.datastreams")
            )
        }
        session.add_all(
            _Observation(datastream_id=streams[(sensor, prop)], phenomenon_time=when,
                         value=value, quality=quality, source=_SOURCE)
            for sensor, prop, when, value, quality in records
        )  # fmt: skip
        session.commit()
    return time.perf_counter() - start


def _measure_ingest(ctx: Context) -> _IngestRuns:
    psql = _psql()
    ctx.database.reset_twin()
    _drop_sensors(ctx)
    _sensors(ctx, INGEST_SENSORS, "'air_quality'", "'no2;pm10;pm2.5;o3;temperature'", 3600)
    frame = ingest_frame()
    records = _orm_records(frame)
    engine = sa.create_engine(sqlalchemy_url(ctx.database.url))
    runs = _IngestRuns()
    try:
        with tempfile.TemporaryDirectory(prefix="twin-bench-sensors-") as tmp:
            csv_path = Path(tmp) / "observations.csv"
            for i in range(ctx.warmup + ctx.repeat):
                timed = i >= ctx.warmup
                which = f"run {i - ctx.warmup + 1}" if timed else "warm-up"
                ctx.log(f"{NAME}: ingest {which}")
                _empty_sensor_layer(ctx, partitions=True)
                _checkpoint(ctx)
                ours_s, report = _ours(ctx, frame)
                stored = _count(ctx, "SELECT count(*) FROM twin.observations")
                if report.stored != _N_INGEST or stored != _N_INGEST or report.dead_letters:
                    raise SetupError(
                        f"ingest stored {report.stored} ({stored} in the table), "
                        f"{report.dead_letters} dead letters; expected {_N_INGEST}"
                    )
                _checkpoint(ctx)
                replay_s, again = _ours(ctx, frame)
                if again.stored or again.duplicates != _N_INGEST:
                    raise SetupError(f"the replay stored {again.stored} readings; expected none")
                if not csv_path.exists():
                    _dump_csv(ctx, psql, csv_path)
                    runs.csv_mib = csv_path.stat().st_size / 1024**2
                with ctx.database.connect() as conn:
                    conn.execute("TRUNCATE twin.observations")
                _checkpoint(ctx)
                floor_s = _floor(ctx, psql, csv_path)
                if _count(ctx, "SELECT count(*) FROM twin.observations") != _N_INGEST:
                    raise SetupError("psql \\copy did not store every row")
                with ctx.database.connect() as conn:
                    conn.execute("TRUNCATE twin.observations")
                _checkpoint(ctx)
                orm_s = _orm(engine, records)
                if _count(ctx, "SELECT count(*) FROM twin.observations") != ORM_ROWS:
                    raise SetupError("the ORM baseline did not store every row")
                ctx.log(f"{NAME}: ingest {ours_s:.2f} s, replay {replay_s:.2f} s, "
                        f"psql {floor_s:.2f} s, ORM {orm_s:.2f} s for {ORM_ROWS}")  # fmt: skip
                if timed:
                    runs.ours.append(ours_s)
                    runs.replay.append(replay_s)
                    runs.floor.append(floor_s)
                    runs.orm.append(orm_s)
                    runs.report = report
    finally:
        engine.dispose()
    return runs


def _ingest_results(runs: _IngestRuns) -> list[Result]:
    ours = Timing(tuple(runs.ours))
    floor = Timing(tuple(runs.floor))
    scale = _N_INGEST / ORM_ROWS
    orm = Timing(tuple(s * scale for s in runs.orm))
    orm_rate = ORM_ROWS / Timing(tuple(runs.orm)).median
    r = runs.report
    label = f"{NAME}: bulk ingest {_N_INGEST:,} observations, `ingest()`"
    rate = _N_INGEST / ours.median
    replay = Timing(tuple(runs.replay))
    return [
        Result(
            f"{label} vs `psql \\copy` (floor)",
            ours,
            "`psql -1 -c '\\copy twin.observations … FROM … CSV'` (floor)",
            floor,
            f"ours {rate:,.0f} obs/s, floor {_N_INGEST / floor.median:,.0f} obs/s: ours is "
            f"{100 * floor.median / ours.median:.0f} % of the floor (aim ≥ 50 %). Ours "
            f"stored {r.stored:,} readings, created {r.new_datastreams:,} datastreams and their "
            f"partitions, kept {r.new_datastreams:,} latest values and recorded "
            f"{r.exceedances:,} exceedances, in one transaction; the floor only copies the "
            f"same {_N_INGEST:,} rows ({runs.csv_mib:.0f} MiB CSV)",
        ),
        Result(
            f"{label} vs ORM row inserts (baseline)",
            ours,
            f"ORM `add_all` + `commit`, {ORM_ROWS:,} readings, time scaled x{scale:.0f}",
            orm,
            f"ours {rate:,.0f} obs/s, ORM {orm_rate:,.0f} obs/s (measured on {ORM_ROWS:,} "
            f"readings, median {Timing(tuple(runs.orm)).median:.3f} s, time scaled linearly to "
            f"{_N_INGEST:,}); the ORM only inserts, with no validation, replay check, latest "
            "value or exceedances",
        ),
        Result(
            f"{NAME}: replay of the same {_N_INGEST:,} observations (nothing stored)",
            replay,
            "—",
            None,
            f"`ingest()` of the same frame again: validated and resolved again, all "
            f"{_N_INGEST:,} found already stored ({_N_INGEST / replay.median:,.0f} readings/s "
            "checked), nothing written",
        ),
    ]


_FILL_STREAMS = """
INSERT INTO twin.datastreams (sensor_id, property, unit)
SELECT s.id, p.property, op.unit
FROM register.sensor s
CROSS JOIN LATERAL unnest(string_to_array(s.observed_properties, ';')) AS p (property)
JOIN twin.observed_properties op ON op.id = p.property
WHERE s.id LIKE 'sensor:bench-%'
ORDER BY s.id, p.property
"""
_FILL_OBSERVATIONS = """
INSERT INTO twin.observations (datastream_id, phenomenon_time, value, quality, source)
SELECT d.id,
       date_trunc('hour', now()) - (%(last)s - k) * %(step)s * interval '1 hour'
           - (d.id %% 240) * interval '1 minute',
       round((CASE d.property WHEN 'no2' THEN 10 + 60 * random() + 150 * random() ^ 8
                              WHEN 'pm10' THEN 10 + 40 * random() + 30 * random() ^ 4
                              WHEN 'temperature' THEN -5 + 25 * random()
                              ELSE 30 + 65 * random() END)::numeric, 1)::double precision,
       'ok', 'bench'
FROM twin.datastreams d
CROSS JOIN generate_series(0, %(last)s) k
ORDER BY d.id, k
"""
_FILL_LATEST = """
INSERT INTO twin.latest_observations
    (datastream_id, phenomenon_time, value, quality, detection_limit, result_time)
SELECT DISTINCT ON (datastream_id)
       datastream_id, phenomenon_time, value, quality, detection_limit, result_time
FROM twin.observations
ORDER BY datastream_id, phenomenon_time DESC
"""
_RAW_LATEST = (
    "(SELECT DISTINCT ON (datastream_id) datastream_id, phenomenon_time, value, quality, "
    "detection_limit FROM twin.observations ORDER BY datastream_id, phenomenon_time DESC)"
)


def naive_latest_query() -> str:
    """The map's query reading the raw observations with ``DISTINCT ON`` (the baseline)."""
    ours = sql_text("sensors_latest")
    table = "FROM twin.latest_observations l"
    if ours.count(table) != 1:
        raise SetupError(f"sensors_latest.sql no longer reads {table!r} once; adapt the baseline")
    return ours.replace(table, f"FROM {_RAW_LATEST} l")


def _fill_latest(ctx: Context) -> dict[str, float]:
    ctx.database.reset_twin()
    _drop_sensors(ctx)
    _sensors(
        ctx, LATEST_SENSORS,
        f"CASE WHEN i < {LATEST_SENSORS} / 2 THEN 'air_quality' ELSE 'weather' END",
        f"CASE WHEN i < {LATEST_SENSORS} / 2 THEN 'no2;pm10' ELSE 'temperature;humidity' END",
        LATEST_STEP_HOURS * 3600,
    )  # fmt: skip
    seconds: dict[str, float] = {}
    with ctx.database.connect() as conn:
        seconds["datastreams"], _ = measure(lambda: conn.execute(_FILL_STREAMS))
        last = LATEST_PER_STREAM - 1
        conn.execute(
            "SELECT twin.ensure_observation_partitions("
            "date_trunc('hour', now()) - %s * interval '1 hour' - interval '4 hours', now())",
            [last * LATEST_STEP_HOURS],
        )
        conn.execute("SELECT setseed(0.6)")
        seconds["observations"], _ = measure(
            lambda: conn.execute(_FILL_OBSERVATIONS, {"last": last, "step": LATEST_STEP_HOURS})
        )
        seconds["latest"], _ = measure(lambda: conn.execute(_FILL_LATEST))
        seconds["vacuum"], _ = measure(lambda: conn.execute("VACUUM ANALYZE"))
    return seconds


def _timed_query(conn: psycopg.Connection, query: str) -> tuple[float, list[tuple[object, ...]]]:
    start = time.perf_counter()
    rows = conn.cursor(binary=True).execute(query).fetchall()
    return time.perf_counter() - start, rows


def _server_ms(conn: psycopg.Connection, query: str) -> float:
    """Execution time the server reports (EXPLAIN ANALYZE without per-node timing)."""
    row = conn.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + query).fetchone()
    return float(row[0][0]["Execution Time"]) if row else float("nan")


def _key(row: tuple[object, ...]) -> int:
    return int(str(row[0]))


_COMPARED = ["datastream_id", "sensor_id", "property", "value", "stale", "threshold_state"]


def _frame_rows(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    """The rows of a latest-value frame that the check compares, in datastream order."""
    part = frame[_COMPARED].sort_values("datastream_id")
    part = part.assign(
        value=part["value"].astype(float).round(9).fillna(-1e300),
        threshold_state=part["threshold_state"].astype("string").fillna(""),
        stale=part["stale"].astype(bool),
        sensor_id=part["sensor_id"].astype(str),
    )
    return list(part.itertuples(index=False, name=None))


def _measure_latest(ctx: Context) -> list[Result]:
    ctx.log(f"{NAME}: filling {_N_LATEST:,} observations for the latest-value query (untimed)")
    fill = _fill_latest(ctx)
    ctx.log(f"{NAME}: fill took " + ", ".join(f"{k} {v:.1f} s" for k, v in fill.items()))
    n_obs = _count(ctx, "SELECT count(*) FROM twin.observations")
    n_streams = _count(ctx, "SELECT count(*) FROM twin.latest_observations")
    n_partitions = _count(
        ctx, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'twin.observations'::regclass"
    )
    if n_obs != _N_LATEST:
        raise SetupError(f"the fill wrote {n_obs} observations, expected {_N_LATEST}")
    plain_query, naive_query = sql_text("sensors_latest"), naive_latest_query()
    runs: dict[str, list[float]] = {"ours": [], "plain": [], "naive": [], "server": []}
    with connect(ctx.database.url, autocommit=True) as conn:
        names = [c.name for c in conn.execute(plain_query + " LIMIT 0").description or ()]
        first_s, frame = measure(lambda: latest(conn))  # reads the sensors into the cache
        for i in range(ctx.warmup + ctx.repeat):
            ours_s, frame = measure(lambda: latest(conn))
            plain_s, plain_rows = _timed_query(conn, plain_query)
            naive_s, naive_rows = _timed_query(conn, naive_query)
            if sorted(plain_rows, key=_key) != sorted(naive_rows, key=_key):
                raise SetupError("the latest-value query and the DISTINCT ON baseline disagree")
            if _frame_rows(frame) != _frame_rows(pd.DataFrame(naive_rows, columns=names)):
                raise SetupError("latest() and the DISTINCT ON baseline disagree")
            if len(plain_rows) != n_streams or len(frame) != n_streams:
                raise SetupError(f"the latest-value query returned {len(plain_rows)} rows")
            ctx.log(f"{NAME}: latest() {1000 * ours_s:.1f} ms, sensors_latest.sql "
                    f"{1000 * plain_s:.1f} ms, DISTINCT ON {naive_s:.2f} s")  # fmt: skip
            if i >= ctx.warmup:
                runs["ours"].append(ours_s)
                runs["plain"].append(plain_s)
                runs["naive"].append(naive_s)
                runs["server"].append(_server_ms(conn, plain_query) / 1000)
        naive_server_s = _server_ms(conn, naive_query) / 1000
    ours = Timing(tuple(runs["ours"]))
    plain = Timing(tuple(runs["plain"]))
    server = Timing(tuple(runs["server"]))
    naive = Timing(tuple(runs["naive"]))
    states = frame["threshold_state"].fillna("none").value_counts().sort_index()
    label = f"{NAME}: latest value of {n_streams:,} datastreams ({LATEST_SENSORS:,} sensors) over "
    label += f"{_N_LATEST:,} observations"
    baseline = "the same frame from `SELECT DISTINCT ON (datastream_id) … FROM twin.observations`"
    return [
        Result(
            f"{label}, `twin.sensors.latest.latest()` (the map's frame)",
            ours,
            baseline,
            naive,
            f"ours {1000 * ours.median:.1f} ms median (aim < 20 ms): all {n_streams:,} rows as "
            f"a DataFrame of 19 columns, on an open connection, the sensors cached; the first "
            f"call, which also reads the sensors, datastreams and thresholds, took "
            f"{1000 * first_s:.0f} ms. Baseline: execute + fetch, binary; its server execution "
            f"time {naive_server_s:.2f} s. {n_partitions} monthly partitions. The same rows, "
            "values, stale flags and threshold states (checked). Threshold states: "
            + ", ".join(f"{k} {v:,}" for k, v in states.items()),
        ),
        Result(
            f"{label}, `sensors_latest.sql` (one plain query, no cache)",
            plain,
            baseline,
            naive,
            f"the same frame as one join over `twin.latest_observations`, execute + fetch of "
            f"all {n_streams:,} rows (14 columns, binary) as Python tuples: "
            f"{1000 * plain.median:.1f} ms median, of which the server's own execution time "
            f"(EXPLAIN ANALYZE, TIMING OFF) {1000 * server.median:.1f} ms "
            f"(min {1000 * server.min:.1f}); the rest is making a Python object of every value. "
            "Fill (untimed): " + ", ".join(f"{k} {v:.0f} s" for k, v in fill.items()),
        ),
    ]


def run(ctx: Context) -> list[Result]:
    """Time the bulk ingest (vs the floor and the ORM) and the latest-value query.

    Parameters
    ----------
    ctx
        The throwaway database and the repetition counts.

    Returns
    -------
    list of Result
        Bulk ingest vs floor, vs ORM, the replay, and the latest-value query.

    Raises
    ------
    SetupError
        When psql is missing, or a side stores or returns other rows than expected.
    """
    try:
        results = _ingest_results(_measure_ingest(ctx))
        results += _measure_latest(ctx)
    finally:
        ctx.database.reset_twin()
        _drop_sensors(ctx)
    return results
