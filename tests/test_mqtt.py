"""MQTT: the own broker, the ingest worker (nothing lost, nothing twice), dead letters, simulator.

Against the test run's own mosquitto (fixture ``mqtt_url``) and a database of its own in the
throwaway cluster; the worker runs as a real process, so it can be killed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from twin import db
from twin._errors import SetupError
from twin.config import get_settings
from twin.db.cluster import LocalCluster
from twin.mqtt import broker as broker_module
from twin.mqtt.broker import Broker
from twin.mqtt.client import Publisher, parse_url
from twin.mqtt.messages import readings
from twin.sensors.simulator import Simulation, streams, traffic

PREFIX = "twin/sensors"
#: Sensors of the 100,000-message test (noise has no threshold: no exceedance work).
CODES = [f"MQTT-{n:03d}" for n in range(1, 101)]
T0 = pd.Timestamp("2026-10-01T00:00:00+02:00")

SENSORS_SQL = """
INSERT INTO register.sensor (name, kind, observed_properties, station_code, synthetic, geom)
SELECT 'mqtt test ' || n, 'noise', 'noise', 'MQTT-' || lpad(n::text, 3, '0'), false,
       ST_SetSRID(ST_MakePoint(549000 + 10 * n, 157000), 3794)
FROM generate_series(1, 100) n;
INSERT INTO register.sensor (name, kind, observed_properties, lanes, synthetic, geom)
VALUES ('sim counter', 'traffic_count', 'vehicle_count', 4, true,
        ST_SetSRID(ST_MakePoint(550000, 158000), 3794)),
       ('sim air', 'air_quality', 'pm10;pm2.5;no2', NULL, true,
        ST_SetSRID(ST_MakePoint(550100, 158000), 3794)),
       ('sim bin', 'fill_level', 'fill_level', NULL, true,
        ST_SetSRID(ST_MakePoint(550200, 158000), 3794));
"""


def _rows(url: str, query: str, *params: object) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params or None).fetchall()


@pytest.fixture(scope="module")
def mqtt_db(db_url: str) -> str:
    """A database of its own with 100 noise sensors and three synthetic ones."""
    admin = LocalCluster(get_settings()).url("postgres")
    with db.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS twin_mqtt WITH (FORCE)")
        conn.execute("CREATE DATABASE twin_mqtt")
    url = db_url.rsplit("/", 1)[0] + "/twin_mqtt"
    with db.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    db.migrate(url)
    with db.connect(url) as conn:
        conn.execute(SENSORS_SQL)
    return url


class WorkerProcess:
    """``twin ingest mqtt`` as a process of its own, its stderr collected line by line."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "twin.cli", "ingest", "mqtt", *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if self.proc.poll() is not None and not self._reader.is_alive():
                pytest.fail(f"worker exited ({self.proc.returncode}): {self.log}")
            if time.monotonic() > deadline:
                pytest.fail(f"worker did not say {text!r} in {timeout} s: {self.log}")
            time.sleep(0.05)

    def finish(self, timeout: float = 60.0) -> dict:
        """Wait for the worker to exit by itself; return its JSON report."""
        out, _ = self.proc.communicate(timeout=timeout)
        self._reader.join(5)
        assert self.proc.returncode == 0, self.log
        return json.loads(out)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    @property
    def log(self) -> str:
        return " | ".join(self.lines[-12:])


@pytest.fixture
def worker_env(mqtt_db: str, mqtt_url: str, tmp_path: Path, request: pytest.FixtureRequest):
    """Environment of a worker process: the test database, a client id of the test's own."""
    return {
        **os.environ,
        "TWIN_DATABASE_URL": mqtt_db,
        "TWIN_MQTT_CLIENT_ID": f"test-{request.node.name[:40]}",
        "_BUFFER": str(tmp_path / "buffer.sqlite"),
        "_URL": mqtt_url,
    }


def _worker(env: dict[str, str], *args: str) -> WorkerProcess:
    return WorkerProcess(env, "--buffer", env["_BUFFER"], *args)


def _message(k: int) -> tuple[str, str]:
    """Message k of the big test: sensor k mod 100, one second apart per sensor, value k."""
    when = (T0 + pd.Timedelta(seconds=k // len(CODES))).isoformat()
    body = f'{{"time": "{when}", "value": {k}, "unit": "dB(A)"}}'
    return f"{PREFIX}/{CODES[k % len(CODES)]}/noise", body


def _stored(url: str) -> tuple[int, int, int]:
    """Count, distinct keys and value sum of the big test's observations."""
    (row,) = _rows(
        url,
        "SELECT count(*), count(DISTINCT (o.datastream_id, o.phenomenon_time)), "
        "coalesce(sum(o.value), 0)::bigint FROM twin.observations o "
        "JOIN twin.datastreams d ON d.id = o.datastream_id "
        "JOIN register.sensor s ON s.id = d.sensor_id WHERE s.station_code LIKE 'MQTT-%%'",
    )
    return int(row[0]), int(row[1]), int(row[2])


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


class _BigPublisher(threading.Thread):
    """Publishes messages 0 … total - 1 of :func:`_message` in the background."""

    def __init__(self, url: str, total: int) -> None:
        super().__init__(daemon=True)
        self.url, self.total = url, total
        self.acked = 0
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            with Publisher(parse_url(self.url), window=200) as pub:
                for start in range(0, self.total, 1000):
                    while pub.sent - pub.acked > 5000:
                        time.sleep(0.005)
                    pub.publish(_message(k) for k in range(start, start + 1000))
                    self.acked = pub.acked
                assert pub.wait(120)
                self.acked = pub.acked
        except BaseException as exc:  # noqa: BLE001 - reported by until() in the test's thread
            self.failure = exc

    def until(self, count: int) -> None:
        """Wait until the broker acknowledged ``count`` messages (fail on a publish error)."""
        _wait(lambda: self.acked >= count or self.failure is not None, 90, f"{count} published")
        assert self.failure is None, self.failure


def test_100000_messages_through_a_database_restart_and_a_killed_worker(
    mqtt_db: str, worker_env: dict[str, str]
) -> None:
    total = 100_000
    cluster = LocalCluster(get_settings())
    first = _worker(worker_env)
    workers = [first]
    publisher = _BigPublisher(worker_env["_URL"], total)
    try:
        first.wait_for("subscribed")
        publisher.start()
        publisher.until(20_000)
        cluster.stop()  # the database goes away mid-stream
        publisher.until(40_000)
        first.wait_for("database unavailable")
        first.proc.kill()  # and the worker dies without a word
        first.proc.wait(10)
        second = _worker(worker_env, "--json")
        workers.append(second)
        publisher.until(70_000)
        cluster.start()
        publisher.until(total)
        _wait(lambda: _stored(mqtt_db)[0] >= total, 120, "every message stored")
        time.sleep(1.0)  # anything still in flight would show up now
        second.proc.send_signal(signal.SIGTERM)
        report = second.finish()
    finally:
        cluster.start()
        for worker in workers:
            worker.stop()
    count, keys, value_sum = _stored(mqtt_db)
    assert count == total
    assert keys == total
    assert value_sum == total * (total - 1) // 2  # each k exactly once
    assert _rows(mqtt_db, "SELECT count(*) FROM twin.dead_letters")[0][0] == 0
    assert report["dead_letters"] == 0
    latest = _rows(
        mqtt_db,
        "SELECT count(*), max(l.value) FROM twin.latest_observations l "
        "JOIN twin.datastreams d ON d.id = l.datastream_id "
        "JOIN register.sensor s ON s.id = d.sensor_id WHERE s.station_code LIKE 'MQTT-%%'",
    )
    assert latest == [(len(CODES), total - 1)]


def test_malformed_messages_go_to_the_dead_letters_and_the_worker_keeps_running(
    mqtt_db: str, worker_env: dict[str, str]
) -> None:
    worker = _worker(worker_env, "--until-idle", "3", "--json")
    try:
        worker.wait_for("subscribed")
        good = '{"time": "2026-11-26T14:00:00+01:00", "value": 61.5, "unit": "dB(A)"}'
        sent = [
            (f"{PREFIX}/MQTT-001/noise", "this is not json"),
            (f"{PREFIX}/MQTT-001/noise", '{"time": "2026-11-26T14:00:00+01:00", "value": 1, '
                                         '"unit": "µg/m³"}'),
            (f"{PREFIX}/NO-SUCH-SENSOR/noise", good),
            (f"{PREFIX}/MQTT-001/noise", '{"time": "2026-11-26T14:00:00", "value": 1}'),
            (f"{PREFIX}/MQTT-001/noise", '{"time": "2026-11-26T14:00:00Z", "value": "loud"}'),
            (f"{PREFIX}/MQTT-001/noise", '{"value": 1}'),
            (f"{PREFIX}/MQTT-001", good),
            (f"{PREFIX}/MQTT-002/noise", good),
        ]  # fmt: skip
        with Publisher(parse_url(worker_env["_URL"])) as pub:
            pub.publish(sent[:4])
            assert pub.wait(10)
            time.sleep(1.0)  # the worker stores the first ones, then gets the rest
            pub.publish(sent[4:])
            assert pub.wait(10)
        report = worker.finish()
    finally:
        worker.stop()
    letters = _rows(
        mqtt_db,
        "SELECT topic, payload, reason FROM twin.dead_letters WHERE source = 'mqtt' ORDER BY id",
    )
    reasons = {payload: (topic, reason) for topic, payload, reason in letters}
    assert "payload is not JSON" in reasons["this is not json"][1]
    assert reasons["this is not json"][0] == f"{PREFIX}/MQTT-001/noise"
    assert "wrong unit 'µg/m³' for noise" in reasons[sent[1][1]][1]
    assert reasons[sent[3][1]][1] == "timestamp without time zone"
    assert reasons[sent[4][1]][1] == '"value" is not a number (got "loud")'
    assert reasons[sent[5][1]][1] == 'payload lacks "time"'
    by_topic = {topic: reason for topic, _, reason in letters}
    assert by_topic[f"{PREFIX}/NO-SUCH-SENSOR/noise"] == "unknown sensor 'NO-SUCH-SENSOR'"
    assert by_topic[f"{PREFIX}/MQTT-001"].startswith("topic does not follow")
    assert report["dead_letters"] == 7
    assert report["stored"] == 1  # the last message, after all the bad ones
    stored = _rows(
        mqtt_db,
        "SELECT o.value FROM twin.observations o JOIN twin.datastreams d ON d.id = o.datastream_id "
        "JOIN register.sensor s ON s.id = d.sensor_id "
        "WHERE s.station_code = 'MQTT-002' AND o.phenomenon_time = '2026-11-26T13:00:00Z'",
    )
    assert stored == [(61.5,)]


def test_a_replay_stores_nothing_twice(mqtt_db: str, worker_env: dict[str, str]) -> None:
    messages = [
        (f"{PREFIX}/{CODES[k % 10]}/noise",
         f'{{"time": "2026-09-01T{k // 60 % 24:02d}:{k % 60:02d}:00+02:00", "value": {k}}}')
        for k in range(600)
    ]  # fmt: skip
    reports = []
    for _ in range(2):
        worker = _worker(worker_env, "--until-idle", "2", "--json")
        try:
            worker.wait_for("subscribed")
            with Publisher(parse_url(worker_env["_URL"])) as pub:
                pub.publish(messages)
                assert pub.wait(20)
            reports.append(worker.finish())
        finally:
            worker.stop()
    assert [r["received"] for r in reports] == [600, 600]
    assert reports[0]["stored"] + reports[0]["duplicates"] == 600
    assert reports[1]["stored"] == 0
    assert reports[1]["duplicates"] == 600
    (count,) = _rows(
        mqtt_db,
        "SELECT count(*) FROM twin.observations WHERE phenomenon_time >= '2026-09-01T00:00+02' "
        "AND phenomenon_time < '2026-09-02T00:00+02'",
    )[0]
    assert count == 600


def test_the_simulator_publishes_the_synthetic_sensors_readings(
    mqtt_db: str, worker_env: dict[str, str]
) -> None:
    worker = _worker(worker_env, "--until-idle", "8", "--json")  # the simulator starts slowly
    try:
        worker.wait_for("subscribed")
        done = subprocess.run(
            [sys.executable, "-m", "twin.cli", "simulate", "--rate", "400", "--duration", "2",
             "--start", "2026-11-24T07:00:00+01:00", "--speedup", "60", "--json"],
            env={**worker_env, "TWIN_DATABASE_URL": mqtt_db}, capture_output=True, text=True,
            check=False, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        sim = json.loads(done.stdout)
        report = worker.finish()
    finally:
        worker.stop()
    assert sim["sensors"] == 3  # the synthetic ones only, never the real stations
    assert sim["streams"] == 5
    assert sim["published"] == sim["acknowledged"] == 800
    assert report["stored"] == 800
    assert report["dead_letters"] == 0
    props = dict(
        _rows(
            mqtt_db,
            "SELECT d.property, count(*) FROM twin.observations o "
            "JOIN twin.datastreams d ON d.id = o.datastream_id WHERE o.source = 'mqtt' "
            "AND o.phenomenon_time >= '2026-11-24T00:00+01' "
            "AND o.phenomenon_time < '2026-11-25T00:00+01' "
            "GROUP BY 1",
        )
    )
    assert props == {"vehicle_count": 160, "no2": 160, "pm10": 160, "pm2.5": 160,
                     "fill_level": 160}  # fmt: skip


def _sensors() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["sensor:1", "sensor:2", "sensor:3", "sensor:4", "sensor:5"],
            "kind": ["traffic_count", "air_quality", "noise", "fill_level", "parking_occupancy"],
            "observed_properties": [
                "vehicle_count",
                "pm10;pm2.5;no2",
                "LAeq;LAmax;LAmin",
                "fill_level",
                "occupancy",
            ],
            "lanes": [2, None, None, None, None],
        }
    )


def test_simulated_streams_are_deterministic_and_follow_the_day() -> None:
    table = streams(_sensors(), seed=3)
    assert list(table["property"]) == ["vehicle_count", "pm10", "pm2.5", "no2", "noise",
                                       "fill_level", "occupancy"]  # fmt: skip
    start = pd.Timestamp("2026-11-23T00:00:00+01:00")  # a Monday
    sim = Simulation(table, rate=7 / 600, start=start, seed=3)  # each stream every 10 minutes
    again = Simulation(streams(_sensors(), seed=3), rate=7 / 600, start=start, seed=3)
    topics, payloads = sim.messages(0, 7 * 144 * 14)  # two weeks
    assert (topics, payloads) == again.messages(0, 7 * 144 * 14)
    assert sim.messages(500, 20) == (topics[500:520], payloads[500:520])
    frame = readings(PREFIX, topics, [p.encode() for p in payloads]).readings
    frame["local"] = frame["phenomenon_time"].dt.tz_convert("Europe/Ljubljana")
    hour = frame["local"].dt.hour
    weekday = frame["local"].dt.day_of_week < 5

    def mean(prop: str, at: int, *, weekdays: bool = True) -> float:
        rows = (frame["property"] == prop) & (hour == at) & (weekday | (not weekdays))
        return float(frame.loc[rows, "value"].mean())

    assert mean("vehicle_count", 8) > 4 * mean("vehicle_count", 3)
    assert mean("occupancy", 11) > 60 > mean("occupancy", 2)
    assert mean("noise", 17, weekdays=False) > mean("noise", 2, weekdays=False) + 10
    fill = frame[frame["property"] == "fill_level"].sort_values("phenomenon_time")
    emptied = fill["value"].diff() < -30
    assert 1 <= emptied.sum() <= 2  # collected once or twice in two weeks
    assert (fill.loc[emptied, "local"].dt.hour == 7).all()
    assert frame["value"].ge(0).all()
    assert set(frame["unit"]) == {"vehicles/h", "µg/m³", "dB(A)", "%"}
    assert traffic(pd.Series([7.5]).to_numpy(), pd.Series([False]).to_numpy())[0] > 0.9


def test_the_broker_runs_once_and_says_what_is_wrong(
    mqtt_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broker = Broker()
    assert broker.up() == mqtt_url  # idempotent
    status = broker.status()
    assert status.running
    assert status.own_broker
    config = Path(status.config or "").read_text(encoding="utf-8")
    for line in ("listener", "127.0.0.1", "set_tcp_nodelay true", "max_queued_messages 0",
                 "persistence true"):  # fmt: skip
        assert line in config
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        elsewhere = {"mqtt_port": port, "cluster_dir": tmp_path}
        other = Broker(get_settings().model_copy(update=elsewhere))
        with pytest.raises(SetupError, match=f"port {port} .* in use.*TWIN_MQTT_PORT"):
            other.up()
    monkeypatch.setattr(Broker, "binary", staticmethod(lambda: None))
    monkeypatch.setattr(broker_module, "_running_as_root", lambda: False)
    missing = Broker(get_settings().model_copy(update=elsewhere))
    with pytest.raises(SetupError, match="apt-get install -y mosquitto"):
        missing.up()


def test_mqtt_status_cli(mqtt_url: str, cli_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "twin.cli", "mqtt", "status", "--json"],
        env=cli_env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["url"] == mqtt_url
    assert status["running"]


def test_a_second_worker_on_the_same_buffer_is_refused(
    worker_env: dict[str, str],
) -> None:
    first = _worker(worker_env)
    try:
        first.wait_for("subscribed")
        second = _worker(worker_env)
        second.proc.wait(30)
        second._reader.join(5)
        assert second.proc.returncode == 1
        assert "another MQTT ingest worker" in second.log
    finally:
        first.stop()


def test_an_unreachable_broker_is_one_clear_line(cli_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "twin.cli", "ingest", "mqtt", "--once"],
        env={**cli_env, "TWIN_MQTT_URL": "mqtt://127.0.0.1:1"},
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "cannot reach the MQTT broker at mqtt://127.0.0.1:1" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_message_the_ingest_path_fails_on_is_set_aside(
    mqtt_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from twin.mqtt import worker as worker_module
    from twin.mqtt.buffer import Buffered

    real = worker_module.ingest

    def fussy(conn: psycopg.Connection, frame: pd.DataFrame, source: str):
        if frame["payload"].str.contains("poison").any():
            raise ValueError("poisoned")
        return real(conn, frame, source)

    monkeypatch.setattr(worker_module, "ingest", fussy)
    worker = worker_module.Worker(url=mqtt_db, buffer_path=tmp_path / "b.sqlite",
                                  log=lambda _line: None)  # fmt: skip
    rows = [
        Buffered(k, 0.0, f"{PREFIX}/MQTT-003/noise",
                 f'{{"time": "2026-08-01T10:{k:02d}:00Z", "value": {k}, "note": '
                 f'"{"poison" if k == 5 else "fine"}"}}'.encode())
        for k in range(8)
    ]  # fmt: skip
    with psycopg.connect(mqtt_db) as conn:
        report = worker._store(conn, rows)
    assert report.stored == 7
    assert report.dead_letters == 1
    assert report.reasons == {"cannot be stored: poisoned": 1}
    (letter,) = _rows(mqtt_db, "SELECT payload FROM twin.dead_letters WHERE reason = "
                               "'cannot be stored: poisoned'")  # fmt: skip
    assert "poison" in letter[0]
