"""The topic scheme and payloads of readings over MQTT.

One topic per datastream::

    twin/sensors/<sensor>/<property>

``<sensor>`` is the register id (``sensor:000123``) or the sensor's external station or
device code (``E407``); ``<property>`` an observed-property id (``no2``, ``pm10``, ``noise``,
``vehicle_count``, ``fill_level``, ``occupancy``, …; see ``twin/sensors/properties.toml``).
The prefix is ``TWIN_MQTT_TOPIC_PREFIX``. The payload is UTF-8 JSON, one reading::

    {"time": "2026-11-26T14:00:00+01:00", "value": 21.5, "unit": "µg/m³"}

or an array of such objects (a batch of readings of that datastream). ``time`` is ISO 8601
**with** its zone (a time without one is refused); ``value`` a number, or ``"<2"`` for a value
below the detection limit 2 (stored as such, never as 2); optional ``unit`` (if given it must
be the property's unit), ``quality`` (``ok``, ``suspect``, ``below_detection``) and ``end``
(end of the averaging period, with zone). SensorThings names are accepted too:
``phenomenonTime`` for ``time`` and ``result`` for ``value``. Publish with QoS 1.

A message that cannot be stored goes to ``twin.dead_letters`` with its topic, payload and
the reason; :func:`readings` finds what can be said from the message alone (not JSON, no
time, not a number, …) and the ingest path the rest (unknown sensor or property, wrong
unit, time without zone).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from twin.sensors.adapters import parse_times

_ZONED = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")


def topic(prefix: str, sensor: str, prop: str) -> str:
    """Return the topic of one datastream: ``<prefix>/<sensor>/<property>``."""
    return f"{prefix}/{sensor}/{prop}"


def payload(time: str, value: float | str, unit: str | None = None, **extra: object) -> bytes:
    """Return the JSON payload of one reading (``extra``: ``quality``, ``end``)."""
    body: dict[str, object] = {"time": time, "value": value}
    if unit is not None:
        body["unit"] = unit
    body.update(extra)
    return json.dumps(body, ensure_ascii=False).encode()


@dataclass
class Parsed:
    """Readings of a batch of messages, and the messages refused outright."""

    readings: pd.DataFrame
    rejected: pd.DataFrame


def _text(raw: bytes) -> str:
    """Payload as text for the dead letters (PostgreSQL text holds no NUL)."""
    return raw.decode("utf-8", errors="replace").replace("\x00", "\\u0000")


def _number(value: Any) -> tuple[float, str, float]:  # noqa: ANN401 - any JSON value
    """Return (value, quality, detection limit); raise ValueError for what is not a number."""
    kind = type(value)
    if kind is float or kind is int:
        return float(value), "ok", math.nan
    if kind is str:
        text = value.strip()
        if text.startswith("<"):
            return math.nan, "below_detection", float(text[1:])
        return float(text), "ok", math.nan
    raise ValueError  # None, true/false, objects, arrays


class _Columns:
    """The readings of a batch, column by column."""

    def __init__(self) -> None:
        self.sensor: list[str] = []
        self.prop: list[str] = []
        self.time: list[str] = []
        self.end: list[str | None] = []
        self.value: list[float] = []
        self.quality: list[object] = []
        self.limit: list[float] = []
        self.unit: list[str | None] = []
        self.topic: list[str] = []
        self.payload: list[str] = []

    def add(self, sensor: str, prop: str, item: Any) -> str | None:  # noqa: ANN401, PLR0911 - any JSON value; one return per reason
        """Append one reading; return the reason when the item cannot be one."""
        if type(item) is not dict:
            return "payload is not a JSON object (or an array of objects)"
        when = item.get("time", item.get("phenomenonTime"))
        if when is None:
            return 'payload lacks "time"'
        if type(when) is not str:
            return f'"time" is not an ISO 8601 text (got {json.dumps(when)[:40]})'
        raw = item.get("value", item.get("result"))
        if raw is None:
            return 'payload lacks "value"'
        try:
            value, quality, limit = _number(raw)
        except ValueError:
            return f'"value" is not a number (got {json.dumps(raw, ensure_ascii=False)[:40]})'
        end = item.get("end")
        if end is not None and (type(end) is not str or not _ZONED.search(end.strip())):
            return '"end" is not an ISO 8601 time with its zone'
        unit = item.get("unit")
        if unit is not None and type(unit) is not str:
            return '"unit" is not a text'
        self.sensor.append(sensor)
        self.prop.append(prop)
        self.time.append(when)
        self.end.append(end)
        self.value.append(value)
        self.quality.append(item.get("quality", quality))
        self.limit.append(limit)
        self.unit.append(unit)
        return None

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                "sensor": self.sensor,
                "property": self.prop,
                "phenomenon_time": parse_times(pd.Series(self.time, dtype="string")),
                "value": np.asarray(self.value, dtype=float),
                "quality": self.quality,
                "detection_limit": np.asarray(self.limit, dtype=float),
                "topic": self.topic,
                "payload": self.payload,
            }
        )
        if any(u is not None for u in self.unit):  # optional: checked where given
            frame["unit"] = pd.Series(self.unit, dtype="string")
        if any(e is not None for e in self.end):
            ends = pd.Series(self.end, dtype="string")
            frame["phenomenon_end"] = pd.to_datetime(ends, utc=True, errors="coerce",
                                                     format="ISO8601")  # fmt: skip
        return frame


def readings(prefix: str, topics: Sequence[str], payloads: Sequence[bytes]) -> Parsed:
    """Turn messages into a readings frame for :func:`twin.sensors.observations.ingest`.

    Parameters
    ----------
    prefix
        The topic prefix (``twin/sensors``).
    topics, payloads
        The messages, in the order received.

    Returns
    -------
    Parsed
        ``readings`` (columns of the ingest path, plus ``topic`` and ``payload``) and
        ``rejected`` (``topic``, ``payload``, ``reason``) for the dead letters.
    """
    head = prefix.rstrip("/") + "/"
    cols = _Columns()
    bad: list[tuple[str, str, str]] = []
    for name, raw in zip(topics, payloads, strict=True):
        parts = name[len(head) :].split("/") if name.startswith(head) else []
        if len(parts) != 2 or not parts[0] or not parts[1]:  # noqa: PLR2004 - sensor/property
            bad.append((name, _text(raw), f"topic does not follow {head}<sensor>/<property>"))
            continue
        try:
            body = json.loads(raw)
        except UnicodeDecodeError:
            bad.append((name, _text(raw), "payload is not UTF-8 text"))
            continue
        except ValueError as exc:
            bad.append((name, _text(raw), f"payload is not JSON ({str(exc)[:80]})"))
            continue
        items = body if type(body) is list else [body]
        if not items:
            bad.append((name, _text(raw), "payload is an empty array"))
        single = len(items) == 1
        for item in items:
            text = _text(raw) if single else json.dumps(item, ensure_ascii=False)
            reason = cols.add(parts[0], parts[1], item)
            if reason is None:
                cols.topic.append(name)
                cols.payload.append(text)
            else:
                bad.append((name, text, reason))
    rejected = pd.DataFrame(bad, columns=["topic", "payload", "reason"])
    if not cols.sensor:
        return Parsed(pd.DataFrame(columns=["sensor", "property", "phenomenon_time", "value",
                                            "quality"]), rejected)  # fmt: skip
    return Parsed(cols.frame(), rejected)
