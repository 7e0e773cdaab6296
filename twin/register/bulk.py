"""Bulk writes into register tables: stage a frame with COPY, then merge it in SQL.

A merge inserts new ids, updates rows whose values differ (the database triggers bump the
version and write the history) and, within a scope, deletes rows the frame no longer holds;
rows that are equal are left alone, so replaying the same frame changes nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import shapely
from psycopg import sql

from twin.db._sql import sql_text
from twin.load._read import STORAGE_CRS
from twin.load._stage import copy_rows
from twin.register.catalog import LIST_SEPARATOR, AssetClass

SCHEMA = "register"
#: Geometries closer than this (m, Hausdorff) with the same vertex count count as unchanged.
GEOMETRY_TOLERANCE_M = 0.001
#: Rows rendered and sent at a time by :func:`copy_arrow`.
COPY_SLICE = 20_000
#: New rows from which :func:`append` builds the spatial index at commit (when the table
#: holds no more rows): inserting into a GiST index row by row costs about twice the build.
DEFER_INDEX_ROWS = 10_000


@dataclass(frozen=True)
class MergeCounts:
    """What a merge did (or would do) to one class table."""

    inserted: int
    updated: int
    unchanged: int
    deleted: int


def stage_name(asset_class: AssetClass) -> str:
    """Name of the temporary staging table of ``asset_class``."""
    return f"_stage_{asset_class.name}"


def list_text(values: pd.Series) -> pd.Series:
    """Join list values (Python lists or arrays) with the list separator; keep text as is."""

    def join(value: object) -> object:
        if isinstance(value, list | tuple | np.ndarray):
            return LIST_SEPARATOR.join(str(v) for v in value)
        return value

    if not len(values):
        return values
    is_list = values.map(lambda v: isinstance(v, list | tuple | np.ndarray))
    if not is_list.any():
        return values
    return values.where(~is_list, values[is_list].map(join))


def copy_arrow(conn: psycopg.Connection, target: sql.Composable, frame: pd.DataFrame) -> None:
    """COPY ``frame`` into ``target`` like ``copy_rows``, rendering the CSV with Arrow.

    About ten times faster than pandas for 100,000 rows. Missing values become NULL, an
    empty text stays empty; the ``geom`` column (shapely, EPSG:3794) is sent as hex EWKB
    (:func:`ewkb_hex`). The rows go in slices of ``COPY_SLICE``: the server stores one
    slice (and runs the table's row triggers) while the next is rendered.
    """
    if frame.empty:
        return
    options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
    columns = sql.SQL(", ").join(map(sql.Identifier, frame.columns))
    copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(target, columns)
    with conn.cursor().copy(copy) as cp:
        for start in range(0, len(frame), COPY_SLICE):
            part = frame.iloc[start : start + COPY_SLICE]
            if "geom" in part.columns:
                table = pa.Table.from_pandas(part.drop(columns="geom"), preserve_index=False)
                geoms = ewkb_hex(part["geom"].to_numpy(dtype=object))
                table = table.add_column(list(part.columns).index("geom"), "geom", geoms)
            else:
                table = pa.Table.from_pandas(part, preserve_index=False)
            buffer = io.BytesIO()
            pa_csv.write_csv(table, buffer, options)
            cp.write(buffer.getbuffer())


#: One 2D point as EWKB: byte order (little endian), type (Point with an SRID), SRID, x, y.
_EWKB_POINT = np.dtype(
    [("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")]
)
_EWKB_POINT_TYPE = 0x20000001


def ewkb_hex(geoms: np.ndarray, srid: int = STORAGE_CRS) -> pa.Array:
    """Return geometries as hex EWKB with ``srid`` (what PostGIS reads from text), as Arrow.

    2D points, the bulk of big imports, are packed with numpy (a fixed 25 bytes each), some
    twenty times faster than shapely's ``to_wkb`` of copies with the SRID set; anything else
    goes through shapely. Both give the same text.
    """
    types = shapely.get_type_id(geoms)
    points = len(geoms) > 0 and bool((types == 0).all()) and not shapely.has_z(geoms).any()
    xy = shapely.get_coordinates(geoms) if points else None
    if xy is None or len(xy) != len(geoms):  # other types, or an empty point
        with_srid = shapely.set_srid(geoms, srid)
        return pa.array(shapely.to_wkb(with_srid, hex=True, include_srid=True), pa.large_string())
    packed = np.empty(len(geoms), dtype=_EWKB_POINT)
    packed["order"], packed["type"], packed["srid"] = 1, _EWKB_POINT_TYPE, srid
    packed["x"], packed["y"] = xy[:, 0], xy[:, 1]
    text = packed.tobytes().hex().upper().encode("ascii")
    width = 2 * _EWKB_POINT.itemsize
    offsets = np.arange(0, width * (len(geoms) + 1), width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(len(geoms), pa.py_buffer(offsets), pa.py_buffer(text))


def stage(
    conn: psycopg.Connection, asset_class: AssetClass, frame: pd.DataFrame, *, arrow: bool = False
) -> None:
    """Create the temporary staging copy of ``register.<class>`` and COPY ``frame`` into it.

    ``frame`` holds a subset of the class's columns (``geom`` as shapely, EPSG:3794). With
    ``arrow`` the CSV is rendered by :func:`copy_arrow` (empty text is kept as empty text;
    the default path reads it as NULL).
    """
    frame = _typed(asset_class, frame)
    stage_id = sql.Identifier(stage_name(asset_class))
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage_id))
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT * FROM {} WITH NO DATA").format(
            stage_id, sql.Identifier(SCHEMA, asset_class.table)
        )
    )
    (copy_arrow if arrow else copy_rows)(conn, stage_id, frame)
    conn.execute(sql.SQL("CREATE INDEX ON {} (id)").format(stage_id))
    # The merge joins on id only; statistics of the other columns (the geometry's above
    # all) would cost more than the whole COPY.
    conn.execute(sql.SQL("ANALYZE {} (id)").format(stage_id))


def append(conn: psycopg.Connection, asset_class: AssetClass, frame: pd.DataFrame) -> int:
    """COPY rows that are all new straight into ``register.<class>``; return how many.

    For a write whose ids the register does not hold (checked by the caller): no staging
    table, no merge. The table's triggers stamp and historise every row as for an INSERT,
    and an id or identifier stored meanwhile by another session fails the COPY (unique
    constraints) rather than being overwritten. A write of at least ``DEFER_INDEX_ROWS``
    rows into a table holding no more builds its spatial index at commit rather than row by
    row (``register.defer_spatial_index``; the table is locked for readers until then).
    """
    frame = _typed(asset_class, frame)
    if len(frame) >= DEFER_INDEX_ROWS:
        _defer_spatial_index(conn, asset_class, len(frame))
    copy_arrow(conn, sql.Identifier(SCHEMA, asset_class.table), frame)
    return len(frame)


def _defer_spatial_index(conn: psycopg.Connection, asset_class: AssetClass, rows: int) -> None:
    """Have the table's spatial index built at commit (schema_0010), where the role may.

    An optimisation only: a database whose roles were set up without it (the grant is
    missing) writes with the index in place, as before.
    """
    try:
        with conn.transaction():
            conn.execute(
                sql_text("register_defer_index"),
                {"table": f"{SCHEMA}.{asset_class.table}", "rows": rows},
            )
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedFunction):
        return


def _typed(asset_class: AssetClass, frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with list, integer and boolean attributes in their COPY form."""
    frame = frame.copy()
    for attribute in asset_class.attributes:
        if attribute.name not in frame.columns:
            continue
        values = frame[attribute.name]
        if attribute.type == "list":
            frame[attribute.name] = list_text(values)
        elif attribute.type == "integer":
            frame[attribute.name] = pd.to_numeric(values).round().astype("Int64")
        elif attribute.type == "boolean":
            frame[attribute.name] = values.astype("boolean")
    return frame


def _differs(columns: list[str]) -> sql.Composable:
    """Return the SQL condition: staged row ``s`` differs from stored row ``t`` in ``columns``."""
    plain = [c for c in columns if c not in ("id", "geom")]
    parts: list[sql.Composable] = []
    if plain:
        parts.append(
            sql.SQL("({}) IS DISTINCT FROM ({})").format(
                sql.SQL(", ").join(sql.Identifier("t", c) for c in plain),
                sql.SQL(", ").join(sql.Identifier("s", c) for c in plain),
            )
        )
    if "geom" in columns:
        parts.append(
            sql.SQL(
                "NOT (t.geom = s.geom OR (ST_NPoints(t.geom) = ST_NPoints(s.geom) "
                "AND GeometryType(t.geom) = GeometryType(s.geom) "
                "AND ST_HausdorffDistance(t.geom, s.geom) < {}))"
            ).format(sql.Literal(GEOMETRY_TOLERANCE_M))
        )
    return sql.SQL(" OR ").join(parts) if parts else sql.SQL("FALSE")


def counts(conn: psycopg.Connection, asset_class: AssetClass, columns: list[str]) -> MergeCounts:
    """Count what merging the staged rows would do (for dry runs), without writing."""
    table = sql.Identifier(SCHEMA, asset_class.table)
    stage_id = sql.Identifier(stage_name(asset_class))
    row = conn.execute(
        sql.SQL(
            "SELECT count(*) FILTER (WHERE t.id IS NULL), "
            "count(*) FILTER (WHERE t.id IS NOT NULL AND ({d})), "
            "count(*) FILTER (WHERE t.id IS NOT NULL AND NOT ({d})) "
            "FROM {s} s LEFT JOIN {t} t ON t.id = s.id"
        ).format(d=_differs(columns), s=stage_id, t=table)
    ).fetchone()
    inserted, updated, unchanged = row if row else (0, 0, 0)
    return MergeCounts(inserted=inserted, updated=updated, unchanged=unchanged, deleted=0)


def changed_ids(conn: psycopg.Connection, asset_class: AssetClass, columns: list[str]) -> set[str]:
    """Ids of staged rows that exist and differ from the stored row."""
    rows = conn.execute(
        sql.SQL("SELECT s.id FROM {s} s JOIN {t} t ON t.id = s.id WHERE {d}").format(
            s=sql.Identifier(stage_name(asset_class)),
            t=sql.Identifier(SCHEMA, asset_class.table),
            d=_differs(columns),
        )
    ).fetchall()
    return {str(r[0]) for r in rows}


def merge(
    conn: psycopg.Connection,
    asset_class: AssetClass,
    columns: list[str],
    owned: sql.Composable | None = None,
    *,
    delete: bool = False,
) -> MergeCounts:
    """Merge the staged rows into ``register.<class>`` (inside the caller's transaction).

    Parameters
    ----------
    conn
        Connection in the transaction of the whole write.
    asset_class
        Class of the staged rows.
    columns
        Columns the frame set (must include ``id``).
    owned
        Condition on the stored rows ``t`` this writer may change (e.g. ``t.synthetic``);
        None means every row. A staged id that names a row outside it is left alone.
    delete
        Delete the owned rows whose id the frame lacks.

    Returns
    -------
    MergeCounts
        Rows inserted, updated, unchanged and deleted.
    """
    table = sql.Identifier(SCHEMA, asset_class.table)
    stage_id = sql.Identifier(stage_name(asset_class))
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    staged = sql.SQL(", ").join(sql.Identifier("s", c) for c in columns)
    scope = owned if owned is not None else sql.SQL("TRUE")
    deleted = 0
    if delete:
        deleted = conn.execute(
            sql.SQL(
                "DELETE FROM {t} t WHERE ({scope}) AND NOT EXISTS "
                "(SELECT 1 FROM {s} s WHERE s.id = t.id)"
            ).format(t=table, s=stage_id, scope=scope)
        ).rowcount
    settable = [c for c in columns if c != "id"]
    updated = 0
    if settable:
        updated = conn.execute(
            sql.SQL(
                "UPDATE {t} t SET ({c}) = ROW({v}) FROM {s} s "
                "WHERE t.id = s.id AND ({scope}) AND ({d})"
            ).format(
                scope=scope,
                t=table,
                c=sql.SQL(", ").join(map(sql.Identifier, settable)),
                v=sql.SQL(", ").join(sql.Identifier("s", c) for c in settable),
                s=stage_id,
                d=_differs(columns),
            )
        ).rowcount
    # The new rows are picked before inserting them: an anti-join against the table being
    # written is planned as a nested loop over a sequential scan when the table's statistics
    # say it is empty (after TRUNCATE or deleting every row, then VACUUM), and that scan then
    # rereads every row the INSERT has written so far: 100,000 rows took minutes.
    fresh = sql.Identifier(f"{stage_name(asset_class)}_new")
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(fresh))
    conn.execute(
        sql.SQL(
            "CREATE TEMP TABLE {n} ON COMMIT DROP AS SELECT * FROM {s} s "
            "WHERE NOT EXISTS (SELECT 1 FROM {t} t WHERE t.id = s.id)"
        ).format(n=fresh, t=table, s=stage_id)
    )
    inserted = conn.execute(
        sql.SQL("INSERT INTO {t} ({c}) SELECT {v} FROM {n} s").format(
            t=table, c=cols, v=staged, n=fresh
        )
    ).rowcount
    total = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(stage_id)).fetchone()
    staged_rows = int(total[0]) if total else 0
    return MergeCounts(
        inserted=inserted,
        updated=updated,
        unchanged=staged_rows - inserted - updated,
        deleted=deleted,
    )
