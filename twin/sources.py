"""Where the twin's data comes from: the register of loaded files, and the read path of the app.

Every loaded file has a row in ``twin.datasets`` with its source, licence and attribution;
:func:`dataset_frame` lists them next to the live row count of each target table.
:func:`read_frame` and :func:`read_geoframe` run a query kept in ``twin/db/sql`` with bound
parameters and turn a missing or empty database into one :class:`~twin.DatabaseError` that
says what to run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import geopandas as gpd
import pandas as pd
import psycopg
from psycopg import sql

from twin._errors import DatabaseError
from twin.db._sql import sql_text
from twin.db.engine import connect

#: Schema of the twin's tables.
SCHEMA = "twin"
#: CRS of everything sent to a map (metrics are computed in EPSG:3794 before this).
DISPLAY_SRID = 4326
#: What to run when the database has no twin data.
SETUP_HINT = "run `twin db up` and then `twin load maribor` (or `make run`)"


@contextmanager
def _readable(query: str) -> Iterator[None]:
    """Turn the database errors a reader can meet into a :class:`DatabaseError` with a hint."""
    try:
        yield
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as exc:
        raise DatabaseError(
            f"the database has no twin tables yet ({exc.diag.message_primary}, query {query}): "
            f"{SETUP_HINT}"
        ) from exc
    except psycopg.OperationalError as exc:
        raise DatabaseError(
            f"the database stopped answering during query {query}: {exc}; "
            "check it with `twin db status`"
        ) from exc


def read_frame(
    query: str,
    url: str | None = None,
    params: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """Run the read-only query ``twin/db/sql/<query>.sql`` and return its rows.

    Parameters
    ----------
    query
        File stem of the query in ``twin/db/sql``.
    url
        libpq URL; the twin's database by default.
    params
        Values of the query's ``%(name)s`` placeholders.

    Returns
    -------
    pandas.DataFrame
        One column per selected column, in query order.

    Raises
    ------
    DatabaseError
        When the database cannot be reached or has no twin tables.
    """
    with connect(url) as conn, _readable(query):
        conn.read_only = True
        cur = conn.execute(sql_text(query), params or {})
        columns = [c.name for c in cur.description or ()]
        return pd.DataFrame(cur.fetchall(), columns=columns)


def read_geoframe(
    query: str,
    url: str | None = None,
    params: Mapping[str, object] | None = None,
    *,
    what: str,
) -> gpd.GeoDataFrame:
    """Run a query whose ``geometry`` column is WKB in :data:`DISPLAY_SRID`; require rows.

    Parameters
    ----------
    query
        File stem of the query in ``twin/db/sql``; its ``%(srid)s`` is bound to
        :data:`DISPLAY_SRID`.
    url
        libpq URL; the twin's database by default.
    params
        Values of further placeholders.
    what
        What the rows are, for the message when there are none.

    Returns
    -------
    geopandas.GeoDataFrame
        The rows, with the shapes in column ``geometry`` (EPSG:4326).

    Raises
    ------
    DatabaseError
        When the database cannot be reached, has no twin tables, or has no such rows.
    """
    frame = read_frame(query, url, {"srid": DISPLAY_SRID, **(params or {})})
    if frame.empty:
        raise DatabaseError(f"the database has no {what}: {SETUP_HINT}")
    shapes = gpd.GeoSeries.from_wkb(frame["geometry"].map(bytes), crs=DISPLAY_SRID)
    return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=shapes)


def _count_rows(conn: psycopg.Connection, tables: Iterable[str]) -> dict[str, int]:
    """Count the rows of existing tables (``name`` in ``twin``, or ``schema.name``) at once."""
    parts = [
        sql.SQL(sql_text("count_rows")).format(
            table_name=sql.Literal(name),
            table=sql.Identifier(*name.split(".", 1))
            if "." in name
            else sql.Identifier(SCHEMA, name),
        )
        for name in sorted(set(tables))
    ]
    if not parts:
        return {}
    rows = conn.execute(sql.SQL(" UNION ALL ").join(parts)).fetchall()
    return {str(name): int(count) for name, count in rows}


def dataset_frame(url: str | None = None) -> pd.DataFrame:
    """List every loaded file with its provenance and the live row count of its table.

    Parameters
    ----------
    url
        libpq URL; the twin's database by default.

    Returns
    -------
    pandas.DataFrame
        One row per dataset: ``name``, ``title``, ``table_name``, ``file``, ``row_count``
        (rows the file gave at load time), ``source``, ``licence``, ``attribution``,
        ``synthetic``, ``loaded_at`` and ``table_rows`` (rows in the target table now; a
        table can hold several files' rows; missing when the table does not exist).

    Raises
    ------
    DatabaseError
        When the database cannot be reached, has no twin tables or no loaded datasets.
    """
    with connect(url) as conn, _readable("read_datasets"):
        conn.read_only = True
        cur = conn.execute(sql_text("read_datasets"))
        columns = [c.name for c in cur.description or ()]
        frame = pd.DataFrame(cur.fetchall(), columns=columns)
        if frame.empty:
            raise DatabaseError(f"the database has no loaded datasets: {SETUP_HINT}")
        existing = frame.loc[frame["table_exists"].astype(bool), "table_name"]
        counts = _count_rows(conn, existing)
    live = frame["table_name"].map(counts).astype("Int64")
    return frame.drop(columns="table_exists").assign(table_rows=live)


def attributions(datasets: pd.DataFrame, tables: Iterable[str]) -> list[str]:
    """Return the distinct attribution lines of the datasets loaded into ``tables``.

    Parameters
    ----------
    datasets
        A frame from :func:`dataset_frame`.
    tables
        Target tables whose data is shown.

    Returns
    -------
    list of str
        Attribution lines in first-seen order, without repeats.
    """
    shown = datasets[datasets["table_name"].isin(list(tables))]
    return list(dict.fromkeys(shown["attribution"].astype(str)))
