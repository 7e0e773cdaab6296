"""The asset-class catalog: one TOML file per class in ``assets/``.

A class file names the geometry type, the attributes (type, unit, allowed values, required,
default, range, external-identifier codespace), the lifecycle states, the display colour and
icon and the fields searched. The register table, the forms, import validation, export and the
map all read it; adding a class is adding a file (``twin db migrate`` then creates its table).
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from twin._errors import ConfigError
from twin.config import get_settings

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")]
AttributeType = Literal["text", "integer", "number", "boolean", "date", "list"]
GeometryType = Literal["Point", "LineString", "Polygon", "MultiPolygon"]
#: Lifecycle states every class knows; a class may list a subset (``retired`` is always kept).
State = Literal["planned", "active", "out_of_service", "retired"]
LIFECYCLE: tuple[State, ...] = ("planned", "active", "out_of_service", "retired")
#: Columns every register table has, in order, besides the class attributes.
COMMON_COLUMNS = (
    "id",
    "name",
    "state",
    "parent_id",
    "synthetic",
    "generator",
    "seed",
    "source",
    "licence",
    "version",
    "changed_by",
    "changed_at",
    "change_reason",
    "geom",
)
#: Columns the database maintains (never imported, never compared).
BOOKKEEPING = ("version", "changed_by", "changed_at", "change_reason")
#: Separator of the items of a ``list`` attribute in its text column.
LIST_SEPARATOR = ";"
RESERVED = frozenset(COMMON_COLUMNS) | {"class", "geometry", "wkt", "lon", "lat", "fid"}


class Attribute(BaseModel):
    """One typed attribute of an asset class (a column of its register table)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Identifier
    type: AttributeType
    label: str = ""
    unit: str = ""
    description: str = ""
    allowed: tuple[str, ...] | None = None
    required: bool = False
    default: str | int | float | bool | None = None
    min: float | None = None
    max: float | None = None
    codespace: str | None = Field(
        default=None,
        description="Set on an external identifier: the register or operator that issues it.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Attribute:
        if self.name in RESERVED:
            raise ValueError(f"attribute name {self.name!r} is reserved for a common column")
        if self.allowed is not None and self.type not in ("text", "list"):
            raise ValueError(f"{self.name}: allowed values are for text and list attributes")
        if (self.min is not None or self.max is not None) and self.type not in (
            "integer",
            "number",
        ):
            raise ValueError(f"{self.name}: min/max are for integer and number attributes")
        if self.codespace is not None and self.type not in ("text", "integer"):
            raise ValueError(f"{self.name}: an external identifier is text or integer")
        return self

    @property
    def title(self) -> str:
        """Label shown in forms: the label (or name) and the unit."""
        text = self.label or self.name.replace("_", " ")
        return f"{text} ({self.unit})" if self.unit else text


class Display(BaseModel):
    """How a class is drawn and listed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    colour: tuple[int, int, int] = (90, 90, 90)
    icon: str = "•"
    radius_m: float = Field(default=6.0, gt=0, le=200)


class AssetClass(BaseModel):
    """One asset class of the register."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Identifier
    title: str
    title_sl: str = ""
    description: str = ""
    geometry: GeometryType
    states: tuple[State, ...] = LIFECYCLE
    default_state: str = "active"
    parents: tuple[Identifier, ...] = ()
    search: tuple[str, ...] = ("id", "name")
    display: Display = Display()
    attributes: tuple[Attribute, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> AssetClass:
        names = [a.name for a in self.attributes]
        if len(names) != len(set(names)):
            raise ValueError("attribute names must be unique")
        if "retired" not in self.states:
            raise ValueError("states must include 'retired'")
        if self.default_state not in self.states:
            raise ValueError(f"default_state {self.default_state!r} is not one of states")
        unknown = set(self.search) - {*names, "id", "name"}
        if unknown:
            raise ValueError(f"search names unknown fields {sorted(unknown)}")
        return self

    @property
    def table(self) -> str:
        """Name of the register table (schema ``register``)."""
        return self.name

    def attribute(self, name: str) -> Attribute:
        """Return the attribute ``name``.

        Raises
        ------
        ConfigError
            When the class has no such attribute.
        """
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        raise ConfigError(f"asset class {self.name!r} has no attribute {name!r}")

    @property
    def identifiers(self) -> tuple[Attribute, ...]:
        """External identifiers (attributes with a codespace), in file order."""
        return tuple(a for a in self.attributes if a.codespace)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column of the register table, common ones first."""
        return (*COMMON_COLUMNS[:-1], *(a.name for a in self.attributes), "geom")

    @property
    def editable(self) -> tuple[str, ...]:
        """Columns an import or a form may set (no bookkeeping, no provenance of synth)."""
        return ("name", "state", "parent_id", "source", "licence",
                *(a.name for a in self.attributes))  # fmt: skip


def read_class(path: Path) -> AssetClass:
    """Read and validate one asset-class file.

    Raises
    ------
    ConfigError
        When the file is not valid TOML or not a valid class; the message names the file.
    """
    try:
        asset_class = AssetClass.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise ConfigError(f"{path}: {where}: {first['msg']}") from exc
    if asset_class.name != path.stem:
        raise ConfigError(
            f"{path}: name {asset_class.name!r} must match the file name {path.stem!r}"
        )
    return asset_class


@cache
def classes(directory: Path | None = None) -> dict[str, AssetClass]:
    """Return every asset class by name (``TWIN_ASSETS_DIR`` by default).

    Raises
    ------
    ConfigError
        When the directory is missing, a file is invalid or a parent class is unknown.
    """
    directory = directory or get_settings().assets_dir
    if not directory.is_dir():
        raise ConfigError(f"{directory}: asset-class directory not found (TWIN_ASSETS_DIR)")
    found = {c.name: c for c in map(read_class, sorted(directory.glob("*.toml")))}
    for asset_class in found.values():
        missing = set(asset_class.parents) - set(found)
        if missing:
            raise ConfigError(
                f"{directory / (asset_class.name + '.toml')}: parents names unknown classes "
                f"{sorted(missing)}"
            )
    return found


def asset_class(name: str) -> AssetClass:
    """Return one class of the default catalog.

    Raises
    ------
    ConfigError
        When there is no such class; the message lists the known ones.
    """
    known = classes()
    if name not in known:
        raise ConfigError(
            f"unknown asset class {name!r}; known classes: {', '.join(sorted(known))} "
            f"(add assets/{name}.toml to define it)"
        )
    return known[name]
