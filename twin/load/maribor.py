"""``twin load maribor``: the real Maribor base layers, in one transaction, idempotently."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import psycopg
from psycopg import sql
from rich.console import Console
from rich.progress import Progress

from twin._errors import DatabaseError, DataFileError, exception_reason
from twin.config import get_settings
from twin.db._sql import sql_text
from twin.db.engine import connect
from twin.load import catalog
from twin.load._read import sha256
from twin.load._stage import MergeReport, first_unfit, merge, stage, strip_json_nulls


def read_all(data_dir: Path, progress: Progress | None = None) -> dict[str, pd.DataFrame]:
    """Read and validate every shipped file; nothing touches the database yet."""
    task = progress.add_task("reading gis_data", total=len(catalog.BUILDERS)) if progress else None
    frames = {}
    for table, build in catalog.BUILDERS.items():
        frames[table] = build(data_dir)
        if progress is not None and task is not None:
            progress.advance(task)
    return frames


def _datasets_frame(data_dir: Path, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    names = pd.concat([f[catalog.DATASET_COLUMN] for f in frames.values()])
    counts = names.str.split(",").explode().value_counts()
    return pd.DataFrame(
        [
            {
                "name": d.name,
                "title": d.title,
                "table_name": d.table,
                "file": d.file,
                "sha256": sha256(data_dir / d.file),
                "row_count": int(counts.get(d.name, 0)),
                "source": d.source,
                "licence": d.licence,
                "attribution": d.attribution,
                "synthetic": False,
            }
            for d in catalog.DATASETS
        ]
    )


def load(
    data_dir: Path | None = None,
    url: str | None = None,
    progress: Console | None = None,
) -> list[MergeReport]:
    """Load every shipped Maribor layer into the twin in one transaction.

    Every file is read and validated first; then all tables are merged in a single
    transaction, so a bad file or a lost connection leaves the database as it was.
    A repeated load with unchanged files changes no row.

    Parameters
    ----------
    data_dir
        Directory with the shipped files; ``TWIN_DATA_DIR`` by default.
    url
        Database URL; the twin's database by default.
    progress
        Console to draw progress on; silent when None.

    Returns
    -------
    list of MergeReport
        Per table: rows, inserted, updated, deleted.
    """
    data_dir = data_dir or get_settings().data_dir
    with Progress(console=progress, transient=True, disable=progress is None) as bar:
        frames = read_all(data_dir, bar)
        catalog.check_references(data_dir, frames)
        datasets = _datasets_frame(data_dir, frames)
        reports = []
        task = bar.add_task("loading into PostGIS", total=len(frames) + 1)
        table = "datasets"
        try:
            with connect(url) as conn, conn.transaction():
                conn.execute(sql_text("load_lock"))
                for table, frame in frames.items():
                    _check_fits(conn, data_dir, table, frame)
                    columns = [c for c in frame.columns if c != catalog.DATASET_COLUMN]
                    stage(conn, table, frame[columns])
                    strip_json_nulls(conn, table, catalog.JSON_COLUMNS.get(table, ()))
                    if table == "districts":
                        _derive_ks(conn, data_dir)
                    reports.append(merge(conn, table, catalog.TABLE_KEYS[table], columns))
                    bar.advance(task)
                stage(conn, "datasets", datasets)
                reports.append(
                    merge(conn, "datasets", "name", list(datasets.columns),
                          scope=sql.SQL("t.synthetic IS FALSE"))
                )  # fmt: skip
                bar.advance(task)
        except psycopg.OperationalError as exc:
            raise DatabaseError(
                f"lost the database during the load ({exception_reason(exc)}); the load was "
                "rolled back, nothing changed: run `twin load maribor` again once it is reachable"
            ) from exc
        except psycopg.Error as exc:
            where = f"; {exc.diag.context.strip()}" if exc.diag.context else ""
            raise DatabaseError(
                f"the database refused the {table} data from {_files(data_dir, table)} "
                f"({exc.diag.message_primary or exception_reason(exc)}{where}); the load was "
                "rolled back, nothing changed"
            ) from exc
    return reports


def _files(data_dir: Path, table: str) -> str:
    """Name the shipped files that feed ``table``."""
    return ", ".join(str(data_dir / d.file) for d in catalog.DATASETS if d.table == table)


def _check_fits(conn: psycopg.Connection, data_dir: Path, table: str, frame: pd.DataFrame) -> None:
    """Refuse, naming file and row, a frame the table would reject (before COPY fails)."""
    later = ("geom",) if table == "districts" else ()
    unfit = first_unfit(conn, table, frame, later)
    if unfit is None:
        return
    row, problem = unfit
    name = str(frame.at[row, catalog.DATASET_COLUMN]).split(",", 1)[0]
    key = catalog.TABLE_KEYS[table]
    raise DataFileError(
        f"{data_dir / catalog.BY_NAME[name].file}: {key} {frame.at[row, key]!s}: {problem}"
    )


def _derive_ks(conn: psycopg.Connection, data_dir: Path) -> None:
    """Derive the KS polygons in the staging table; refuse KS that get none."""
    conn.execute(sql_text("derive_ks"))
    missing = [r[0] for r in conn.execute(sql_text("ks_without_polygon")).fetchall()]
    if missing:
        raise DataFileError(
            f"{data_dir / catalog.BY_NAME['statistical_units'].file}: no statistical-unit point "
            f"lies in krajevna skupnost {', '.join(missing)}, so it gets no polygon"
        )
