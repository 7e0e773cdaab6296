"""Observed properties and air-quality thresholds, kept as data next to this module.

``properties.toml`` names each property, its unit and definition; ``thresholds.toml`` the EU
limit, information and alert thresholds. ``sync`` writes both into their tables (run after
the migrations), so a threshold is changed by editing a file, not code.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

import psycopg
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from twin._errors import ConfigError
from twin.db._sql import sql_text

HERE = Path(__file__).resolve().parent


class ObservedProperty(BaseModel):
    """What is measured and the unit the twin stores it in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_.]+$")
    name: str
    unit: str
    definition: str


class Threshold(BaseModel):
    """One limit, information or alert threshold of a property."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_.]+$")
    property: str
    kind: Literal["limit", "information", "alert", "target"]
    averaging: Literal["1h", "8h", "24h"]
    value: float = Field(gt=0)
    allowed_per_year: int | None = None
    source: str


def _read(path: Path) -> dict[str, dict[str, object]]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


@cache
def properties() -> dict[str, ObservedProperty]:
    """Every observed property by id.

    Raises
    ------
    ConfigError
        When ``properties.toml`` is invalid (the message names the entry).
    """
    path = HERE / "properties.toml"
    found = {}
    for key, body in _read(path).items():
        try:
            found[key] = ObservedProperty.model_validate({"id": key, **body})
        except ValidationError as exc:
            raise ConfigError(f"{path}: [{key}]: {exc.errors()[0]['msg']}") from exc
    return found


@cache
def thresholds() -> dict[str, Threshold]:
    """Every threshold by id.

    Raises
    ------
    ConfigError
        When ``thresholds.toml`` is invalid or names an unknown property.
    """
    path = HERE / "thresholds.toml"
    found = {}
    known = properties()
    for key, body in _read(path).items():
        try:
            found[key] = Threshold.model_validate({"id": key, **body})
        except ValidationError as exc:
            raise ConfigError(f"{path}: [{key}]: {exc.errors()[0]['msg']}") from exc
        if found[key].property not in known:
            raise ConfigError(f"{path}: [{key}]: unknown property {found[key].property!r}")
    return found


def unit_of(property_id: str) -> str:
    """Return the unit a property is stored in.

    Raises
    ------
    ConfigError
        When the property is unknown.
    """
    known = properties()
    if property_id not in known:
        raise ConfigError(
            f"unknown observed property {property_id!r}; known: {', '.join(sorted(known))}"
        )
    return known[property_id].unit


def sync(conn: psycopg.Connection) -> None:
    """Write the properties and thresholds into their tables (inside the caller's transaction)."""
    for p in properties().values():
        conn.execute(sql_text("sensors_property_upsert"), p.model_dump())
    for t in thresholds().values():
        conn.execute(
            sql_text("sensors_threshold_upsert"), {**t.model_dump(), "unit": unit_of(t.property)}
        )
    conn.execute(sql_text("sensors_threshold_prune"), {"ids": list(thresholds())})
