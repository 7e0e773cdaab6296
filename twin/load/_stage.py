"""Copy frames into temporary staging tables and merge them into ``twin`` tables."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import psycopg
import shapely
from psycopg import sql

from twin.db._sql import sql_text
from twin.load._read import STORAGE_CRS

SCHEMA = "twin"
_EVERY_ROW = sql.SQL("TRUE")
#: Exclusive upper bound of the absolute value of each PostgreSQL integer type.
_INT_LIMITS = {"smallint": 2**15, "integer": 2**31, "bigint": 2**63}


@dataclass(frozen=True)
class MergeReport:
    """What a merge did to one table."""

    table: str
    rows: int
    inserted: int
    updated: int
    deleted: int


def stage_name(table: str) -> str:
    """Return the temporary staging table's name for ``table``."""
    return f"_stage_{table}"


def _csv(frame: pd.DataFrame) -> str:
    """Render ``frame`` as COPY CSV: geometries as EWKB hex, empty cells as NULL."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if len(values) and isinstance(values.dropna().iloc[0] if values.notna().any() else None,
                                      shapely.Geometry):  # fmt: skip
            geoms = shapely.set_srid(values.to_numpy(dtype=object), STORAGE_CRS)
            out[column] = shapely.to_wkb(geoms, hex=True, include_srid=True)
        elif values.dtype == object or pd.api.types.is_string_dtype(values):
            out[column] = values.replace("", pd.NA)
    return out.to_csv(header=False, index=False, na_rep="")


def first_unfit(
    conn: psycopg.Connection, table: str, frame: pd.DataFrame, later: tuple[str, ...] = ()
) -> tuple[object, str] | None:
    """Find the first value the table would refuse: an empty required field or a huge integer.

    Parameters
    ----------
    conn
        Connection to the twin's database.
    table
        Target table in schema ``twin``.
    frame
        Rows about to be staged.
    later
        Columns filled after staging (not checked).

    Returns
    -------
    tuple or None
        ``(row index, problem)`` of the first offending row, or None when every row fits.
    """
    columns = conn.execute(sql_text("table_columns"), {"schema": SCHEMA, "table": table})
    for name, required, data_type in columns.fetchall():
        if name not in frame.columns or name in later:
            continue
        values = frame[str(name)]
        if required and values.isna().any():
            return values.index[values.isna()][0], f"{name} is empty but required"
        limit = _INT_LIMITS.get(data_type)
        if limit is not None:
            too_big = pd.to_numeric(values, errors="coerce").abs() >= limit
            if too_big.any():
                return values.index[too_big][0], f"{name} {values[too_big].iloc[0]} is too large"
    return None


def copy_rows(conn: psycopg.Connection, target: sql.Composable, frame: pd.DataFrame) -> None:
    """COPY ``frame`` into ``target`` (columns by name; geometries as EWKB in EPSG:3794)."""
    if frame.empty:
        return
    columns = sql.SQL(", ").join(map(sql.Identifier, frame.columns))
    copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(target, columns)
    with conn.cursor().copy(copy) as cp:
        cp.write(_csv(frame))


def stage(conn: psycopg.Connection, table: str, frame: pd.DataFrame) -> None:
    """Create a temporary copy of ``twin.<table>`` (no constraints) and COPY ``frame`` in."""
    stage_id = sql.Identifier(stage_name(table))
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT * FROM {} WITH NO DATA").format(
            stage_id, sql.Identifier(SCHEMA, table)
        )
    )
    copy_rows(conn, stage_id, frame)


def strip_json_nulls(conn: psycopg.Connection, table: str, columns: tuple[str, ...]) -> None:
    """Drop null members from staged JSON documents (absent OSM tags, empty fields)."""
    for column in columns:
        col = sql.Identifier(column)
        conn.execute(
            sql.SQL("UPDATE {} SET {} = jsonb_strip_nulls({})").format(
                sql.Identifier(stage_name(table)), col, col
            )
        )


def merge(
    conn: psycopg.Connection,
    table: str,
    key: str,
    columns: list[str],
    scope: sql.Composable = _EVERY_ROW,
) -> MergeReport:
    """Merge the staged rows into ``twin.<table>``; unchanged rows are left untouched.

    Parameters
    ----------
    conn
        Connection inside the load's transaction.
    table
        Target table in schema ``twin``.
    key
        Primary-key column.
    columns
        Columns to write (the staged frame's columns).
    scope
        Condition on target rows ``t`` that a missing key may delete.

    Returns
    -------
    MergeReport
        Rows now staged, and how many were inserted, updated and deleted.
    """
    idents = [sql.Identifier(c) for c in columns]
    query = sql.SQL(sql_text("merge")).format(
        table=sql.Identifier(SCHEMA, table),
        stage=sql.Identifier(stage_name(table)),
        key=sql.Identifier(key),
        columns=sql.SQL(", ").join(idents),
        excluded=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(i) for i in idents),
        target=sql.SQL(", ").join(sql.SQL("t.{}").format(i) for i in idents),
        scope=scope,
    )
    row = conn.execute(query).fetchone()
    staged = conn.execute(
        sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(stage_name(table)))
    ).fetchone()
    inserted, updated, deleted = row if row else (0, 0, 0)
    return MergeReport(table, staged[0] if staged else 0, inserted, updated, deleted)
