"""NGSI-LD ``AirQualityObserved`` entities as readings for the HTTP ingest.

``POST /ngsi-ld/v1/entities`` takes one entity (normalized or concise form),
``POST /ngsi-ld/v1/entityOperations/upsert`` a list. Each pollutant attribute (``no2``,
``pm10``, ``pm25``/``pm2_5``/``pm2.5``, ``o3``, ``so2``, ``co``, ``benzene``/``c6h6``,
``temperature``) is one reading at the attribute's ``observedAt``, else the entity's
``dateObserved``; its ``unitCode`` (UN/CEFACT: GQ = µg/m³, GP = mg/m³, CEL = °C, P1 = %) must
give the property's unit, or be left out. The sensor is ``refDevice``
(``urn:ngsi-ld:Device:E407`` → the station code ``E407``; ``urn:ngsi-ld:Device:sensor:000012``
→ the register id ``sensor:000012``), else ``refPointOfInterest`` (same rule), else the
register sensor nearest to the ``location`` point within 50 m. Other attributes are listed as
``ignored`` in the response; the shape is checked as in :mod:`twin._api_ingest`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, StrictStr, TypeAdapter, ValidationError

from twin._api_ingest import Batch, Result, problem, refuse, validated, where

#: NGSI-LD attribute → observed property.
NGSI_PROPERTIES = {
    "no2": "no2", "pm10": "pm10", "pm25": "pm2.5", "pm2_5": "pm2.5", "pm2.5": "pm2.5",
    "o3": "o3", "so2": "so2", "co": "co", "benzene": "benzene", "c6h6": "benzene",
    "temperature": "temperature",
}  # fmt: skip
#: UN/CEFACT common codes → the twin's unit symbols.
UNIT_CODES = {"GQ": "µg/m³", "GP": "mg/m³", "CEL": "°C", "P1": "%"}
#: Entity members that are read or are metadata (never reported as ignored).
_NGSI_META = {"id", "type", "@context", "dateObserved", "refDevice", "refPointOfInterest",
              "location", "dateCreated", "dateModified", "createdAt", "modifiedAt"}  # fmt: skip


class NgsiProperty(BaseModel):
    """An NGSI-LD Property holding a reading (``type`` may be left out: concise form)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Property"] = "Property"
    value: Result
    unit_code: StrictStr | None = Field(default=None, alias="unitCode")
    observed_at: StrictStr | None = Field(default=None, alias="observedAt")


class NgsiRelationship(BaseModel):
    """An NGSI-LD Relationship to a device or point of interest."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Relationship"] = "Relationship"
    object: StrictStr = Field(pattern=r"^urn:[^:]+:[^:]+:.+$")


class GeoPoint(BaseModel):
    """A GeoJSON point in WGS84 (longitude, latitude)."""

    type: Literal["Point"]
    coordinates: tuple[Annotated[float, Field(ge=-180, le=180)],
                       Annotated[float, Field(ge=-90, le=90)]]  # fmt: skip


class NgsiGeoProperty(BaseModel):
    """An NGSI-LD GeoProperty holding a point."""

    model_config = ConfigDict(extra="allow")

    type: Literal["GeoProperty"] = "GeoProperty"
    value: GeoPoint


class AirQualityObserved(BaseModel):
    """An NGSI-LD ``AirQualityObserved`` entity (the members the twin reads)."""

    model_config = ConfigDict(extra="allow")

    id: StrictStr = Field(pattern=r"^urn:")
    type: Literal["AirQualityObserved"]
    date_observed: Any = Field(
        default=None, alias="dateObserved", description="Property (or concise value): ISO time"
    )
    ref_device: NgsiRelationship | None = Field(default=None, alias="refDevice")
    ref_point_of_interest: NgsiRelationship | None = Field(default=None, alias="refPointOfInterest")
    location: NgsiGeoProperty | None = None


#: The body of ``POST /ngsi-ld/v1/entities`` and of ``…/entityOperations/upsert``.
NGSI_BODY: TypeAdapter[AirQualityObserved | list[AirQualityObserved]] = TypeAdapter(
    AirQualityObserved | list[AirQualityObserved]
)
_NGSI_PROPERTY: TypeAdapter[NgsiProperty] = TypeAdapter(NgsiProperty)
_NGSI_LIST: TypeAdapter[list[AirQualityObserved]] = TypeAdapter(list[AirQualityObserved])
_NGSI_ONE: TypeAdapter[AirQualityObserved] = TypeAdapter(AirQualityObserved)


def _device(relationship: NgsiRelationship) -> str:
    """``urn:ngsi-ld:Device:E407`` → ``E407`` (everything after the type)."""
    return relationship.object.split(":", 3)[3]


def _time_value(member: object) -> object:
    """Unwrap an NGSI-LD time: a Property's value, a ``{"@type": "DateTime"}`` or a string."""
    if isinstance(member, dict) and "value" in member:
        member = member["value"]
    if isinstance(member, dict) and "@value" in member:
        member = member["@value"]
    return member


def _entity(
    batch: Batch, path: str, entity: AirQualityObserved, raw: dict[str, Any],
    errors: dict[str, str],
) -> None:  # fmt: skip
    """Add one entity's readings to the batch; note what is wrong in ``errors``."""
    sensor: str | None = None
    point: tuple[float, float] | None = None
    if entity.ref_device is not None:
        sensor = _device(entity.ref_device)
    elif entity.ref_point_of_interest is not None:
        sensor = _device(entity.ref_point_of_interest)
    elif entity.location is not None:
        point = entity.location.value.coordinates
    else:
        errors[path] = "name the sensor by refDevice, refPointOfInterest or location"
        return
    count = len(batch.item)
    for name, member in raw.items():
        if name in _NGSI_META:
            continue
        if name not in NGSI_PROPERTIES:
            batch.ignored.append(f"{path}.{name}")
            continue
        try:
            value = _NGSI_PROPERTY.validate_python(
                member if isinstance(member, dict) else {"value": member}
            )
        except ValidationError as exc:
            errors.update({where(tuple(e["loc"]), f"{path}.{name}"): problem(e)
                           for e in exc.errors()})  # fmt: skip
            continue
        time: tuple[object, str]
        if value.observed_at is not None:
            time = (value.observed_at, f"{path}.{name}.observedAt")
        elif entity.date_observed is not None:
            suffix = ".value" if isinstance(entity.date_observed, dict) else ""
            time = (_time_value(entity.date_observed), f"{path}.dateObserved{suffix}")
        else:
            errors[f"{path}.dateObserved"] = f"required for {name} (or give its observedAt)"
            continue
        code = value.unit_code
        batch.add(
            f"{path}.{name}", time, (value.value, f"{path}.{name}.value"),
            {"id": entity.id, name: member, "dateObserved": entity.date_observed},
            sensor=sensor, point=point, prop=NGSI_PROPERTIES[name],
            unit=None if code is None else UNIT_CODES.get(code, f"unitCode {code}"),
        )  # fmt: skip
    if len(batch.item) == count and not any(k.startswith(path) for k in errors):
        known = ", ".join(sorted(NGSI_PROPERTIES))
        errors[path] = f"no reading: give at least one of {known}"


def ngsi_ld(body: object, request: str) -> Batch:
    """Check NGSI-LD ``AirQualityObserved`` entities and list their readings.

    Raises
    ------
    InvalidValue
        When an entity is malformed, names no sensor (``refDevice``, ``refPointOfInterest``
        or ``location``), has no time for a reading or no pollutant at all.
    """
    if isinstance(body, list):
        entities = validated(_NGSI_LIST, body, "body")
    else:
        entities = [validated(_NGSI_ONE, body, "body")]
    raws = cast("list[dict[str, Any]]", body if isinstance(body, list) else [body])
    paths = [f"body[{i}]" for i in range(len(entities))] if isinstance(body, list) else ["body"]
    batch = Batch(request)
    errors: dict[str, str] = {}
    for path, entity, raw in zip(paths, entities, raws, strict=True):
        _entity(batch, path, entity, raw, errors)
    if errors:
        raise refuse(errors)
    return batch
