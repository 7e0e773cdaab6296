"""HTTP ingest: SensorThings bodies, the checks every body passes, and storing a batch.

A body is checked in two steps before anything is stored: its shape with pydantic (fields,
types), then the values of all its readings at once (times with a zone, results that are
numbers or ``"<limit"``). Any problem refuses the whole request with every field named
(``body[0].phenomenonTime: timestamp without time zone``). A valid body becomes one frame of
readings for :func:`twin.sensors.observations.ingest`; readings that the register or the
catalog do not accept (unknown sensor or datastream, unknown property, wrong unit, no value)
go to ``twin.dead_letters`` and are reported per item.

SensorThings (``POST /v1.1/Observations``, ``POST /v1.1/CreateObservations``)
    One observation, a list, or ``dataArray`` objects (mixed in one list if need be)::

        {"sensor": "E407", "property": "no2", "phenomenonTime": "2026-11-26T14:00:00+01:00",
         "result": 17.0, "unit": "µg/m³"}
        {"Datastream": {"@iot.id": 12}, "phenomenonTime": "…", "result": "<2"}
        {"Datastream": {"sensor": "E407", "property": "pm10"},
         "components": ["phenomenonTime", "result"],
         "dataArray": [["2026-11-26T14:00:00+01:00", 31], ["2026-11-26T15:00:00+01:00", 29]]}

    ``sensor`` is a register id (``sensor:1000003``) or station code (``E407``); ``property``
    an id of ``twin/sensors/properties.toml``; ``phenomenonTime`` an ISO 8601 time with its
    zone, or an interval ``start/end``; ``result`` a number, ``"<L"`` (below the detection
    limit L: stored without value, quality ``below_detection``) or null (dead-lettered);
    ``unit`` if given must be the property's unit; ``resultQuality`` ``ok`` or ``suspect``.

NGSI-LD ``AirQualityObserved`` entities are read by :mod:`twin._api_ngsi` into the same
:class:`Batch` and stored by :func:`store`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

import pandas as pd
import psycopg
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    StrictStr,
    Tag,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import ErrorDetails

from twin._errors import InvalidValue
from twin.db._sql import sql_text
from twin.sensors.observations import IngestReport, dead_letter, ingest

#: Items listed at most in a response's ``rejected`` (the counts cover all).
MAX_REJECTED = 1000
#: Field problems quoted at most in a 422 response.
MAX_ERRORS = 50
#: An NGSI-LD entity's ``location`` names the register sensor within this distance (metres).
NEAREST_SENSOR_M = 50.0
_ZONED = r"[T ]\d\d(?::?\d\d(?::?\d\d(?:[.,]\d+)?)?)?(?:[Zz]|[+-]\d\d(?::?\d\d)?)$"
_NUMBER_HINT = 'expected a number, a "<limit" text (below the detection limit) or null'


def _result(value: object) -> object:
    if value is None or (isinstance(value, int | float | str) and not isinstance(value, bool)):
        return value
    raise ValueError(_NUMBER_HINT)


#: A reading's result: a number, a text (checked later: a number or ``"<limit"``) or null.
Result = Annotated[
    Any,
    BeforeValidator(_result),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}]}),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DatastreamRef(_Strict):
    """A SensorThings datastream: by ``@iot.id``, or by sensor and property."""

    iot_id: StrictInt | None = Field(default=None, alias="@iot.id")
    sensor: StrictStr | None = Field(default=None, min_length=1)
    property: StrictStr | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_way(self) -> DatastreamRef:
        if (self.iot_id is None) == (self.sensor is None or self.property is None):
            raise ValueError('give either "@iot.id" or both "sensor" and "property"')
        return self


class ObservationIn(_Strict):
    """One SensorThings observation."""

    datastream: DatastreamRef | None = Field(default=None, alias="Datastream")
    sensor: StrictStr | None = Field(default=None, min_length=1)
    property: StrictStr | None = Field(default=None, min_length=1)
    phenomenon_time: StrictStr = Field(alias="phenomenonTime")
    result: Result
    unit: StrictStr | None = None
    result_quality: Literal["ok", "suspect"] | None = Field(default=None, alias="resultQuality")
    result_time: Any = Field(default=None, alias="resultTime", description="ignored")
    valid_time: Any = Field(default=None, alias="validTime", description="ignored")
    parameters: Any = Field(default=None, description="ignored")
    feature_of_interest: Any = Field(default=None, alias="FeatureOfInterest", description="ignored")

    @model_validator(mode="after")
    def _one_way(self) -> ObservationIn:
        if (self.datastream is None) == (self.sensor is None or self.property is None):
            raise ValueError('give either "Datastream" or both "sensor" and "property"')
        return self


Component = Literal["phenomenonTime", "result", "resultQuality", "resultTime", "validTime",
                    "parameters", "FeatureOfInterest/id"]  # fmt: skip


class DataArrayIn(_Strict):
    """SensorThings ``dataArray``: one datastream, named components, one row per reading."""

    datastream: DatastreamRef = Field(alias="Datastream")
    components: list[Component]
    data_array: list[list[Any]] = Field(alias="dataArray")
    data_array_count: StrictInt | None = Field(default=None, alias="dataArray@iot.count")
    unit: StrictStr | None = None

    @model_validator(mode="after")
    def _components(self) -> DataArrayIn:
        missing = {"phenomenonTime", "result"} - set(self.components)
        if missing:
            raise ValueError(f"components lack {', '.join(sorted(missing))}")
        if len(set(self.components)) != len(self.components):
            raise ValueError("components name one column twice")
        return self


def _kind(item: object) -> str:
    return "DataArray" if isinstance(item, dict) and "dataArray" in item else "Observation"


StaItem = Annotated[
    Annotated[ObservationIn, Tag("Observation")] | Annotated[DataArrayIn, Tag("DataArray")],
    Discriminator(_kind),
]
#: The body of ``POST /v1.1/Observations``.
STA_BODY: TypeAdapter[StaItem | list[StaItem]] = TypeAdapter(StaItem | list[StaItem])
_STA_LIST: TypeAdapter[list[StaItem]] = TypeAdapter(list[StaItem])
_STA_ITEM: TypeAdapter[StaItem] = TypeAdapter(StaItem)


def where(loc: tuple[int | str, ...], root: str = "body") -> str:
    """Return a pydantic location as a path: ``("x", 0, "y")`` → ``body.x[0].y``."""
    path = root
    for part in loc:
        if part in ("Observation", "DataArray"):  # tags of the SensorThings union
            continue
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def problem(error: ErrorDetails) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "required field is missing"
    return message


def refuse(errors: dict[str, str]) -> InvalidValue:
    """Return the error that refuses a body, quoting its first problems."""
    shown = "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""  # noqa: PLR2004
    return InvalidValue(f"invalid body: {shown}{more}", dict(list(errors.items())[:MAX_ERRORS]))


_T = TypeVar("_T")


def validated(adapter: TypeAdapter[_T], body: object, root: str) -> _T:
    try:
        return adapter.validate_python(body)
    except ValidationError as exc:
        raise refuse({where(tuple(e["loc"]), root): problem(e) for e in exc.errors()}) from exc


@dataclass
class Batch:
    """Readings of one request before their values are checked (one list entry each)."""

    request: str
    item: list[str] = field(default_factory=list)
    time: list[object] = field(default_factory=list)
    time_at: list[str] = field(default_factory=list)
    result: list[object] = field(default_factory=list)
    result_at: list[str] = field(default_factory=list)
    quality: list[str | None] = field(default_factory=list)
    sensor: list[str | None] = field(default_factory=list)
    property: list[str | None] = field(default_factory=list)
    datastream: list[int | None] = field(default_factory=list)
    point: list[tuple[float, float] | None] = field(default_factory=list)
    unit: list[str | None] = field(default_factory=list)
    raw: list[object] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def add(
        self, item: str, time: tuple[object, str], result: tuple[object, str], raw: object, *,
        sensor: str | None = None, prop: str | None = None, datastream: int | None = None,
        point: tuple[float, float] | None = None, unit: str | None = None,
        quality: str | None = None,
    ) -> None:  # fmt: skip
        """Append one reading: its item path, (time, path), (result, path), raw input, …."""
        self.item.append(item)
        self.time.append(time[0])
        self.time_at.append(time[1])
        self.result.append(result[0])
        self.result_at.append(result[1])
        self.raw.append(raw)
        self.sensor.append(sensor)
        self.property.append(prop)
        self.datastream.append(datastream)
        self.point.append(point)
        self.unit.append(unit)
        self.quality.append(quality)


def sensorthings(body: object, request: str) -> Batch:
    """Check a SensorThings body's shape and list its readings.

    Raises
    ------
    InvalidValue
        When the body is not one observation, a list of them or ``dataArray`` objects; the
        errors name every wrong field.
    """
    if isinstance(body, list):
        items = validated(_STA_LIST, body, "body")
        paths = [f"body[{i}]" for i in range(len(items))]
    else:
        items = [validated(_STA_ITEM, body, "body")]
        paths = ["body"]
    batch = Batch(request)
    errors: dict[str, str] = {}
    for path, item in zip(paths, items, strict=True):
        if isinstance(item, ObservationIn):
            ref = item.datastream
            batch.add(
                path, (item.phenomenon_time, f"{path}.phenomenonTime"),
                (item.result, f"{path}.result"), item.model_dump(by_alias=True, exclude_none=True),
                quality=item.result_quality, unit=item.unit,
                sensor=ref.sensor if ref else item.sensor,
                prop=ref.property if ref else item.property,
                datastream=ref.iot_id if ref else None,
            )  # fmt: skip
            continue
        columns = {name: i for i, name in enumerate(item.components)}
        ref = item.datastream
        for number, row in enumerate(item.data_array):
            at = f"{path}.dataArray[{number}]"
            if len(row) != len(columns):
                errors[at] = f"{len(row)} values for {len(columns)} components"
                continue
            quality = row[columns["resultQuality"]] if "resultQuality" in columns else None
            if quality not in (None, "ok", "suspect"):
                errors[f"{at}[{columns['resultQuality']}]"] = "resultQuality is 'ok' or 'suspect'"
                continue
            batch.add(
                at, (row[columns["phenomenonTime"]], f"{at}[{columns['phenomenonTime']}]"),
                (row[columns["result"]], f"{at}[{columns['result']}]"),
                {"Datastream": ref.model_dump(by_alias=True, exclude_none=True),
                 "components": item.components, "row": row},
                quality=quality, unit=item.unit, sensor=ref.sensor, prop=ref.property,
                datastream=ref.iot_id,
            )  # fmt: skip
    if errors:
        raise refuse(errors)
    return batch


def _times(text: pd.Series, at: pd.Series, errors: dict[str, str]) -> pd.Series:
    """Parse ISO 8601 times with a zone (UTC result); name every other one in ``errors``."""
    is_text = text.map(lambda v: isinstance(v, str)).astype(bool)
    strings = text.where(is_text).astype("string").str.strip()
    zoned = strings.str.contains(_ZONED, regex=True).fillna(value=False).astype(bool)
    parsed = pd.to_datetime(strings.where(zoned), utc=True, errors="coerce", format="ISO8601")
    naive = (
        ~zoned
        & is_text
        & pd.to_datetime(strings.where(~zoned & is_text), errors="coerce", format="ISO8601").notna()
    )
    problems = pd.Series("", index=text.index, dtype=object)
    problems[~is_text] = "expected an ISO 8601 time string with its zone"
    problems[is_text & parsed.isna()] = "not an ISO 8601 time"
    problems[naive] = "timestamp without time zone"
    for path, problem in zip(at[problems != ""], problems[problems != ""], strict=True):
        errors.setdefault(path, problem)
    return parsed


def _results(raw: pd.Series, at: pd.Series, errors: dict[str, str]) -> tuple[pd.Series, ...]:
    """Split results into (value, detection limit, below detection); name the unreadable."""
    kinds = raw.map(lambda v: "bool" if isinstance(v, bool) else type(v).__name__)
    number = kinds.isin(["int", "float"])
    text = raw.where(kinds == "str").astype("string").str.strip()
    below = text.str.startswith("<").fillna(value=False).astype(bool)
    parsed = pd.to_numeric(text.str.lstrip("<").str.strip(), errors="coerce")
    value = pd.to_numeric(raw.where(number), errors="coerce").where(number, parsed.where(~below))
    bad = ~(number | (kinds == "NoneType") | (kinds == "str"))
    bad |= (kinds == "str") & parsed.isna()
    for path in at[bad]:
        errors.setdefault(path, _NUMBER_HINT)
    return value.astype(float), parsed.where(below).astype(float), below


def readings(batch: Batch) -> pd.DataFrame:
    """Check every reading's time and result; return the frame (columns of ``ingest``).

    Raises
    ------
    InvalidValue
        Naming each time without a zone or unreadable, and each result that is not a number,
        ``"<limit"`` or null.
    """
    errors: dict[str, str] = {}
    times = pd.Series(batch.time, dtype=object)
    spans = times.map(lambda v: v.split("/", 1) if isinstance(v, str) and "/" in v else None)
    interval = spans.notna()
    start = times.where(~interval, spans.map(lambda s: s[0] if s else None))
    end = spans.map(lambda s: s[1] if s else None)
    time_at = pd.Series(batch.time_at, dtype=object)
    phenomenon_time = _times(start, time_at, errors)
    phenomenon_end = None
    if interval.any():
        phenomenon_end = _times(end.where(interval, "1970-01-01T00:00:00Z"), time_at, errors)
        phenomenon_end = phenomenon_end.where(interval)
    value, limit, below = _results(
        pd.Series(batch.result, dtype=object), pd.Series(batch.result_at, dtype=object), errors
    )
    if errors:
        raise refuse(errors)
    quality = pd.Series(batch.quality, dtype=object).fillna("ok")
    frame = pd.DataFrame(
        {
            "sensor": pd.Series(batch.sensor, dtype=object),
            "property": pd.Series(batch.property, dtype=object),
            "phenomenon_time": phenomenon_time,
            "value": value,
            "quality": quality.where(~below, "below_detection"),
            "detection_limit": limit,
            "unit": pd.Series(batch.unit, dtype=object),
            "payload": [
                f"{batch.request} {item} {json.dumps(raw, ensure_ascii=False, default=str)}"
                for item, raw in zip(batch.item, batch.raw, strict=True)
            ],
        }
    )
    if phenomenon_end is not None:
        frame["phenomenon_end"] = phenomenon_end
    if frame["unit"].isna().all():  # no unit given: the property's unit is assumed
        frame = frame.drop(columns="unit")
    return frame


def _resolve(conn: psycopg.Connection, batch: Batch, frame: pd.DataFrame) -> pd.Series:
    """Fill in sensors of datastream ids and locations; return why a reading cannot be used."""
    reason = pd.Series("", index=frame.index, dtype=object)
    streams = pd.Series(batch.datastream, dtype=object)
    if streams.notna().any():
        ids = sorted({int(v) for v in streams.dropna()})
        rows = conn.execute(sql_text("api_datastream_refs"), {"ids": ids}).fetchall()
        sensors = {int(r[0]): str(r[1]) for r in rows}
        props = {int(r[0]): str(r[2]) for r in rows}
        by_id = streams.notna()
        frame.loc[by_id, "sensor"] = streams[by_id].map(sensors)
        frame.loc[by_id, "property"] = streams[by_id].map(props)
        unknown = by_id & frame["sensor"].isna()
        reason[unknown] = "unknown datastream " + streams[unknown].astype(str)
    points = pd.Series(batch.point, dtype=object)
    if points.notna().any():
        located = points.dropna()
        distinct = sorted(set(located))
        rows = conn.execute(
            sql_text("api_nearest_sensor"),
            {"lons": [p[0] for p in distinct], "lats": [p[1] for p in distinct],
             "radius": NEAREST_SENSOR_M},
        ).fetchall()  # fmt: skip
        nearest = {distinct[int(r[0]) - 1]: str(r[1]) for r in rows}
        frame.loc[located.index, "sensor"] = located.map(nearest)
        far = located[located.map(lambda p: p not in nearest).astype(bool)]
        reason[far.index] = far.map(
            lambda p: (
                f"no register sensor within {NEAREST_SENSOR_M:g} m of location "
                f"{p[0]:.5f},{p[1]:.5f}"
            )
        )
    return reason


def store(conn: psycopg.Connection, batch: Batch, source: str) -> dict[str, Any]:
    """Store a checked batch through the ingest path (inside the caller's transaction).

    Returns
    -------
    dict
        ``request``, ``received``, ``stored``, ``duplicates``, ``dead_letters``,
        ``new_datastreams``, ``exceedances``, ``reasons`` (count per reason), ``rejected``
        (item path and reason, at most :data:`MAX_REJECTED`) and, for NGSI-LD, ``ignored``.
    """
    frame = readings(batch)
    reason = _resolve(conn, batch, frame)
    early = reason != ""
    report = IngestReport()
    if early.any():
        report.received = int(early.sum())
        report.dead_letters = dead_letter(conn, source, frame["payload"][early], reason[early])
        report.reasons = {str(k): int(v) for k, v in reason[early].value_counts().items()}
    report.add(ingest(conn, frame[~early], source))
    rejected = conn.execute(
        sql_text("api_dead_letters_of_request"),
        {"source": source, "prefix": batch.request + " ", "limit": MAX_REJECTED},
    ).fetchall()
    result: dict[str, Any] = {"request": batch.request, **report.__dict__}
    result["rejected"] = [
        {"item": str(payload).split(" ", 2)[1], "reason": str(why)} for payload, why in rejected
    ]
    if batch.ignored:
        result["ignored"] = batch.ignored
    return result


def parse_json(data: bytes) -> object:
    """Parse a request body as JSON (no NaN or Infinity; huge integers become floats).

    Raises
    ------
    ValueError
        With the line and column of the first error.
    """

    def constant(name: str) -> float:
        raise ValueError(f"{name} is not JSON")

    def integer(text: str) -> int | float:
        return int(text) if len(text) < 16 else float(text)  # noqa: PLR2004 - inf when huge

    try:
        return json.loads(data, parse_constant=constant, parse_int=integer)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise ValueError(f"malformed JSON at {where}: {exc.msg}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError("the body is not UTF-8 text") from exc
