"""Resolve the rows of an import to assets and check what needs the register.

A row sets the asset its ``id`` names, else the one holding its external identifier, else a
new one. Checked here: ids of other classes or of no recognisable form, repeated ids,
identifiers and targets, identifiers held by another asset, and parents (present in the
register or the file, of a class the class may hang on). Blank required cells of stored
assets keep the stored value; new assets take the class defaults.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from twin.register._checks import COLUMNS, duplicates, problem_frame
from twin.register.catalog import AssetClass
from twin.register.schema import DEFAULT_LICENCE, DEFAULT_SOURCE, SQL_TYPES


@dataclass
class Rows:
    """The file's rows on their way in: values, the asset each sets, what is wrong."""

    frame: pd.DataFrame
    geoms: np.ndarray
    #: Id of the asset each row sets (None: a new asset whose id the database assigns).
    target: pd.Series
    #: Whether the row's asset is already in the register.
    stored: pd.Series
    #: How rows are numbered: ``row`` (feature) or ``line`` (CSV).
    label: str
    #: Whether text comes padded (Shapefile): trailing blanks and null/empty are lost.
    padded: bool
    problems: list[pd.DataFrame] = field(default_factory=list)

    def problem(self, mask: pd.Series | np.ndarray, column: str, reason: pd.Series | str) -> None:
        """Record ``reason`` for the rows in ``mask``."""
        found = problem_frame(self.frame.index, mask, column, reason)
        if len(found):
            self.problems.append(found)

    def found(self) -> pd.DataFrame:
        """Every problem so far, by row."""
        found = [p for p in self.problems if len(p)]
        if not found:
            return pd.DataFrame(columns=COLUMNS)
        return pd.concat(found, ignore_index=True).sort_values("row", kind="stable")

    def valid(self) -> np.ndarray:
        """Mask of the rows without problems."""
        return ~self.frame.index.isin(self.found()["row"].unique())


def normalise(cls: AssetClass, frame: pd.DataFrame) -> pd.DataFrame:
    """Text as text (blank cells missing; ids and identifiers stripped), 1/0 as booleans."""
    frame = frame.copy()
    keys = ("id", "parent_id", *(a.name for a in cls.identifiers if a.type == "text"))
    texts = [a.name for a in cls.attributes if a.type in ("text", "list") and not a.codespace]
    for column in frame.columns:
        if column in keys:
            frame[column] = text(frame[column], strip=True)
        elif column in ("name", "source", "licence", "state", *texts):
            frame[column] = text(frame[column])
        elif column == "synthetic" or _is_boolean(cls, column):
            frame[column] = booleans(frame[column])
    return frame


def _is_boolean(cls: AssetClass, column: str) -> bool:
    return any(a.name == column and a.type == "boolean" for a in cls.attributes)


def text(values: pd.Series, *, strip: bool = False) -> pd.Series:
    """Values as text (whole floats without ``.0``); blank cells become missing."""
    if pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
        values = values.astype("Int64")
    text = values.astype("string")
    if strip:
        text = text.str.strip()
    return text.where(~text.str.strip().eq("").fillna(value=True))


def booleans(values: pd.Series) -> pd.Series:
    """Read 1/0 numbers (Shapefile, some GeoJSON writers) as true/false."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values
    out = values.astype(object)
    out[values == 1] = True
    out[values == 0] = False
    return out


def any_of(sql_type: str = "text") -> sql.Composed:
    """``ANY(…)`` of the array parameter of :func:`fetch`, as ``sql_type``."""
    return sql.SQL("ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb))::{}[])").format(
        sql.SQL(sql_type)
    )


def fetch(
    conn: psycopg.Connection, query: sql.Composed, values: list[Any]
) -> list[tuple[Any, ...]]:
    """Return the rows of ``query`` for the array parameter ``values`` (none when empty).

    ``query`` takes the array as :func:`any_of`: the values travel as one JSON text that
    the server unpacks (psycopg took 0.2 s to dump a list of 100,000 strings as an array;
    the JSON takes 10 ms).
    """
    if not values:
        return []
    return conn.execute(query, (json.dumps(values, default=str),)).fetchall()


def _identifier(cls: AssetClass, frame: pd.DataFrame, name: str) -> pd.Series:
    """Return an identifier's values typed as in the register (None where unusable)."""
    values = frame[name]
    if cls.attribute(name).type != "integer":
        return values.astype(object).where(values.notna(), None)
    numbers = pd.to_numeric(values, errors="coerce")
    return (
        numbers.where(numbers % 1 == 0).astype("Int64").astype(object).where(numbers.notna(), None)
    )


def _owners(
    conn: psycopg.Connection, cls: AssetClass, name: str, values: pd.Series
) -> dict[Any, str]:
    """Map identifier values to the ids of the stored assets holding them."""
    keys = [int(v) if isinstance(v, np.integer) else v for v in values.dropna().unique()]
    # A join rather than ``= ANY``: the server sorts an ANY array before probing the index
    # (50 ms for 100,000 values), and a join into an empty table reads none of them.
    query = sql.SQL(
        "SELECT t.{a}, t.id FROM jsonb_array_elements_text(%s::jsonb) v(value) "
        "JOIN {t} t ON t.{a} = v.value::{type}"
    ).format(
        a=sql.Identifier(name),
        t=sql.Identifier("register", cls.table),
        type=sql.SQL(SQL_TYPES[cls.attribute(name).type]),
    )
    rows = fetch(conn, query, keys)
    return {key: str(asset) for key, asset in rows}


def match(
    conn: psycopg.Connection, cls: AssetClass, frame: pd.DataFrame
) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    """Resolve each row to the asset it sets: its id, else an external identifier's owner.

    Returns the target ids (None: new asset), whether each target is stored, and the
    conflicts found (an identifier held by another asset than the row names).
    """
    index = frame.index
    given = (
        frame["id"].astype(object).where(frame["id"].notna(), None)
        if "id" in frame.columns
        else pd.Series(None, index=index, dtype=object)
    )
    explicit = set(given.dropna())
    table = sql.Identifier("register", cls.table)
    # A class that holds no asset yet (a first load) has nothing to match: no lookups.
    row = conn.execute(sql.SQL("SELECT EXISTS (SELECT FROM {})").format(table)).fetchone()
    holds = bool(row and row[0])
    stored_ids = {
        str(r[0])
        for r in fetch(
            conn,
            sql.SQL("SELECT id FROM {} WHERE id = {}").format(table, any_of()),
            list(explicit) if holds else [],
        )
    }
    target = given.copy()
    via = pd.Series(None, index=index, dtype=object)
    conflicts: list[pd.DataFrame] = []
    for attribute in cls.identifiers:
        if attribute.name not in frame.columns:
            continue
        values = _identifier(cls, frame, attribute.name)
        owners = _owners(conn, cls, attribute.name, values) if holds else {}
        stored_ids.update(owners.values())
        owner = values.map(owners).astype(object)
        owner = owner.where(owner.notna(), None)
        differs = owner.notna() & target.notna() & (owner != target)
        named = differs & via.notna()
        held = differs & given.notna() & ~owner.isin(explicit)
        pick = named | held
        if pick.any():  # the messages are written for the conflicting rows only
            value, holder = values[pick].astype(str).map(repr), owner[pick].astype(str)
            shown = attribute.name + " " + value + " belongs to " + holder
            by, matched = via[pick].astype(str), target[pick].astype(str)
            elsewhere = shown + ", but " + by + " matched " + matched
            in_register = value + " belongs to " + holder + " in the register"
            conflicts.append(problem_frame(index, named, attribute.name, elsewhere))
            conflicts.append(problem_frame(index, held, attribute.name, in_register))
        free = target.isna() & owner.notna()
        target = target.where(~free, owner)
        via = via.where(~free, attribute.name)
    found = [c for c in conflicts if len(c)]
    problems = pd.concat(found) if found else pd.DataFrame(columns=["row", "field", "reason"])
    return target, target.isin(stored_ids), problems


def references(conn: psycopg.Connection, cls: AssetClass, rows: Rows) -> None:
    """Check ids (class, form, repeats), repeated identifiers and targets, and parents."""
    frame, label = rows.frame, rows.label
    repeats: list[pd.DataFrame] = []
    if "id" in frame.columns:
        given = frame["id"]
        others = dict(
            fetch(
                conn,
                sql.SQL(
                    "SELECT id, class FROM register.assets WHERE id = {} AND class <> {}"
                ).format(any_of(), sql.Literal(cls.name)),
                list(given.dropna().unique()),
            )
        )
        elsewhere = given.astype(object).map(others).astype(object)
        rows.problem(
            elsewhere.notna(),
            "id",
            "is the id of a " + elsewhere.astype(str) + f", not of a {cls.name}",
        )
        foreign = (
            given.notna()
            & ~rows.stored
            & elsewhere.isna()
            & ~given.str.startswith(f"{cls.name}:").fillna(value=False)
        )
        rows.problem(
            foreign,
            "id",
            f"is not in the register and is not a {cls.name} id "
            f"({cls.name}:<number>); leave it empty for a new asset",
        )
        repeats.append(duplicates(given, "id", _again(f"is also in {label}")))
    for attribute in cls.identifiers:
        if attribute.name in frame.columns:
            values = _identifier(cls, frame, attribute.name)
            repeats.append(duplicates(values, attribute.name, _again(f"is also in {label}")))
    # Two rows may also reach one asset through different fields (an id and an identifier).
    shared = duplicates(rows.target, "id", _again(f"is also set by {label}"))
    seen = set().union(*(set(r["row"]) for r in repeats))
    rows.problems += [*repeats, shared[~shared["row"].isin(seen)]]
    if "parent_id" in frame.columns:
        _parents(conn, cls, rows)


def _again(what: str) -> Callable[[pd.Series, pd.Series], pd.Series]:
    """Describe a repeated value: ``'X' is also in row 3``."""

    def describe(values: pd.Series, first: pd.Series) -> pd.Series:
        return values.map(repr) + f" {what} " + first

    return describe


def _parents(conn: psycopg.Connection, cls: AssetClass, rows: Rows) -> None:
    """Parents must exist (register or file), be of a class the class hangs on, not self."""
    parents = rows.frame["parent_id"]
    kinds = dict(
        fetch(
            conn,
            sql.SQL("SELECT id, class FROM register.assets WHERE id = {}").format(any_of()),
            list(parents.dropna().unique()),
        )
    )
    kinds.update(dict.fromkeys(rows.target[~rows.stored].dropna(), cls.name))
    kind = parents.astype(object).map(kinds).astype(object)
    rows.problem(
        parents.notna() & kind.isna(),
        "parent_id",
        parents.astype(str).map(repr) + " is neither in the register nor in this file",
    )
    if cls.parents:
        rows.problem(
            kind.notna() & ~kind.isin(cls.parents),
            "parent_id",
            parents.astype(str).map(repr) + " is a " + kind.astype(str) + f"; a "
            f"{cls.name} hangs on a {' or '.join(cls.parents)}",
        )
    rows.problem(parents.notna() & (parents == rows.target), "parent_id", "is the asset itself")


def fill_blanks(conn: psycopg.Connection, cls: AssetClass, rows: Rows) -> None:
    """Fill blank required cells: stored assets keep their value, new ones take the default.

    ``synthetic`` is not editable: stored assets keep theirs, new ones take the file's
    (default false).
    """
    frame, stored = rows.frame, rows.stored
    defaults: dict[str, object] = {
        "source": DEFAULT_SOURCE,
        "licence": DEFAULT_LICENCE,
        "synthetic": False,
    }
    defaults |= {a.name: a.default for a in cls.attributes if a.default is not None}
    required = [c for c in ("state", "source", "licence") if c in frame.columns]
    required += [a.name for a in cls.attributes if a.required and a.name in frame.columns]
    kept = required + (["synthetic"] if "synthetic" in frame.columns else [])
    blank = frame[kept].isna().any(axis=1) if kept else pd.Series(data=False, index=frame.index)
    need = stored & (blank | ("synthetic" in frame.columns))
    if need.any():
        query = sql.SQL("SELECT id, {} FROM {} WHERE id = {}").format(
            sql.SQL(", ").join(map(sql.Identifier, kept)),
            sql.Identifier("register", cls.table),
            any_of(),
        )
        values = pd.DataFrame(
            fetch(conn, query, list(rows.target[need].unique())), columns=["id", *kept]
        ).set_index("id")
        for column in kept:
            fill = need & (frame[column].isna() | (column == "synthetic"))
            frame[column] = _set(frame[column], fill, rows.target[fill].map(values[column]))
    for column, default in defaults.items():
        if column in frame.columns:
            fill = ~stored & frame[column].isna()
            frame[column] = _set(frame[column], fill, default)
    for attribute in cls.attributes:
        if attribute.required and attribute.default is None and attribute.name not in frame:
            rows.problem(~stored, attribute.name, "is required (the file has no such column)")


def _set(values: pd.Series, mask: pd.Series, new: object) -> pd.Series:
    """``values`` with the rows in ``mask`` replaced (a value or a series)."""
    if not mask.any():
        return values
    out = values.astype(object)
    out[mask] = new
    return out
