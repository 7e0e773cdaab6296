"""Workload: MQTT end to end, publish → row visible in PostGIS, against the broker's own floor."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench._harness import Context, Result, Timing
from bench._mqtt_clients import STEP_RATE, simulation
from twin._errors import SetupError
from twin.config import get_settings
from twin.mqtt.broker import Broker
from twin.sensors.simulator import register_streams

NAME = "mqtt"
#: Messages per run, and the offered rate of the paced runs (msg/s).
MESSAGES = 60_000
RATE = 5_000.0
#: Timed runs per side at most (each side of a run takes 12 s or more).
MAX_REPEAT = 3
#: Seconds between two looks at ``twin.latest_observations`` (the resolution of "visible").
POLL_S = 0.02
PREFIX = "twin/sensors"
FLOOR_PREFIX = "bench/floor"
#: Synthetic sensors of the benchmark: (kind, observed properties, how many).
SENSORS = (
    ("air_quality", "pm10;pm2.5;no2", 60),
    ("noise", "LAeq;LAmax;LAmin", 40),
    ("traffic_count", "vehicle_count", 60),
    ("parking_occupancy", "occupancy", 290),
    ("fill_level", "fill_level", 550),
)
_STREAMS = sum(n * (3 if kind == "air_quality" else 1) for kind, _, n in SENSORS)
MEASURES = (
    f"A throwaway mosquitto (the project's configuration, `twin.mqtt.broker`) on a free port, "
    f"{sum(n for *_, n in SENSORS):,} synthetic register sensors with {_STREAMS:,} streams "
    "(air quality, noise, traffic counts, parking occupancy, fill levels) in the throwaway "
    f"database, and the readings of `twin simulate` for them (its generator, seeded): {MESSAGES:,} "
    f"messages per run, each a JSON reading on `{PREFIX}/<sensor>/<property>`, published with "
    "QoS 1 by a publisher process of its own (paho, 200 in flight). Ours: a long-running "
    "`twin ingest mqtt` process (defaults: batches of up to 5,000 messages, 0.1 s max wait; "
    "every message written to its SQLite buffer and fsync'd before its PUBACK, then stored "
    "through the ingest path in one transaction per batch), started once before the runs. "
    "A message counts as visible when `twin.latest_observations` holds its datastream at its "
    f"phenomenon time or later; the benchmark looks every {POLL_S * 1000:.0f} ms, so a latency "
    "is an upper bound within that. Timed: first publish to last message visible; latency: "
    "publish (the message handed to the client) to visible, per message. Each run uses new "
    "phenomenon times (nothing is a duplicate) and checks that exactly its messages were "
    "stored, with no dead letter. Floor: the same messages on another topic to a no-op "
    "subscriber process (QoS 1, acknowledged on arrival, nothing stored): the broker and "
    "client transport alone; latency publish to arrival. Paced rows offer "
    f"{RATE:,.0f} msg/s; unpaced rows publish as fast as the publisher goes, which is what "
    f"caps the floor. At most {MAX_REPEAT} timed runs per side, after the warm-up."
)

_SENSORS_SQL = """
INSERT INTO register.sensor (name, kind, observed_properties, lanes, synthetic, geom)
SELECT 'bench ' || %(kind)s || ' ' || n, %(kind)s, %(props)s, 2, true,
       ST_SetSRID(ST_MakePoint(546000 + (n * 37) %% 8000, 154000 + (n * 53) %% 8000), 3794)
FROM generate_series(1, %(n)s) n
"""


@dataclass
class _Side:
    seconds: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    behind: list[float] = field(default_factory=list)

    def add(self, sent_at: np.ndarray, seen_at: np.ndarray, rate: float) -> None:
        latency = seen_at - sent_at
        self.seconds.append(float(seen_at.max() - sent_at.min()))
        self.p50.append(float(np.percentile(latency, 50)))
        self.p99.append(float(np.percentile(latency, 99)))
        if rate > 0:  # how far the publisher itself fell behind its schedule
            schedule = sent_at.min() + np.arange(len(sent_at)) / rate
            self.behind.append(float(np.percentile(sent_at - schedule, 99)))

    def rate(self) -> float:
        return MESSAGES / float(np.median(self.seconds))

    def shown(self) -> str:
        text = (f"{self.rate():,.0f} msg/s, latency p50 {np.median(self.p50) * 1000:,.0f} ms, "
                f"p99 {np.median(self.p99) * 1000:,.0f} ms")  # fmt: skip
        if self.behind:
            text += f" (publisher behind schedule p99 {np.median(self.behind) * 1000:,.0f} ms)"
        return text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _client(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench._mqtt_clients", *args]


class _Visibility(threading.Thread):
    """Watches ``twin.latest_observations`` and notes when each message became visible."""

    def __init__(self, url: str, table: pd.DataFrame, start: pd.Timestamp) -> None:
        super().__init__(daemon=True)
        import psycopg  # noqa: PLC0415 - only this thread connects

        self.conn = psycopg.connect(url, autocommit=True)
        self.index = {(s, p): j for j, (s, p) in enumerate(zip(table["sensor"], table["property"],
                                                               strict=True))}  # fmt: skip
        self.streams = len(table)
        self.start_us = start.value // 1000
        self.step_us = round(1e6 / STEP_RATE)
        self.seen_at = np.full(MESSAGES, np.nan)
        self.done = threading.Event()
        self.stop = threading.Event()
        self._ids: dict[int, int] = {}

    def _refresh(self) -> None:
        rows = self.conn.execute("SELECT id, sensor_id, property FROM twin.datastreams").fetchall()
        self._ids = {i: self.index[(s, p)] for i, s, p in rows if (s, p) in self.index}

    def run(self) -> None:
        while not self.stop.is_set():
            looked = time.time()
            rows = self.conn.execute(
                "SELECT datastream_id, (extract(epoch FROM phenomenon_time) * 1e6)::bigint "
                "FROM twin.latest_observations"
            ).fetchall()
            if any(i not in self._ids for i, _ in rows):
                self._refresh()
            for ident, micros in rows:
                j = self._ids.get(ident)
                if j is None:
                    continue
                last = min((micros - self.start_us) // self.step_us, MESSAGES - 1)
                last -= (last - j) % self.streams
                if last >= 0:
                    ks = np.arange(j, last + 1, self.streams)
                    fresh = ks[np.isnan(self.seen_at[ks])]
                    self.seen_at[fresh] = looked
            if not np.isnan(self.seen_at).any():
                self.done.set()
                return
            time.sleep(POLL_S)

    def close(self) -> None:
        self.stop.set()
        self.join(5)
        self.conn.close()


def _stored(url: str, start: pd.Timestamp) -> tuple[int, int]:
    import psycopg  # noqa: PLC0415

    end = start + pd.Timedelta(seconds=MESSAGES / STEP_RATE)
    with psycopg.connect(url) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM twin.observations WHERE phenomenon_time >= %s "
            "AND phenomenon_time < %s",
            (start, end),
        ).fetchone()
        letters = conn.execute("SELECT count(*) FROM twin.dead_letters").fetchone()
    return int(stored[0] if stored else 0), int(letters[0] if letters else 0)


class _Bench:
    def __init__(self, ctx: Context, work: Path, broker_url: str, table: pd.DataFrame) -> None:
        self.ctx, self.work, self.url, self.table = ctx, work, broker_url, table
        self.streams_file = work / "streams.pkl"
        table.to_pickle(self.streams_file)
        self.runs = 0

    def _start(self) -> pd.Timestamp:
        self.runs += 1  # a new day each run: nothing is a duplicate
        return pd.Timestamp("2026-06-01T08:00:00+02:00") + pd.Timedelta(days=self.runs)

    def _publish(self, start: pd.Timestamp, rate: float, prefix: str) -> np.ndarray:
        out = self.work / f"sent-{self.runs}.npy"
        done = subprocess.run(
            _client("publish", self.url, str(self.streams_file), start.isoformat(),
                    str(MESSAGES), str(rate), str(out), prefix),
            capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
        if done.returncode != 0:
            raise SetupError(f"the benchmark's publisher failed: {done.stderr.strip()[-300:]}")
        sent: np.ndarray = np.load(out)
        return sent

    def ours(self, rate: float) -> tuple[np.ndarray, np.ndarray]:
        start = self._start()
        order = simulation(str(self.streams_file), start.isoformat(), PREFIX).table
        watch = _Visibility(self.ctx.database.url, order, start)
        watch.start()
        try:
            sent = self._publish(start, rate, PREFIX)
            if not watch.done.wait(300):
                missing = int(np.isnan(watch.seen_at).sum())
                raise SetupError(f"{missing:,} messages did not become visible within 300 s")
        finally:
            watch.close()
        stored, letters = _stored(self.ctx.database.url, start)
        if stored != MESSAGES or letters:
            raise SetupError(f"stored {stored:,} of {MESSAGES:,} messages, {letters} dead letters")
        return sent, watch.seen_at

    def floor(self, rate: float) -> tuple[np.ndarray, np.ndarray]:
        start = self._start()
        out = self.work / f"sink-{self.runs}.npz"
        sink = subprocess.Popen(
            _client("sink", self.url, f"{FLOOR_PREFIX}/#", str(MESSAGES), str(out)),
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            if sink.stdout is None or sink.stdout.readline().strip() != "ready":
                raise SetupError("the no-op subscriber did not start")
            sent = self._publish(start, rate, FLOOR_PREFIX)
            sink.wait(120)
        finally:
            if sink.poll() is None:
                sink.kill()
        got = np.load(out)
        if len(got["arrived"]) != MESSAGES:
            raise SetupError(f"the no-op subscriber got {len(got['arrived']):,} of {MESSAGES:,}")
        times = pd.to_datetime(pd.Series(got["stamps"].astype(str)), format="ISO8601", utc=True)
        k = ((times - start).dt.total_seconds() * STEP_RATE).round().astype(int).to_numpy()
        seen = np.full(MESSAGES, np.nan)
        seen[k] = got["arrived"]
        return sent, seen


def _worker(ctx: Context, work: Path, broker_url: str) -> tuple[subprocess.Popen[str], Path]:
    log = work / "worker.log"
    env = {**os.environ, "TWIN_DATABASE_URL": ctx.database.url, "TWIN_MQTT_URL": broker_url,
           "TWIN_MQTT_CLIENT_ID": "bench-ingest"}  # fmt: skip
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "twin.cli", "ingest", "mqtt", "--buffer",
             str(work / "buffer.sqlite")],
            env=env, stdout=fh, stderr=fh, text=True,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while "subscribed" not in log.read_text(encoding="utf-8"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SetupError(f"the ingest worker did not start: {log.read_text()[-300:]}")
        time.sleep(0.1)
    return proc, log


def run(ctx: Context) -> list[Result]:
    """Time MQTT end to end, paced and unpaced, against the broker's no-op floor.

    Parameters
    ----------
    ctx
        The throwaway database and the repetition counts.

    Returns
    -------
    list of Result
        The paced and the unpaced row.

    Raises
    ------
    SetupError
        When a message is lost, stored twice or dead-lettered, or a process fails.
    """
    ctx.database.reset_twin()
    with ctx.database.connect() as conn:
        for kind, props, n in SENSORS:
            conn.execute(_SENSORS_SQL, {"kind": kind, "props": props, "n": n})
    table = register_streams(ctx.database.url)
    repeat = min(ctx.repeat, MAX_REPEAT)
    load = os.getloadavg()[0]  # the machine is shared: say how busy it was
    results = []
    with tempfile.TemporaryDirectory(prefix="twin-bench-mqtt-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # mosquitto, running as its own user, enters it
        settings = get_settings().model_copy(
            update={"cluster_dir": work / "cluster", "mqtt_port": _free_port(), "mqtt_url": None}
        )
        broker = Broker(settings)
        broker_url = broker.up()
        proc = None
        try:
            proc, _ = _worker(ctx, work, broker_url)
            bench = _Bench(ctx, work, broker_url, table)
            for label, rate in ((f"paced, {RATE:,.0f} msg/s offered", RATE), ("unpaced", 0.0)):
                ours, floor = _Side(), _Side()
                for i in range(ctx.warmup + repeat):
                    ctx.log(f"{NAME}: {label}, run {i + 1} of {ctx.warmup + repeat}")
                    sent, seen = bench.ours(rate)
                    sent_f, seen_f = bench.floor(rate)
                    if i >= ctx.warmup:
                        ours.add(sent, seen, rate)
                        floor.add(sent_f, seen_f, rate)
                results.append(
                    Result(
                        workload=f"mqtt: {MESSAGES:,} messages {label}, publish → visible",
                        ours=Timing(tuple(ours.seconds)),
                        baseline="no-op QoS 1 subscriber (broker + client transport floor)",
                        baseline_timing=Timing(tuple(floor.seconds)),
                        notes=f"ours {ours.shown()}; floor {floor.shown()}; "
                        f"{len(table):,} streams; exactly {MESSAGES:,} stored per run, "
                        f"0 dead letters (checked); load average {load:.1f} at the start",
                    )
                )
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(60)
            broker.down()
    return results
