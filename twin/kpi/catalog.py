"""The KPI catalog as data: the strategy's seven areas and every indicator (``catalog.toml``).

Each indicator names its calculator kind and, for the computed kinds, which register class,
attributes and sensors it reads; :func:`load_catalog` checks all of it against the asset-class
catalog (``assets/*.toml``) once, so a typo fails when the catalog is read, with the entry named.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from twin._errors import ConfigError
from twin.register.catalog import AssetClass, classes

CATALOG_FILE = Path(__file__).resolve().parent / "catalog.toml"

Calculator = Literal[
    "share", "area_share", "density", "count", "per_population", "area_sum", "walk_share",
    "coverage", "manual",
]  # fmt: skip
#: Kinds that read a register class (``class``, ``where``, ``flag``, ``weight``).
REGISTER_KINDS = frozenset({"share", "area_share", "density", "count", "per_population",
                            "area_sum"})  # fmt: skip
#: Kinds whose value is a share of the denominator, in percent.
SHARE_KINDS = frozenset({"share", "area_share", "walk_share", "coverage"})
Scalar = bool | int | float | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Settings(_Strict):
    """Catalog-wide settings (``[settings]``)."""

    reporting_window_hours: float = Field(24.0, gt=0)
    walk_connect_m: float = Field(30.0, ge=0)


class Area(_Strict):
    """One of the strategy's seven areas, with its maturity now and the 2030 target (in %)."""

    id: str
    name_sl: str
    name_en: str
    maturity: float = Field(ge=0, le=100)
    maturity_target_2030: float = Field(ge=0, le=100)
    goal_sl: str


class Kpi(_Strict):
    """One indicator: what it measures, its target and how it is computed."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_sl: str
    name_en: str
    area: str
    unit: str
    direction: Literal["higher", "lower"]
    calculator: Calculator
    iso: str | None = None
    target_2030: float | None = None
    target_source: str | None = None
    realtime: bool = False
    asset_class: str | None = Field(None, alias="class")
    where: dict[str, Scalar] = Field(default_factory=dict)
    flag: dict[str, Scalar] = Field(default_factory=dict)
    flag_sensor: str | None = None
    weight: str | None = None
    stations: bool = False
    per: float = Field(1000.0, gt=0)
    distance_m: float = Field(300.0, gt=0)
    tech: str | None = None
    numerator: str = "numerator"
    denominator: str = "denominator"

    @model_validator(mode="after")
    def _inputs(self) -> Kpi:
        if self.calculator in REGISTER_KINDS and self.asset_class is None:
            raise ValueError(f"calculator {self.calculator!r} needs `class`")
        if self.calculator in ("share", "area_share") and not (self.flag or self.flag_sensor):
            raise ValueError("a share needs `flag` or `flag_sensor`")
        if self.calculator == "coverage" and self.tech is None:
            raise ValueError("calculator 'coverage' needs `tech`")
        if self.target_2030 is not None and self.target_source is None:
            raise ValueError("a target_2030 needs its target_source in the strategy")
        return self

    @property
    def is_share(self) -> bool:
        """Whether the value is a percentage of the denominator."""
        return self.calculator in SHARE_KINDS

    @property
    def manual(self) -> bool:
        """Whether the value is entered (CLI, form) rather than computed."""
        return self.calculator == "manual"

    @property
    def spatial(self) -> bool:
        """Whether the value is computed for the city and every district."""
        return not self.manual


class Catalog(_Strict):
    """The whole catalog: settings, areas and indicators in file order."""

    settings: Settings = Field(default_factory=Settings)
    area: tuple[Area, ...]
    kpi: tuple[Kpi, ...]

    @property
    def areas(self) -> dict[str, Area]:
        """Areas by id, in the strategy's order."""
        return {a.id: a for a in self.area}

    @property
    def kpis(self) -> dict[str, Kpi]:
        """Indicators by id, in file order."""
        return {k.id: k for k in self.kpi}

    def get(self, kpi_id: str) -> Kpi:
        """Return one indicator.

        Raises
        ------
        ConfigError
            When there is no such indicator (the message lists the known ones).
        """
        found = self.kpis.get(kpi_id)
        if found is None:
            raise ConfigError(
                f"unknown KPI {kpi_id!r}; `twin kpi catalog` lists them "
                f"({', '.join(sorted(self.kpis))})"
            )
        return found


def _check_attributes(kpi: Kpi, cls: AssetClass, values: dict[str, Scalar], what: str) -> None:
    for name, value in values.items():
        attribute = cls.attribute(name)
        if attribute.allowed is not None and str(value) not in attribute.allowed:
            raise ConfigError(
                f"KPI {kpi.id}: {what} {name} = {value!r} is not an allowed value of "
                f"{cls.name}.{name} ({', '.join(attribute.allowed)})"
            )
        if (attribute.type == "boolean") != isinstance(value, bool):
            raise ConfigError(
                f"KPI {kpi.id}: {what} {name} = {value!r} does not fit the {attribute.type} "
                f"attribute {cls.name}.{name}"
            )


def _check_against_register(catalog: Catalog) -> None:
    known = classes()
    sensor = known.get("sensor")
    sensor_kinds = sensor.attribute("kind").allowed if sensor else None
    for kpi in catalog.kpi:
        if kpi.area not in catalog.areas:
            raise ConfigError(f"KPI {kpi.id}: unknown area {kpi.area!r}")
        if kpi.asset_class is None:
            continue
        cls = known.get(kpi.asset_class)
        if cls is None:
            raise ConfigError(f"KPI {kpi.id}: unknown asset class {kpi.asset_class!r}")
        for name in (*kpi.where, *kpi.flag, *([kpi.weight] if kpi.weight else [])):
            if name not in {a.name for a in cls.attributes}:
                raise ConfigError(
                    f"KPI {kpi.id}: asset class {cls.name!r} has no attribute {name!r}"
                )
        _check_attributes(kpi, cls, kpi.where, "where")
        _check_attributes(kpi, cls, kpi.flag, "flag")
        if kpi.weight is not None and cls.attribute(kpi.weight).type not in ("integer", "number"):
            raise ConfigError(f"KPI {kpi.id}: weight {kpi.weight!r} is not a numeric attribute")
        if kpi.flag_sensor is not None and (
            sensor_kinds is None or kpi.flag_sensor not in sensor_kinds
        ):
            raise ConfigError(f"KPI {kpi.id}: flag_sensor {kpi.flag_sensor!r} is no sensor kind")
        if kpi.stations and kpi.asset_class != "sensor":
            raise ConfigError(f"KPI {kpi.id}: `stations` counts sensors, so class must be sensor")


def read_catalog(path: Path) -> Catalog:
    """Read and validate a KPI catalog file.

    Parameters
    ----------
    path
        The TOML file.

    Returns
    -------
    Catalog
        Areas and indicators.

    Raises
    ------
    ConfigError
        When the file is missing or invalid; the message names the entry and the problem.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the KPI catalog: {exc}") from exc
    try:
        catalog = Catalog.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        entry = ""
        loc = first["loc"]
        if len(loc) > 1 and loc[0] == "kpi" and isinstance(loc[1], int):
            entry = f" (KPI {raw['kpi'][loc[1]].get('id', loc[1])})"
        raise ConfigError(f"{path}: {where}{entry}: {first['msg']}") from exc
    ids = [k.id for k in catalog.kpi]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"{path}: KPI id(s) {', '.join(duplicates)} appear more than once")
    _check_against_register(catalog)
    return catalog


@cache
def load_catalog() -> Catalog:
    """Return the shipped catalog (``twin/kpi/catalog.toml``), read and checked once."""
    return read_catalog(CATALOG_FILE)
