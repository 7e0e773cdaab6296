"""Import a file into one register class: every row checked first, then all or nothing.

A row with an ``id`` updates that asset (or creates it with that id); a row without one is
matched on the class's external identifiers (``pole_code``, ``osm_id`` …), so importing the
same file again updates instead of duplicating; rows matching nothing are new assets. The
whole file is checked before anything is written (geometry, CRS, attribute types and allowed
values, duplicates, parents, the municipality); one rejected row and nothing is imported.
The write is one transaction under the importing user, so the history names them.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from twin._errors import DataFileError, StaleEdit, exception_reason
from twin.db.engine import connect
from twin.register import bulk, rules
from twin.register._checks import boundary, geometries
from twin.register._files import (
    Source,
    crs_name,
    export_columns,
    parse_crs,
    read_source,
    shapefile_names,
)
from twin.register._resolve import (
    Rows,
    any_of,
    fetch,
    fill_blanks,
    match,
    normalise,
    references,
    text,
)
from twin.register.catalog import AssetClass, asset_class
from twin.register.store import Actor, acting

#: The thread that checks and transforms geometries while the caller resolves the rows. One
#: for the process: PROJ keeps its context and transformations per thread, and a new thread
#: would set them up again for every import (0.3 s).
_GEOMETRY_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="twin-geometries")

#: Columns of an export that an import reads but never writes (``version`` is checked).
INFORMATIONAL = frozenset(
    {
        "version",
        "changed_by",
        "changed_at",
        "change_reason",
        "generator",
        "seed",
        "fid",
        "ogc_fid",
        "class",
    }
)
#: Numbers this close (relative, or absolute below 1) count as unchanged: text formats keep
#: 15 to 17 significant digits.
NUMBER_TOLERANCE = 1e-9
#: Problems quoted in the error of a refused import.
QUOTED = 3


@dataclass(frozen=True)
class Problem:
    """Why a row is rejected (or what was repaired in it)."""

    row: int
    field: str
    reason: str


@dataclass
class Change:
    """A row that adds or changes an asset (one per row: not frozen, three times cheaper)."""

    row: int
    id: str | None
    status: str


@dataclass
class ImportReport:
    """What an import did, or would do (dry run).

    Rows are numbered as the user sees them (``label``): ``row`` is the feature number in
    the file (1 = first feature), ``line`` the CSV line number (line 1 is the header).
    """

    file: str
    class_name: str
    dry_run: bool
    label: str
    crs: str
    rows: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    repairs: list[Problem] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the report as plain data (for ``--json``).

        The same document as :func:`dataclasses.asdict`, built without its deep copy of
        every row (100,000 changes took a third of a second).
        """
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("problems", "repairs", "changes"):
            out[name] = [dict(vars(item)) for item in out[name]]
        for name in ("ignored_columns", "notes"):
            out[name] = list(out[name])
        return out

    def quoted(self, limit: int = QUOTED) -> str:
        """Quote the first problems: ``row 12: power_w is not a whole number (got 'x')``."""
        shown = [f"{self.label} {p.row}: {p.field} {p.reason}" for p in self.problems[:limit]]
        more = len(self.problems) - limit
        if more > 0:
            shown.append(f"and {more} more (run with --dry-run for the full list)")
        return "; ".join(shown)


class ImportRejected(DataFileError):
    """An import refused because rows were rejected; nothing was written."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


def import_file(
    path: Path | str,
    class_name: str,
    *,
    dry_run: bool = False,
    crs: int | str | None = None,
    fix: bool = False,
    actor: Actor | None = None,
    reason: str | None = None,
    url: str | None = None,
) -> ImportReport:
    """Import ``path`` into ``register.<class_name>``: all rows or none.

    Parameters
    ----------
    path
        GeoPackage, GeoJSON, Shapefile (.shp or zipped), CSV, GeoParquet or FlatGeobuf.
    class_name
        Asset class of every row.
    dry_run
        Check and compare only; write nothing (no sign-in needed).
    crs
        CRS of the coordinates (EPSG code or text), for files without one, or to override.
    fix
        Repair invalid geometries with ``make_valid`` (reported per row) instead of
        rejecting them.
    actor
        Who imports (an editor or admin); recorded in the history.
    reason
        Why, recorded in the history after ``import <file name>``.
    url
        Database URL.

    Returns
    -------
    ImportReport
        Counts of new, changed, unchanged and rejected rows, with row-level details.

    Raises
    ------
    ImportRejected
        When any row is rejected (real run); the message quotes the first problems.
    DataFileError
        When the file cannot be read, has no CRS (pass ``crs``) or holds no features.
    AccessDenied
        When ``actor`` may not edit (real run).
    StaleEdit
        When another session stored one of the new ids or identifiers while the file was
        being checked (nothing imported; importing again updates those assets).
    """
    path = Path(path)
    cls = asset_class(class_name)
    why = f"import {path.name}" + (f": {reason}" if reason else "")
    with connect(url) as conn, _transaction(conn, actor, why, dry_run=dry_run):
        source = read_source(path, cls.name, parse_crs(crs) if crs is not None else None)
        report, frame, versions = _report(path, cls, source, dry_run=dry_run)
        rows = _check(conn, cls, source, frame, fix=fix, report=report)
        columns = ["id", *(c for c in rows.frame.columns if c != "id"), "geom"]
        ready = _ready(conn, cls, rows, columns, assign_ids=not dry_run and rows.found().empty)
        # A real import of assets that are all new goes straight into the table. Otherwise
        # the rows without problems are staged, also when the import will be refused, so
        # that the report counts what they would have done.
        direct = not dry_run and not rows.stored.any()
        if not direct:
            bulk.stage(conn, cls, ready, arrow=True)
            _snap(conn, cls, columns, padded=rows.padded)
        changed = bulk.changed_ids(conn, cls, columns) if rows.stored.any() else set()
        _stale(conn, cls, rows, changed, versions)
        if direct and rows.found().empty:
            # Every row is new and valid: the COPY runs in a second thread while this one
            # writes the report (the database works meanwhile, the GIL is free while it does).
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="twin-copy") as pool:
                written = pool.submit(bulk.append, conn, cls, ready)
                _fill_report(report, rows, changed)
                with _meanwhile(path):
                    report.new = written.result()
            report.changed = report.unchanged = 0
            return report
        _fill_report(report, rows, changed)
        if report.rejected and not dry_run:
            raise ImportRejected(
                f"{path}: {report.rejected} of {report.rows} rows rejected, nothing imported: "
                f"{report.quoted()}",
                report,
            )
        if not dry_run:
            with _meanwhile(path):
                if direct:
                    report.new, report.changed = bulk.append(conn, cls, ready), 0
                    report.unchanged = 0
                else:
                    done = bulk.merge(conn, cls, columns)
                    report.new, report.changed = done.inserted, done.updated
                    report.unchanged = done.unchanged
    return report


@contextmanager
def _meanwhile(path: Path) -> Iterator[None]:
    """Turn an id or identifier stored by another session during the import into StaleEdit.

    The rows were checked against the register before writing; a unique constraint that
    fails while writing means another session (a concurrent import, an edit in QGIS) stored
    the same id or identifier meanwhile. Nothing is written (the transaction rolls back).
    """
    try:
        yield
    except psycopg.errors.UniqueViolation as exc:
        detail = exc.diag.message_detail or exception_reason(exc)
        raise StaleEdit(
            f"{path}: nothing imported: another session stored the same asset meanwhile "
            f"({detail.rstrip('.')}); run the import again to update it instead"
        ) from exc


def _report(
    path: Path, cls: AssetClass, source: Source, *, dry_run: bool
) -> tuple[ImportReport, pd.DataFrame, pd.Series | None]:
    """Start the report; return it with the file's columns mapped and its versions."""
    frame, ignored, versions = _columns(path, cls, source)
    report = ImportReport(
        str(path),
        cls.name,
        dry_run,
        source.label,
        crs_name(source.crs),
        rows=len(frame),
        ignored_columns=ignored,
        notes=list(source.notes),
    )
    if ignored:
        report.notes.append(
            f"ignored column(s) {', '.join(ignored)}: not fields of {cls.name} "
            f"(its fields: id, {', '.join(cls.editable)})"
        )
    if not cls.identifiers and ("id" not in frame or text(frame["id"], strip=True).isna().any()):
        report.notes.append(
            f"{cls.name} has no external identifier: rows without an id are new assets "
            "(import an export, which has ids, to update instead)"
        )
    return report, frame, versions


@contextmanager
def _transaction(
    conn: psycopg.Connection, actor: Actor | None, why: str, *, dry_run: bool
) -> Iterator[None]:
    """Open a transaction rolled back at the end (dry run), or one under the actor."""
    if dry_run:
        with conn.transaction(force_rollback=True):
            yield
    else:
        with acting(conn, actor, why):
            yield


def _columns(
    path: Path, cls: AssetClass, source: Source
) -> tuple[pd.DataFrame, list[str], pd.Series | None]:
    """Map the file's columns onto the class (any case; Shapefile's short names).

    Returns the mapped columns, the names of unknown columns (ignored), and the ``version``
    column of an export (None when the file has none).
    """
    known = ["id", *cls.editable, "synthetic"]
    names = {name.lower(): name for name in known}
    if source.driver == "ESRI Shapefile":
        shortened = shapefile_names(export_columns(cls))
        names |= {short.lower(): full for full, short in shortened.items() if full in known}
    rename: dict[str, str] = {}
    ignored: list[str] = []
    versions = None
    for column in source.frame.columns:
        key = str(column).strip().lower()
        name = names.get(key)
        if name is None:
            if key == "version":
                versions = pd.to_numeric(source.frame[column], errors="coerce")
            elif key not in INFORMATIONAL:
                ignored.append(str(column))
            continue
        if name in rename.values():
            raise DataFileError(f"{path}: two columns hold {name} (one is {column!r}); keep one")
        rename[column] = name
    return source.frame[list(rename)].rename(columns=rename), ignored, versions


def _check(
    conn: psycopg.Connection,
    cls: AssetClass,
    source: Source,
    frame: pd.DataFrame,
    *,
    fix: bool,
    report: ImportReport,
) -> Rows:
    """Check every row; return the coerced rows with their targets and problems."""
    frame = normalise(cls, frame)
    area, note = boundary(conn)
    if note:
        report.notes.append(note)
    # The geometry checks (shapely and PROJ, which release the GIL) run in a second thread
    # while this one resolves the rows against the register and checks the attributes: the
    # two share nothing, and the database is idle until the write.
    checked = _GEOMETRY_WORKER.submit(geometries, cls, source, area, fix=fix)
    try:
        target, stored, match_problems = match(conn, cls, frame)
        rows = Rows(
            frame,
            np.empty(0, dtype=object),
            target,
            stored,
            source.label,
            source.driver == "ESRI Shapefile",
            [*source.problems, match_problems],
        )
        references(conn, cls, rows)
        fill_blanks(conn, cls, rows)
        coerced, problems = rules.check(cls, rows.frame, fill_defaults=False)
        rows.frame = coerced[list(rows.frame.columns)]
        rows.problems.append(problems)
    except BaseException:
        wait([checked])  # the worker is the process's: leave it idle
        raise
    rows.geoms, geometry_problems, repairs = checked.result()
    rows.problems.insert(len(source.problems), geometry_problems)  # where it always was
    report.repairs = [
        Problem(int(r), str(f), str(x)) for r, f, x in repairs.itertuples(index=False)
    ]
    return rows


def _ready(
    conn: psycopg.Connection, cls: AssetClass, rows: Rows, columns: list[str], *, assign_ids: bool
) -> pd.DataFrame:
    """Return the valid rows as written (``columns``); new assets get ids first (real run)."""
    valid = rows.valid()
    frame = rows.frame.loc[valid].copy()
    ids = rows.target[valid].copy()
    unnamed = ids.isna()
    if assign_ids and unnamed.any():
        # One text of all the numbers rather than a row each (a tenth of a second less).
        row = conn.execute(
            "SELECT string_agg(nextval('register.asset_number')::text, ',') "
            "FROM generate_series(1, %s)",
            (int(unnamed.sum()),),
        ).fetchone()
        numbers = np.array(str(row[0] if row else "").split(","), dtype=object)
        # Set in numpy arrays: pandas' label-aligned setitem took a tenth of a second.
        named = ids.to_numpy(dtype=object, copy=True)
        named[unnamed.to_numpy()] = f"{cls.name}:" + numbers
        ids = pd.Series(named, index=ids.index, dtype=object)
        target = rows.target.to_numpy(dtype=object, copy=True)
        target[valid] = named
        rows.target = pd.Series(target, index=rows.target.index, dtype=object)
    frame["id"] = ids
    frame["geom"] = rows.geoms[valid]
    return frame[columns]


def _snap(conn: psycopg.Connection, cls: AssetClass, columns: list[str], *, padded: bool) -> None:
    """Keep stored values that the file repeats as well as its format can (no false changes).

    Numbers within the tolerance; with ``padded`` (Shapefile: dBase pads text with blanks
    and has no null text) text that differs only by trailing blanks or null/empty.
    """
    numbers = (c for c in columns if c in {a.name for a in cls.attributes if a.type == "number"})
    near = {
        c: sql.SQL(
            "(s.{c} <> t.{c} AND abs(s.{c} - t.{c}) <= {tol} * greatest(1, abs(s.{c}), abs(t.{c})))"
        ).format(c=sql.Identifier(c), tol=sql.Literal(NUMBER_TOLERANCE))
        for c in numbers
    }
    if padded:
        texts = {"name", "parent_id", "source", "licence"} | {
            a.name for a in cls.attributes if a.type in ("text", "list")
        }
        near |= {
            c: sql.SQL(
                "(s.{c} IS DISTINCT FROM t.{c} AND "
                "coalesce(s.{c}, '') = coalesce(rtrim(t.{c}), ''))"
            ).format(c=sql.Identifier(c))
            for c in columns
            if c in texts
        }
    if not near:
        return
    columns = list(near)
    conn.execute(
        sql.SQL("UPDATE {s} s SET {sets} FROM {t} t WHERE t.id = s.id AND ({any})").format(
            s=sql.Identifier(bulk.stage_name(cls)),
            t=sql.Identifier("register", cls.table),
            sets=sql.SQL(", ").join(
                sql.SQL("{c} = CASE WHEN {n} THEN t.{c} ELSE s.{c} END").format(
                    c=sql.Identifier(c), n=near[c]
                )
                for c in columns
            ),
            any=sql.SQL(" OR ").join(near.values()),
        )
    )


def _stale(
    conn: psycopg.Connection,
    cls: AssetClass,
    rows: Rows,
    changed: set[str],
    versions: pd.Series | None,
) -> None:
    """Reject changes made on an older version than the register holds (no lost updates)."""
    if versions is None or not changed:
        return
    current = dict(
        fetch(
            conn,
            sql.SQL("SELECT id, version FROM {} WHERE id = {}").format(
                sql.Identifier("register", cls.table), any_of()
            ),
            sorted(changed),
        )
    )
    now = rows.target.map(current).astype(object)
    stale = rows.target.isin(changed) & versions.notna() & now.notna() & (versions != now)
    rows.problem(
        stale,
        "version",
        versions.astype("Int64").astype(str)
        + " is out of date: "
        + rows.target.astype(str)
        + " is at version "
        + now.astype("Int64").astype(str)
        + " in the register (changed since this file was written); export it again "
        "and redo the edit",
    )


def _fill_report(report: ImportReport, rows: Rows, changed: set[str]) -> None:
    found = rows.found()
    report.problems = [
        Problem(int(r), str(f), str(x))
        for r, f, x in found[["row", "field", "reason"]].itertuples(index=False)
    ]
    valid = rows.valid()
    report.rejected = int((~valid).sum())
    new = valid & ~rows.stored.to_numpy()
    edited = valid & rows.target.isin(changed).to_numpy()
    report.new, report.changed = int(new.sum()), int(edited.sum())
    report.unchanged = int(valid.sum()) - report.new - report.changed
    listed = new | edited
    index = rows.frame.index[listed].astype(int).tolist()
    targets = rows.target[listed]
    named = targets.notna().to_numpy()
    ids = [str(t) if k else None for t, k in zip(targets.tolist(), named, strict=True)]
    status = np.where(new[listed], "new", "changed").tolist()
    report.changes = [Change(*change) for change in zip(index, ids, status, strict=True)]
