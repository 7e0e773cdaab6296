"""Edit forms generated from an asset class, and geometries typed or pasted by a user.

A form has one :class:`FormField` per editable column: the common ones (name, state, parent,
source, licence) and one per attribute of the class file, each with the widget it needs
(text, a choice among allowed values, a whole number or number within min/max, a flag, a
date, several choices for a list). The field converts a stored value to what its widget
shows (:meth:`FormField.shown`) and back (:meth:`FormField.stored`), so that a form sends
only the fields a user changed (:func:`changed_values`). Checking the values is the
register's job (:func:`twin.register.rules.check_one`), not the form's.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import pandas as pd
import shapely

from twin._errors import InvalidValue
from twin.register.catalog import LIST_SEPARATOR, AssetClass, Attribute

#: The widget a field needs: free text, one of a few values, a whole number, a number, a
#: yes/no flag, a date, several of a few values, or a list typed as text.
FieldKind = Literal["text", "choice", "integer", "number", "flag", "date", "choices", "items"]
#: Earliest and latest date a date field offers.
FIRST_DATE, LAST_DATE = date(1800, 1, 1), date(2200, 12, 31)
#: Relative difference below which two numbers count as the same value.
NUMBER_TOLERANCE = 1e-9
_SRID_PREFIX = re.compile(r"^\s*SRID=(\d+)\s*;", re.IGNORECASE)
_LONLAT_SRID = 4326


@dataclass(frozen=True)
class FormField:
    """One field of an asset form: which column, its label, widget and limits."""

    name: str
    label: str
    kind: FieldKind
    required: bool = False
    options: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    help: str = ""

    def shown(self, value: object) -> Any:  # noqa: ANN401 - one value per widget kind
        """Return a stored value as the field's widget takes it.

        Text is ``""`` when empty, a list is a list of its items, a flag is a ``bool``,
        whole numbers are ``int``; empty numbers and dates are ``None``.
        """
        if _missing(value):
            value = None
        match self.kind:
            case "text" | "choice" | "items":
                return "" if value is None else str(value)
            case "integer":
                return None if value is None else int(float(str(value)))
            case "number":
                return None if value is None else float(str(value))
            case "flag":
                return bool(value)
            case "date":
                return _as_date(value)
            case "choices":
                return split_items(value)
        raise AssertionError(self.kind)  # pragma: no cover - every kind is matched

    def stored(self, value: object) -> Any:  # noqa: ANN401, PLR0911 - one value per widget kind
        """Return what a widget holds as the register stores it (``None`` when empty)."""
        if _missing(value):
            return None
        match self.kind:
            case "text" | "choice" | "items":
                text = str(value)
                return text if text.strip() else None
            case "integer":
                return int(value)  # type: ignore[call-overload]
            case "number":
                return float(value)  # type: ignore[arg-type]
            case "flag":
                return bool(value)
            case "date":
                return _as_date(value)
            case "choices":
                items = [str(v) for v in value] if isinstance(value, list | tuple) else []
                return LIST_SEPARATOR.join(items) if items else None
        raise AssertionError(self.kind)  # pragma: no cover - every kind is matched

    def choices_for(self, value: object) -> tuple[str, ...]:
        """Return the options a choice widget offers while it shows ``value``.

        A value stored before the class file allowed it is offered too (so the form can
        show it), and an optional choice starts with ``""`` (no value).
        """
        current = self.shown(value)
        extra = [v for v in (current if isinstance(current, list) else [current])
                 if v and v not in self.options]  # fmt: skip
        blank = ("",) if self.kind == "choice" and not self.required else ()
        return (*blank, *self.options, *extra)

    def bounds_for(self, value: object) -> tuple[float | None, float | None]:
        """Return the widget's min and max, widened to hold ``value`` if it lies outside.

        A number input cannot show a value outside its bounds; a value stored by another
        client (QGIS, psql) may be, and the register says so when the form is saved.
        """
        shown = self.shown(value)
        low, high = self.min, self.max
        if isinstance(shown, int | float):
            low = None if low is None else min(low, shown)
            high = None if high is None else max(high, shown)
        return low, high

    def same(self, before: object, entered: object) -> bool:
        """Whether a widget's value ``entered`` leaves the stored value ``before`` as it was."""
        old, new = self.stored(self.shown(before)), self.stored(entered)
        if self.kind == "flag":
            return bool(old) == bool(new)
        if self.kind == "number" and old is not None and new is not None:
            return math.isclose(old, new, rel_tol=NUMBER_TOLERANCE, abs_tol=NUMBER_TOLERANCE)
        return bool(old == new)


def split_items(value: object) -> list[str]:
    """Return the items of a list value (``"no2;pm10"`` or a list) without blanks."""
    if _missing(value):
        return []
    items = value if isinstance(value, list | tuple) else str(value).split(LIST_SEPARATOR)
    return [text for text in (str(v).strip() for v in items) if text]


def _missing(value: object) -> bool:
    if value is None or isinstance(value, list | tuple | dict):
        return value is None
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def _as_date(value: object) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _attribute_field(attribute: Attribute) -> FormField:
    kinds: dict[str, FieldKind] = {
        "text": "choice" if attribute.allowed else "text",
        "list": "choices" if attribute.allowed else "items",
        "integer": "integer",
        "number": "number",
        "boolean": "flag",
        "date": "date",
    }
    help_text = attribute.description
    if attribute.type == "list" and not attribute.allowed:
        help_text = f"{help_text} Items separated by '{LIST_SEPARATOR}'.".strip()
    if attribute.codespace:
        help_text = f"{help_text} Identifier issued by {attribute.codespace}.".strip()
    label = attribute.title
    suffix = "_" + attribute.unit.lower().replace(" ", "_")
    if not attribute.label and attribute.unit and attribute.name.endswith(suffix):
        label = f"{attribute.name.removesuffix(suffix).replace('_', ' ')} ({attribute.unit})"
    return FormField(
        name=attribute.name,
        label=label,
        kind=kinds[attribute.type],
        required=attribute.required,
        options=tuple(attribute.allowed or ()),
        min=attribute.min,
        max=attribute.max,
        help=help_text,
    )


def form_fields(asset_class: AssetClass) -> tuple[FormField, ...]:
    """Return the fields of an edit form for ``asset_class``, in display order.

    Parameters
    ----------
    asset_class
        The class whose file defines the attributes.

    Returns
    -------
    tuple of FormField
        ``name``, ``state``, ``parent_id``, then one field per attribute in file order,
        then ``source`` and ``licence``: every column :attr:`AssetClass.editable` lists.
    """
    parents = ", ".join(asset_class.parents)
    parent_help = (
        f"Id of the asset it hangs on (a {parents}), e.g. building:000123; empty for none."
        if parents
        else "Id of the asset it belongs to; empty for none."
    )
    fields = [
        FormField("name", "name", "text"),
        FormField("state", "lifecycle state", "choice", required=True,
                  options=tuple(asset_class.states)),
        FormField("parent_id", "parent asset id", "text", help=parent_help),
        *(_attribute_field(a) for a in asset_class.attributes),
        FormField("source", "source", "text", help="Where the data comes from."),
        FormField("licence", "licence", "text", help="Licence of the data."),
    ]  # fmt: skip
    return tuple(fields)


def changed_values(
    fields: Iterable[FormField], before: Mapping[str, object], entered: Mapping[str, object]
) -> dict[str, Any]:
    """Return the fields whose entered value differs from the stored one, as stored values.

    Parameters
    ----------
    fields
        The form's fields.
    before
        The stored values the form was opened on.
    entered
        What each widget holds, by field name (fields missing here are unchanged).

    Returns
    -------
    dict
        Field name to the value to store (``None`` clears it), only for changed fields.
    """
    return {
        f.name: f.stored(entered[f.name])
        for f in fields
        if f.name in entered and not f.same(before.get(f.name), entered[f.name])
    }


def new_values(asset_class: AssetClass) -> dict[str, Any]:
    """Return the values a new asset's form starts with: default state and defaults."""
    values: dict[str, Any] = {"state": asset_class.default_state}
    values.update({a.name: a.default for a in asset_class.attributes if a.default is not None})
    return values


def parse_geometry(text: str) -> shapely.Geometry:
    """Read a geometry typed or pasted as WKT, EWKT (SRID 4326) or GeoJSON.

    GeoJSON may be a geometry, a Feature or a FeatureCollection of one feature; its
    coordinates are longitude/latitude (RFC 7946), as are those of WKT.

    Parameters
    ----------
    text
        ``POINT (15.6467 46.5576)``, ``SRID=4326;LINESTRING (…)``,
        ``{"type": "Point", "coordinates": [15.6467, 46.5576]}`` …

    Returns
    -------
    shapely.Geometry
        The geometry in EPSG:4326 (validity and type are the register's to check).

    Raises
    ------
    InvalidValue
        When the text is neither, or a collection does not hold exactly one feature;
        ``errors`` names the field ``geometry``.
    """
    stripped = text.strip()
    if not stripped:
        raise _geometry_error("no geometry given: paste WKT or GeoJSON")
    if stripped.startswith("{"):
        return _from_geojson(stripped)
    prefix = _SRID_PREFIX.match(stripped)
    if prefix:
        if int(prefix.group(1)) != _LONLAT_SRID:
            raise _geometry_error(
                f"SRID={prefix.group(1)}: give longitude/latitude (SRID=4326) coordinates"
            )
        stripped = stripped[prefix.end() :]
    try:
        return shapely.from_wkt(stripped)
    except shapely.errors.GEOSException as exc:
        reason = str(exc).splitlines()[0]
        raise _geometry_error(f"not WKT or GeoJSON ({reason})") from exc


def _from_geojson(text: str) -> shapely.Geometry:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _geometry_error(f"not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(document, dict):
        raise _geometry_error("GeoJSON must be an object with a 'type'")
    if document.get("type") == "FeatureCollection":
        features = document.get("features") or []
        if len(features) != 1:
            raise _geometry_error(
                f"the FeatureCollection holds {len(features)} features; give exactly one"
            )
        document = features[0]
    if isinstance(document, dict) and document.get("type") == "Feature":
        document = document.get("geometry")
    if not isinstance(document, dict):
        raise _geometry_error("the GeoJSON feature has no geometry")
    try:
        return shapely.from_geojson(json.dumps(document))
    except shapely.errors.GEOSException as exc:
        reason = str(exc).splitlines()[0]
        raise _geometry_error(f"not a GeoJSON geometry ({reason})") from exc


def _geometry_error(message: str) -> InvalidValue:
    return InvalidValue(message, {"geometry": message})


def point_lonlat(wkt: str | None) -> tuple[float, float] | None:
    """Return longitude and latitude of a point's WKT, ``None`` for other or no geometry."""
    if not wkt:
        return None
    geometry = shapely.from_wkt(wkt)
    if not isinstance(geometry, shapely.Point) or geometry.is_empty:
        return None
    return float(geometry.x), float(geometry.y)
