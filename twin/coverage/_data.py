"""Reads of the coverage engine: people, sites, districts, operator polygons (SQL in .sql files)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np
import pandas as pd
import psycopg

from twin._errors import DatabaseError
from twin.coverage.model import EMITTER_COLUMNS
from twin.db._sql import sql_text
from twin.db.engine import connect

SETUP_HINT = "run `twin load maribor` and `twin synth` (or `make run`) first"
#: Columns of a people frame.
PEOPLE_COLUMNS = ("unit_id", "population", "synthetic", "x", "y", "district_id", "in_city")


@contextmanager
def reading(url: str | None) -> Iterator[psycopg.Connection]:
    """Open a connection that only reads the twin (it stages temporary tables).

    A database without the twin's tables becomes one readable :class:`DatabaseError`.
    """
    with connect(url) as conn:
        conn.execute(sql_text("coverage_session"))
        try:
            yield conn
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as exc:
            raise DatabaseError(
                f"the database has no coverage inputs yet ({exc.diag.message_primary}): "
                f"{SETUP_HINT}"
            ) from exc


def query(
    conn: psycopg.Connection, name: str, params: Mapping[str, object] | None = None
) -> pd.DataFrame:
    """Run ``twin/db/sql/<name>.sql`` with bound parameters and return its rows."""
    cur = conn.execute(sql_text(name), params or {})
    columns = [c.name for c in cur.description or ()]
    return pd.DataFrame(cur.fetchall(), columns=columns)


def people(conn: psycopg.Connection, unit: str) -> pd.DataFrame:
    """Return the people frame of ``unit`` (``'cells'`` or ``'buildings'``); may be empty."""
    frame = query(conn, f"coverage_people_{unit}")
    if frame.empty:  # typed empty columns, as the query names them
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in frame.columns})
    frame["population"] = frame["population"].astype("int64")
    frame["district_id"] = frame["district_id"].astype("Int64")
    frame["in_city"] = frame["in_city"].astype(bool)
    frame["synthetic"] = frame["synthetic"].astype(bool)
    frame["x"] = frame["x"].astype(float)
    frame["y"] = frame["y"].astype(float)
    return frame


def sites(conn: psycopg.Connection) -> pd.DataFrame:
    """Return the mobile sites on air."""
    return query(conn, "coverage_sites")


def scopes(conn: psycopg.Connection) -> pd.DataFrame:
    """Return the districts (``district_id``, ``name``, ``kind``)."""
    return query(conn, "coverage_scopes")


def polygon_operators(conn: psycopg.Connection, technologies: tuple[str, ...]) -> list[str]:
    """Return the operators with real coverage polygons of any of ``technologies``."""
    frame = query(conn, "coverage_polygon_operators", {"technologies": list(technologies)})
    return [str(v) for v in frame["operator"]]


def emitter_params(emitters: pd.DataFrame) -> dict[str, object]:
    """Bind an emitter frame as the array parameters of ``coverage_stage_emitters``."""
    params: dict[str, object] = {
        name: emitters[name].to_numpy(dtype=float).tolist()
        for name in ("x", "y", "range_m", "near_m", "beam_deg")
    }
    params["azimuths"] = emitters["azimuths"].astype(str).tolist()
    return params


@contextmanager
def staged(conn: psycopg.Connection, emitters: pd.DataFrame) -> Iterator[None]:
    """Stage the populated cells (once per connection) and ``emitters`` (until the end).

    Inside, ``coverage_cells_covered`` and ``coverage_cells_pairs`` read them.
    """
    row = conn.execute(sql_text("coverage_cells_staged")).fetchone()
    if not (row and row[0]):  # staging again would only repeat its ANALYZE (0.2 s at scale 10)
        conn.execute(sql_text("coverage_stage_cells"))
    conn.execute(sql_text("coverage_drop_emitters"))
    conn.execute(sql_text("coverage_stage_emitters"), emitter_params(emitters))
    conn.execute(sql_text("coverage_index_emitters"))
    try:
        yield
    finally:
        conn.execute(sql_text("coverage_drop_emitters"))


def cells_covered(conn: psycopg.Connection, emitters: pd.DataFrame) -> np.ndarray:
    """Return the ids of the populated cells ``emitters`` cover (sorted)."""
    if emitters.empty:
        return np.zeros(0, dtype="int64")
    with staged(conn, emitters):
        ids = query(conn, "coverage_cells_covered")["unit_id"]
    return ids.to_numpy(dtype="int64")


def cells_pairs(
    conn: psycopg.Connection, emitters: pd.DataFrame, cells: np.ndarray | None = None
) -> pd.DataFrame:
    """Return every (``emitter``, ``unit_id``) pair where the emitter covers the cell.

    ``emitter`` is the row position in ``emitters``; only ``cells`` are tested when given.
    """
    if emitters.empty:
        return pd.DataFrame({"emitter": np.zeros(0, int), "unit_id": np.zeros(0, "int64")})
    param = None if cells is None else np.asarray(cells, dtype="int64").tolist()
    with staged(conn, emitters):
        return query(conn, "coverage_cells_pairs", {"cells": param}).astype(
            {"emitter": int, "unit_id": "int64"}
        )


def empty_emitters() -> pd.DataFrame:
    """Return an emitter frame without rows."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in EMITTER_COLUMNS})
