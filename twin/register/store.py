"""Read and change the register: list, show, history, "as of", create, edit, retire, restore.

Every change runs as a signed-in :class:`Actor`: the transaction takes the database role
behind the actor's role (``twin_editor``/``twin_admin``) and names the actor and the reason
for the history triggers. Edits carry the version they were made on; the database refuses a
stale one (SQLSTATE ``TW409``) and the error lists what changed in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from psycopg.rows import dict_row

from twin._errors import AccessDenied, DatabaseError, InvalidValue, StaleEdit, exception_reason
from twin.db._sql import sql_text
from twin.db.engine import connect
from twin.register import rules
from twin.register.catalog import BOOKKEEPING, AssetClass, asset_class

Role = Literal["viewer", "editor", "admin"]
DISPLAY_SRID = 4326
STORAGE_SRID = 3794
STALE = "TW409"
#: Fields of a history record that are not shown as changes.
_NOT_CHANGES = frozenset({*BOOKKEEPING, "id"})


@dataclass(frozen=True)
class Actor:
    """A signed-in user: who is recorded in the history, and what their role allows."""

    name: str
    role: Role

    @property
    def can_edit(self) -> bool:
        """Whether the role may change the register."""
        return self.role in ("editor", "admin")


@contextmanager
def acting(
    conn: psycopg.Connection, actor: Actor | None, reason: str | None = None
) -> Iterator[None]:
    """Run the enclosed statements as ``actor`` in one transaction (role, user, reason).

    Raises
    ------
    AccessDenied
        When nobody is signed in or the role may not edit.
    """
    if actor is None:
        raise AccessDenied("sign in to change the register (viewing needs no sign-in)")
    if not actor.can_edit:
        raise AccessDenied(f"{actor.name} is a {actor.role}; only editors and admins may edit")
    with conn.transaction():
        roles = conn.execute(sql_text("register_roles")).fetchone()
        if roles and roles[0] == 3:  # noqa: PLR2004 - the three roles of revision 0003
            role = "twin_admin" if actor.role == "admin" else "twin_editor"
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        conn.execute(
            "SELECT set_config('twin.user', %s, true), set_config('twin.reason', %s, true)",
            (actor.name, reason or ""),
        )
        yield


def parse_time(text: str) -> datetime:
    """Parse an ISO date or time (a date means its start, local time zone if none given).

    Raises
    ------
    InvalidValue
        When the text is not an ISO date/time.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidValue(f"{text!r} is not an ISO date or time (e.g. 2026-11-26T14:00)") from exc
    return moment if moment.tzinfo else moment.astimezone()


def count_by_class(url: str | None = None) -> dict[str, int]:
    """Count the live assets of each class."""
    with connect(url) as conn:
        rows = conn.execute("SELECT class, count(*) FROM register.assets GROUP BY class").fetchall()
    return {str(c): int(n) for c, n in rows}


def class_of(asset_id: str, url: str | None = None) -> AssetClass:
    """Return the class of an asset (live or deleted).

    Raises
    ------
    InvalidValue
        When no asset has this id.
    """
    with connect(url) as conn:
        row = conn.execute(sql_text("register_class_of"), {"id": asset_id}).fetchone()
    if row is None:
        raise InvalidValue(f"no asset with id {asset_id!r} in the register")
    return asset_class(str(row[0]))


def _search_condition(cls: AssetClass) -> sql.Composable:
    fields = sql.SQL(", ").join(sql.SQL("t.{}::text").format(sql.Identifier(f)) for f in cls.search)
    return sql.SQL("concat_ws(' ', {}) ILIKE %(pattern)s").format(fields)


def as_of_source(cls: AssetClass) -> sql.Composable:
    """Rows of ``cls`` as they were at ``%(as_of)s``.

    Versions that had ended by now are rebuilt from the history; versions still current
    are the rows themselves (the history keeps no copy of them).
    """
    return sql.SQL(
        "(SELECT r.* FROM register.history h, jsonb_populate_record(NULL::{t}, "
        "h.record || jsonb_build_object('geom', encode(ST_AsEWKB(h.geom), 'hex'))) r "
        "WHERE h.class = {c} AND h.operation <> 'delete' AND h.valid_from <= %(as_of)s "
        "AND h.valid_to > %(as_of)s "
        "UNION ALL SELECT * FROM {t} WHERE changed_at <= %(as_of)s)"
    ).format(t=sql.Identifier("register", cls.table), c=sql.Literal(cls.name))


def list_assets(
    class_name: str,
    *,
    search: str | None = None,
    district_id: int | None = None,
    state: str | None = None,
    filters: dict[str, Any] | None = None,
    as_of: datetime | None = None,
    limit: int | None = None,
    url: str | None = None,
) -> gpd.GeoDataFrame:
    """Return the assets of one class, filtered, with geometries in EPSG:4326.

    Parameters
    ----------
    class_name
        Asset class.
    search
        Text found (case-insensitively) in any of the class's search fields.
    district_id
        Keep assets intersecting this district (``twin.districts.id``).
    state
        Keep assets in this lifecycle state.
    filters
        Attribute equalities, e.g. ``{"lamp_type": "LED"}``.
    as_of
        Show the register as it was at this moment (from the history).
    limit
        At most this many rows.
    url
        Database URL.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per asset: the class's columns, geometry in EPSG:4326.

    Raises
    ------
    ConfigError
        When the class or a filtered attribute is unknown.
    """
    cls = asset_class(class_name)
    conditions: list[sql.Composable] = []
    params: dict[str, Any] = {"srid": DISPLAY_SRID, "as_of": as_of}
    if search:
        conditions.append(_search_condition(cls))
        params["pattern"] = (
            "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
    if district_id is not None:
        conditions.append(
            sql.SQL(
                "EXISTS (SELECT 1 FROM twin.districts d WHERE d.id = %(district)s "
                "AND ST_Intersects(d.geom, t.geom))"
            )
        )
        params["district"] = district_id
    if state:
        conditions.append(sql.SQL("t.state = %(state)s"))
        params["state"] = state
    for i, (name, value) in enumerate((filters or {}).items()):
        cls.attribute(name)
        conditions.append(
            sql.SQL("t.{}::text = %({})s").format(sql.Identifier(name), sql.SQL(f"f{i}"))
        )
        params[f"f{i}"] = str(value)
    source = as_of_source(cls) if as_of is not None else sql.Identifier("register", cls.table)
    columns = [c for c in cls.columns if c != "geom"]
    query = sql.SQL(
        "SELECT {cols}, ST_AsBinary(ST_Transform(t.geom, %(srid)s)) AS geometry "
        "FROM {source} t WHERE {where} ORDER BY t.id {limit}"
    ).format(
        cols=sql.SQL(", ").join(sql.Identifier("t", c) for c in columns),
        source=source,
        where=sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("TRUE"),
        limit=sql.SQL("LIMIT {}").format(sql.Literal(int(limit))) if limit else sql.SQL(""),
    )
    with connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, params).fetchall()
    frame = pd.DataFrame(rows, columns=[*columns, "geometry"])
    shapes = gpd.GeoSeries.from_wkb(frame.pop("geometry").map(bytes), crs=DISPLAY_SRID)
    return gpd.GeoDataFrame(frame, geometry=shapes, crs=DISPLAY_SRID)


@dataclass(frozen=True)
class Version:
    """One version of an asset in the history."""

    version: int
    operation: str
    valid_from: datetime
    valid_to: datetime | None
    changed_by: str
    reason: str | None
    record: dict[str, Any]
    wkt: str
    changes: list[str]


def _changes(before: dict[str, Any] | None, after: dict[str, Any], before_wkt: str | None,
             after_wkt: str) -> list[str]:  # fmt: skip
    """Human-readable field changes between two history records."""
    if before is None:
        return []
    lines = [
        f"{key}: {before.get(key)!r} → {after.get(key)!r}"
        for key in sorted(set(before) | set(after))
        if key not in _NOT_CHANGES and before.get(key) != after.get(key)
    ]
    if before_wkt != after_wkt:
        lines.append("geometry changed")
    return lines


def history(asset_id: str, url: str | None = None) -> list[Version]:
    """Return every version of an asset, oldest first, each with its changes.

    Raises
    ------
    InvalidValue
        When no asset has this id.
    """
    cls = class_of(asset_id, url)
    with connect(url) as conn:
        rows = conn.execute(
            sql_text("register_history"), {"class": cls.name, "id": asset_id}
        ).fetchall()
    versions: list[Version] = []
    previous: tuple[dict[str, Any], str] | None = None
    for version, operation, valid_from, valid_to, by, reason, record, wkt in rows:
        changes = (
            _changes(previous[0], record, previous[1], wkt)
            if previous and operation == "update"
            else []
        )
        versions.append(
            Version(
                int(version),
                str(operation),
                valid_from,
                valid_to,
                str(by),
                reason,
                dict(record),
                str(wkt or ""),
                changes,
            )
        )
        previous = (record, wkt)
    return versions


def changes_since(asset_id: str, version: int, url: str | None = None) -> list[str]:
    """Describe what changed in an asset after ``version`` (for a refused stale edit)."""
    lines = []
    for v in history(asset_id, url):
        if v.version > version:
            what = "; ".join(v.changes) if v.changes else v.operation
            lines.append(
                f"version {v.version} by {v.changed_by} at {v.valid_from:%Y-%m-%d %H:%M:%S}: {what}"
            )
    return lines


def get_asset(asset_id: str, url: str | None = None) -> dict[str, Any]:
    """Return one live asset: class, values, WKT geometry (EPSG:4326), parent and children.

    Raises
    ------
    InvalidValue
        When no live asset has this id.
    """
    cls = class_of(asset_id, url)
    columns = [c for c in cls.columns if c != "geom"]
    query = sql.SQL(
        "SELECT {cols}, ST_AsText(ST_Transform(geom, 4326), 7) AS wkt FROM {t} WHERE id = %(id)s"
    ).format(
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        t=sql.Identifier("register", cls.table),
    )
    with connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query, {"id": asset_id}).fetchone()
        if row is None:
            raise InvalidValue(
                f"asset {asset_id!r} was deleted; see `twin assets history {asset_id}`"
            )
        children = cur.execute(sql_text("register_children"), {"id": asset_id}).fetchall()
    return {"class": cls.name, **row, "children": children}


def _geometry_sql(
    cls: AssetClass, geometry: shapely.Geometry | None, srid: int
) -> tuple[sql.Composable, dict[str, Any]]:
    """Check a replacement geometry and return its SQL (transformed to EPSG:3794)."""
    if geometry is None:
        return sql.SQL(""), {}
    if geometry.is_empty or not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        raise InvalidValue(f"the geometry is not valid ({reason})", {"geometry": reason})
    if isinstance(geometry, shapely.Polygon) and cls.geometry == "MultiPolygon":
        geometry = shapely.MultiPolygon([geometry])
    if geometry.geom_type != cls.geometry:
        message = f"a {cls.name} needs a {cls.geometry}, got a {geometry.geom_type}"
        raise InvalidValue(message, {"geometry": message})
    if srid == DISPLAY_SRID:
        lon, lat = shapely.get_coordinates(geometry).mean(axis=0)
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):  # noqa: PLR2004 - degree bounds
            message = "coordinates are not longitude/latitude (EPSG:4326)"
            raise InvalidValue(message, {"geometry": message})
    return (
        sql.SQL(", geom = ST_Transform(ST_GeomFromWKB(%(wkb)s, %(srid)s), 3794)"),
        {"wkb": shapely.to_wkb(geometry), "srid": srid},
    )


def _check_parent(conn: psycopg.Connection, cls: AssetClass, parent_id: object) -> None:
    if parent_id in (None, ""):
        return
    row = conn.execute(
        "SELECT class FROM register.assets WHERE id = %s", (str(parent_id),)
    ).fetchone()
    if row is None:
        raise InvalidValue(
            f"parent {parent_id!r} is not in the register", {"parent_id": "no such asset"}
        )
    if cls.parents and row[0] not in cls.parents:
        message = f"a {cls.name} can hang on {', '.join(cls.parents)}, not on a {row[0]}"
        raise InvalidValue(message, {"parent_id": message})


def _values(cls: AssetClass, values: dict[str, Any], *, new: bool) -> dict[str, Any]:
    unknown = set(values) - set(cls.editable)
    if unknown:
        raise InvalidValue(f"{cls.name} has no field(s) {', '.join(sorted(unknown))}")
    coerced, errors = rules.check_one(cls, values, new=new)
    if errors:
        detail = "; ".join(f"{f} {r}" for f, r in errors.items())
        raise InvalidValue(f"{cls.name}: {detail}", errors)
    return coerced


def update(
    asset_id: str,
    version: int,
    values: dict[str, Any],
    *,
    actor: Actor | None,
    reason: str | None = None,
    geometry: shapely.Geometry | None = None,
    srid: int = DISPLAY_SRID,
    url: str | None = None,
) -> int:
    """Save an edit made on ``version`` of an asset; return the version now stored.

    Raises
    ------
    AccessDenied
        When ``actor`` may not edit.
    InvalidValue
        When a value or the geometry does not fit the class (``errors`` per field).
    StaleEdit
        When the register holds a newer version; the message lists what changed since.
    """
    cls = class_of(asset_id, url)
    coerced = _values(cls, values, new=False)
    geom_sql, geom_params = _geometry_sql(cls, geometry, srid)
    assignments = [
        sql.SQL("{} = %({})s").format(sql.Identifier(k), sql.SQL(f"v_{k}")) for k in coerced
    ]
    query = sql.SQL(
        "UPDATE {t} SET version = %(version)s{a}{g} WHERE id = %(id)s RETURNING version"
    ).format(
        t=sql.Identifier("register", cls.table),
        a=sql.SQL("").join(sql.SQL(", ") + a for a in assignments),
        g=geom_sql,
    )
    params = {"version": version, "id": asset_id, **geom_params,
              **{f"v_{k}": _db_value(v) for k, v in coerced.items()}}  # fmt: skip
    try:
        with connect(url) as conn, acting(conn, actor, reason):
            if "parent_id" in coerced:
                _check_parent(conn, cls, coerced["parent_id"])
            row = conn.execute(query, params).fetchone()
            if row is None:
                current = conn.execute(
                    sql.SQL("SELECT version FROM {} WHERE id = %s").format(
                        sql.Identifier("register", cls.table)
                    ),
                    (asset_id,),
                ).fetchone()
                if current is None:
                    raise InvalidValue(
                        f"asset {asset_id!r} was deleted; restore it from its history"
                    )
                return int(current[0])
            return int(row[0])
    except psycopg.Error as exc:
        if exc.sqlstate == STALE:
            changes = changes_since(asset_id, version, url)
            raise StaleEdit(
                f"not saved: {asset_id} changed since you opened version {version}: "
                + (" | ".join(changes) or "it was edited")
                + ". Reload it and apply your edit again.",
                changes,
            ) from exc
        raise _database_error(exc) from exc


def _db_value(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()
    return value


def _database_error(exc: psycopg.Error) -> Exception:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return AccessDenied(f"the database refused the change: {exception_reason(exc)}")
    if isinstance(exc, psycopg.errors.IntegrityError):
        return InvalidValue(f"the register refused the change: {exception_reason(exc)}")
    return DatabaseError(f"the change failed and was rolled back: {exception_reason(exc)}")


def create(
    class_name: str,
    values: dict[str, Any],
    geometry: shapely.Geometry,
    *,
    actor: Actor | None,
    reason: str | None = None,
    srid: int = DISPLAY_SRID,
    asset_id: str | None = None,
    url: str | None = None,
) -> str:
    """Add an asset; return its id (``<class>:<number>`` unless ``asset_id`` is given).

    Raises
    ------
    AccessDenied, InvalidValue
        As :func:`update`.
    """
    cls = asset_class(class_name)
    coerced = _values(cls, values, new=True)
    if geometry is None:
        raise InvalidValue("a new asset needs a geometry", {"geometry": "is required"})
    geom_sql, geom_params = _geometry_sql(cls, geometry, srid)
    del geom_sql
    names = [*coerced, "geom"]
    placeholders: list[sql.Composable] = [
        sql.SQL("%({})s").format(sql.SQL(f"v_{k}")) for k in coerced
    ]
    placeholders.append(sql.SQL("ST_Transform(ST_GeomFromWKB(%(wkb)s, %(srid)s), 3794)"))
    if asset_id:
        names.insert(0, "id")
        placeholders.insert(0, sql.SQL("%(id)s"))
    query = sql.SQL("INSERT INTO {t} ({c}) VALUES ({v}) RETURNING id").format(
        t=sql.Identifier("register", cls.table),
        c=sql.SQL(", ").join(map(sql.Identifier, names)),
        v=sql.SQL(", ").join(placeholders),
    )
    params = {"id": asset_id, **geom_params, **{f"v_{k}": _db_value(v) for k, v in coerced.items()}}
    try:
        with connect(url) as conn, acting(conn, actor, reason):
            if coerced.get("parent_id"):
                _check_parent(conn, cls, coerced["parent_id"])
            row = conn.execute(query, params).fetchone()
    except psycopg.Error as exc:
        raise _database_error(exc) from exc
    return str(row[0]) if row else ""


def retire(asset_id: str, version: int, *, actor: Actor | None, reason: str | None = None,
           url: str | None = None) -> int:  # fmt: skip
    """Set an asset's state to ``retired`` (it stays in the register and its history)."""
    return update(asset_id, version, {"state": "retired"}, actor=actor, reason=reason, url=url)


def restore(
    asset_id: str,
    version: int,
    *,
    actor: Actor | None,
    reason: str | None = None,
    url: str | None = None,
) -> int:
    """Make an old version current again, as a new change; return the new version.

    Values and geometry come from the history exactly as stored; a deleted asset is
    re-created with its old id.

    Raises
    ------
    InvalidValue
        When the asset or version does not exist.
    """
    versions = {v.version: v for v in history(asset_id, url)}
    if version not in versions or versions[version].operation == "delete":
        raise InvalidValue(f"{asset_id} has no version {version} to restore")
    cls = class_of(asset_id, url)
    latest = max(versions.values(), key=lambda v: v.version)
    table = sql.Identifier("register", cls.table)
    editable = sql.SQL(", ").join(map(sql.Identifier, cls.editable))
    old = sql.SQL(
        "FROM register.versions(%(class)s, %(id)s) h, "
        "jsonb_populate_record(NULL::{t}, h.record) r "
        "WHERE h.version = %(version)s AND h.operation <> 'delete'"
    ).format(t=table)
    if latest.operation == "delete":
        # The version is given, so the row trigger stamps the row and continues its versions
        # before RETURNING (a row inserted at version 1 is renumbered only after the statement).
        query = sql.SQL(
            "INSERT INTO {t} (id, version, {c}, geom) SELECT r.id, %(latest)s + 1, {rc}, h.geom "
            "{old} RETURNING version"
        ).format(
            t=table, c=editable, old=old,
            rc=sql.SQL(", ").join(sql.Identifier("r", c) for c in cls.editable),
        )  # fmt: skip
    else:
        query = sql.SQL(
            "UPDATE {t} t SET version = %(latest)s, ({c}) = (SELECT {rc} {old}), "
            "geom = (SELECT h.geom {old}) WHERE t.id = %(id)s RETURNING version"
        ).format(
            t=table, c=editable, old=old,
            rc=sql.SQL(", ").join(sql.Identifier("r", c) for c in cls.editable),
        )  # fmt: skip
    params = {"class": cls.name, "id": asset_id, "version": version, "latest": latest.version}
    try:
        with connect(url) as conn, acting(conn, actor, reason or f"restored version {version}"):
            row = conn.execute(query, params).fetchone()
    except psycopg.Error as exc:
        if exc.sqlstate == STALE:
            raise StaleEdit(
                f"not restored: {asset_id} changed meanwhile; reload and retry"
            ) from exc
        raise _database_error(exc) from exc
    return int(row[0]) if row else latest.version
