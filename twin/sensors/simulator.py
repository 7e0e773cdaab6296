"""A simulator of the register's sensors: realistic readings published over MQTT.

``twin simulate`` drives the active **synthetic** sensors of the register (never a real
station such as ARSO's, whose readings must stay real), one stream per sensor and observed
property, on the topic scheme of :mod:`twin.mqtt.messages`, with QoS 1:

- ``vehicle_count`` (traffic counters): vehicles per hour scaled by the counted lanes, weekday
  peaks at 07:30 and 16:30, a flatter weekend midday;
- ``no2``: an urban background plus the traffic cycle (morning and evening peaks), with a rare
  spike above the EU hourly limit so that alerts show;
- ``pm10`` / ``pm2.5``: background plus the evening heating peak in the cold months and a share
  of the traffic cycle; PM2.5 about 65 % of PM10;
- ``noise`` (the ``LAeq`` of the noise sensors): ~45 dB(A) at night, 60-70 dB(A) by day;
- ``occupancy`` (parking): low at night, ~90 % on weekday office hours, a Saturday midday peak;
- ``fill_level`` (waste containers): rising between collections and emptied at 07:00 on the
  container's collection day, every 7 or 14 days;
- ``o3``, ``temperature``, ``humidity`` and the rest: smooth daily cycles.

Message ``k`` is reading of stream ``k mod S`` at ``start + k * speedup / rate`` seconds; the
noise of message ``k`` comes from a generator seeded with ``(seed, k // 4096)``, so the same
seed and start give the same messages however the publishing is paced. Values are generated
for a whole block of messages at once (numpy); the publisher tops up to ``rate * elapsed``
every few milliseconds, never sleeping per message.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import FrameType

import numpy as np
import pandas as pd

from twin._errors import ConfigError
from twin.config import Settings, get_settings
from twin.db._sql import sql_text
from twin.db.engine import connect
from twin.mqtt.client import Publisher, broker_address
from twin.sensors.catalog import properties

LOCAL_ZONE = "Europe/Ljubljana"
#: Register property names that the catalog calls otherwise (noise sensors report ``LAeq``).
ALIASES = {"LAeq": "noise"}
_CHUNK = 4096
_TICK_S = 0.01
#: Most messages generated at once, and most waiting for the broker's acknowledgement.
_MAX_BLOCK, _MAX_OUTSTANDING = 2000, 5000
_PROGRESS_EVERY_S = 5.0
#: Share of NO2 readings with a spike (a passing lorry, a bus idling) above the hourly limit.
SPIKE_SHARE = 0.0005


def _stderr(line: str) -> None:
    sys.stderr.write(f"simulate: {line}\n")
    sys.stderr.flush()


def streams(sensors: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """Return one stream per sensor and observed property, with its drawn parameters.

    Parameters
    ----------
    sensors
        ``id``, ``kind``, ``observed_properties`` (``a;b``) and ``lanes`` of each sensor.
    seed
        Seed of the per-stream parameters.

    Returns
    -------
    pandas.DataFrame
        ``sensor``, ``kind``, ``property``, ``unit`` and the parameters ``level`` (a scale
        drawn per stream), ``offset`` and ``period_days``/``phase_days`` (collections).
    """
    known = properties()
    listed = sensors["observed_properties"].fillna("").astype(str).str.split(";")
    rows = sensors.assign(property=listed).explode("property")
    rows["property"] = rows["property"].str.strip().replace(ALIASES)
    rows = rows[rows["property"].isin(list(known))].drop_duplicates(["id", "property"])
    rows = rows.reset_index(drop=True)
    rng = np.random.default_rng([seed, 0])
    n = len(rows)
    lanes = pd.to_numeric(rows["lanes"], errors="coerce").fillna(2).clip(1, 6).to_numpy()
    return pd.DataFrame(
        {
            "sensor": rows["id"].astype(str),
            "kind": rows["kind"].astype(str),
            "property": rows["property"].astype(str),
            "unit": rows["property"].map({k: p.unit for k, p in known.items()}),
            "level": rng.uniform(0.7, 1.3, n),
            "offset": rng.uniform(-1.0, 1.0, n),
            "capacity": lanes * rng.uniform(250.0, 450.0, n),
            "period_days": rng.choice([7.0, 14.0], n, p=[0.7, 0.3]),
            "phase_days": rng.integers(0, 14, n).astype(float),
        }
    )


def _bell(hours: np.ndarray, centre: float, width: float) -> np.ndarray:
    result: np.ndarray = np.exp(-(((hours - centre) / width) ** 2))
    return result


def traffic(hours: np.ndarray, weekend: np.ndarray) -> np.ndarray:
    """Relative traffic (peak 1) by local hour: weekday commuter peaks, a flat weekend."""
    weekday = 0.06 + 0.35 / (1 + np.exp(-(hours - 6.5) * 2)) / (1 + np.exp((hours - 21) * 1.5))
    weekday = weekday + 0.6 * _bell(hours, 7.5, 1.1) + 0.55 * _bell(hours, 16.5, 1.6)
    rest = 0.06 + 0.45 * _bell(hours, 13.0, 4.0)
    return np.where(weekend, rest, np.minimum(weekday, 1.0))


def _values(s: pd.DataFrame, local: pd.DatetimeIndex, z: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Return readings of streams ``s`` (a row per message) at local times, noise z and u."""
    prop = s["property"].to_numpy()
    level, offset = s["level"].to_numpy(), s["offset"].to_numpy()
    hours = local.hour.to_numpy() + local.minute.to_numpy() / 60.0
    weekday = local.day_of_week.to_numpy()
    weekend = weekday >= 5  # noqa: PLR2004 - Saturday and Sunday
    cold = np.isin(local.month.to_numpy(), [10, 11, 12, 1, 2, 3])
    road = traffic(hours, weekend)
    heating = np.where(cold, 1.0, 0.25) * _bell(hours, 20.0, 2.5)
    daylight = np.sin(np.pi * np.clip((hours - 6.0) / 14.0, 0.0, 1.0))
    pm10 = level * (18.0 + 14.0 * heating + 8.0 * road)
    days = (local.tz_localize(None) - pd.Timestamp("1970-01-05")) / pd.Timedelta(days=1)
    period = s["period_days"].to_numpy()
    since = np.mod(days.to_numpy() - 7 / 24 - s["phase_days"].to_numpy(), period)
    occupied = np.where(
        weekday == 5,  # noqa: PLR2004 - Saturday
        0.15 + 0.55 * _bell(hours, 12.0, 3.0),
        np.where(weekday == 6, 0.1 + 0.15 * _bell(hours, 15.0, 3.0),  # noqa: PLR2004 - Sunday
                 0.1 + 0.8 / (1 + np.exp(-(hours - 8.0) * 2.5)) / (1 + np.exp((hours - 17.5) * 2))),
    )  # fmt: skip
    formulas = {
        "vehicle_count": np.round(s["capacity"].to_numpy() * road * np.exp(0.12 * z)),
        "no2": level * (12.0 + 45.0 * road) + 4.0 * z + np.where(u < SPIKE_SHARE, 180.0, 0.0),
        "pm10": pm10 + 3.0 * z,
        "pm2.5": 0.65 * pm10 + 2.0 * z,
        "noise": 46.0 + 20.0 * road + 3.0 * offset + 1.5 * z,
        "occupancy": 100.0 * np.clip(occupied * level + 0.04 * z, 0.0, 1.0),
        "fill_level": 100.0 * np.clip(since / (period * level), 0.0, 1.0) + 1.5 * z,
        "o3": level * (25.0 + 70.0 * daylight * np.where(cold, 0.4, 1.0)) + 5.0 * z,
        "temperature": np.where(cold, 4.0, 18.0) + 6.0 * daylight + offset + 0.5 * z,
        "humidity": 85.0 - 30.0 * daylight + 3.0 * z,
    }
    out = np.abs(0.3 * level + 0.2 * z)  # so2, co, benzene: small positive concentrations
    for name, values in formulas.items():
        mask = prop == name
        out = np.where(mask, values, out)
    bounded = np.isin(prop, ["occupancy", "fill_level", "humidity"])
    out = np.where(bounded, np.clip(out, 0.0, 100.0), out)
    positive = ~np.isin(prop, ["temperature"])
    result: np.ndarray = np.where(positive, np.maximum(out, 0.0), out)
    return result


class Simulation:
    """The deterministic message sequence of a set of streams.

    Parameters
    ----------
    table
        Streams from :func:`streams`.
    rate
        Messages per second (all streams together).
    start
        Time of the first reading (timezone-aware).
    speedup
        Simulated seconds per real second (1: readings stamped as they are published).
    seed
        Seed of the noise.
    prefix
        Topic prefix.

    Raises
    ------
    ConfigError
        When there is no stream to simulate or the rate is not positive.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        *,
        rate: float,
        start: datetime,
        speedup: float = 1.0,
        seed: int = 1,
        prefix: str = "twin/sensors",
    ) -> None:
        if table.empty:
            raise ConfigError("no sensor to simulate: run `twin synth` first")
        if rate <= 0 or speedup <= 0:
            raise ConfigError("--rate and --speedup must be positive")
        rng = np.random.default_rng([seed, 1])
        self.table = table.iloc[rng.permutation(len(table))].reset_index(drop=True)
        self.rate, self.speedup, self.seed = rate, speedup, seed
        self.start = pd.Timestamp(start).tz_convert("UTC")
        self.topics = (prefix.rstrip("/") + "/" + self.table["sensor"] + "/"
                       + self.table["property"]).to_numpy(dtype=object)  # fmt: skip
        self.units = self.table["unit"].map(lambda u: json.dumps(u, ensure_ascii=False))
        self.whole = self.table["property"].isin(["vehicle_count"]).to_numpy()
        self._chunks: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _noise(self, first: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        z, u = np.empty(count), np.empty(count)
        k = first
        while k < first + count:
            chunk = k // _CHUNK
            if chunk not in self._chunks:
                rng = np.random.default_rng([self.seed, 2, chunk])
                self._chunks = {chunk: (rng.standard_normal(_CHUNK), rng.random(_CHUNK))}
            at, end = k - chunk * _CHUNK, min(_CHUNK, first + count - chunk * _CHUNK)
            z[k - first : k - first + end - at] = self._chunks[chunk][0][at:end]
            u[k - first : k - first + end - at] = self._chunks[chunk][1][at:end]
            k += end - at
        return z, u

    def times(self, first: int, count: int) -> pd.DatetimeIndex:
        """Phenomenon times of messages ``first`` … ``first + count - 1`` (UTC)."""
        step = round(self.speedup / self.rate * 1e9)
        nanos = self.start.value + step * np.arange(first, first + count, dtype=np.int64)
        return pd.DatetimeIndex(nanos.astype("datetime64[ns]")).tz_localize("UTC")

    def messages(self, first: int, count: int) -> tuple[list[str], list[str]]:
        """Return topics and JSON payloads of messages ``first`` … ``first + count - 1``."""
        which = np.arange(first, first + count) % len(self.table)
        utc = self.times(first, count)
        local = utc.tz_convert(LOCAL_ZONE)
        z, u = self._noise(first, count)
        values = _values(self.table.iloc[which], local, z, u)
        wall = local.tz_localize(None).to_numpy()
        minutes = (wall - utc.tz_localize(None).to_numpy()) // np.timedelta64(1, "m")
        zones = [f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}" for m in
                 np.unique(minutes)]  # fmt: skip
        zone = np.asarray(zones, dtype=object)[np.searchsorted(np.unique(minutes), minutes)]
        stamps = np.datetime_as_string(wall, unit="us")
        whole, units = self.whole[which], self.units.to_numpy()[which]
        shown = np.where(whole, np.round(values).astype(np.int64).astype(str),
                         np.char.mod("%.1f", values))  # fmt: skip
        payloads = [f'{{"time": "{t}{o}", "value": {v}, "unit": {n}}}'
                    for t, o, v, n in zip(stamps, zone, shown, units, strict=True)]  # fmt: skip
        return list(self.topics[which]), payloads


@dataclass
class SimulationReport:
    """What one simulation published."""

    sensors: int
    streams: int
    published: int
    acknowledged: int
    seconds: float
    rate: float
    first_time: str | None
    last_time: str | None


def register_streams(
    url: str | None = None, sensors: int | None = None, seed: int = 1
) -> pd.DataFrame:
    """Return the streams of the register's synthetic sensors (``sensors`` of them, drawn)."""
    with connect(url) as conn:
        cursor = conn.execute(sql_text("simulate_sensors"))
        names = [c.name for c in cursor.description or []]
        frame = pd.DataFrame(cursor.fetchall(), columns=names)
    if sensors is not None and sensors < len(frame):
        pick = np.random.default_rng([seed, 3]).choice(len(frame), sensors, replace=False)
        frame = frame.iloc[np.sort(pick)]
    return streams(frame, seed)


def simulate(
    url: str | None = None,
    *,
    sensors: int | None = None,
    rate: float = 50.0,
    duration: float = 60.0,
    seed: int = 1,
    start: datetime | None = None,
    speedup: float = 1.0,
    settings: Settings | None = None,
    log: Callable[[str], None] = _stderr,
) -> SimulationReport:
    """Publish the register's sensors' readings at ``rate`` messages/s for ``duration`` s.

    ``duration`` 0 runs until SIGINT/SIGTERM. Waits at the end until the broker has
    acknowledged every message.

    Returns
    -------
    SimulationReport
        Counts, achieved rate and the simulated time span.

    Raises
    ------
    ConfigError
        When the register has no synthetic sensor to drive, or an option is out of range.
    """
    settings = settings or get_settings()
    table = register_streams(url, sensors, seed)
    now = pd.Timestamp.now(tz="UTC").floor("s")
    sim = Simulation(table, rate=rate, start=start if start is not None else now,
                     speedup=speedup, seed=seed, prefix=settings.mqtt_topic_prefix)  # fmt: skip
    total = round(rate * duration) if duration > 0 else None
    stop = threading.Event()
    handlers = {}
    if threading.current_thread() is threading.main_thread():

        def _stop(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            handlers[sig] = signal.signal(sig, _stop)
    address = broker_address(settings)
    log(f"{table['sensor'].nunique():,} sensors, {len(table):,} streams, {rate:g} msg/s to "
        f"{address.url} ({settings.mqtt_topic_prefix}/<sensor>/<property>, QoS 1)")  # fmt: skip
    sent, t0 = 0, time.monotonic()
    try:
        with Publisher(address) as pub:
            shown_at, shown_sent = t0, 0
            while not stop.is_set() and (total is None or sent < total):
                due = int((time.monotonic() - t0) * rate)
                due = due if total is None else min(due, total)
                if due > sent and pub.sent - pub.acked < _MAX_OUTSTANDING:
                    count = min(due - sent, _MAX_BLOCK)
                    topics, payloads = sim.messages(sent, count)
                    pub.publish(zip(topics, payloads, strict=True))
                    sent += count
                    continue
                now_s = time.monotonic()
                if now_s - shown_at >= _PROGRESS_EVERY_S:
                    log(f"{sent:,} published ({(sent - shown_sent) / (now_s - shown_at):,.0f}/s)"
                        f", {pub.acked:,} acknowledged")  # fmt: skip
                    shown_at, shown_sent = now_s, sent
                stop.wait(_TICK_S)
            pub.wait(60.0)
            acked = pub.acked
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    seconds = time.monotonic() - t0
    first, last = (sim.times(0, 1)[0], sim.times(sent - 1, 1)[0]) if sent else (None, None)
    return SimulationReport(
        sensors=int(table["sensor"].nunique()),
        streams=len(table),
        published=sent,
        acknowledged=acked,
        seconds=round(seconds, 3),
        rate=round(sent / seconds, 1) if seconds else 0.0,
        first_time=first.isoformat() if first is not None else None,
        last_time=last.isoformat() if last is not None else None,
    )
