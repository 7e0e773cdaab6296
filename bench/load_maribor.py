"""Workload ``twin load maribor`` against ``ogr2ogr`` copying the same shipped files."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from psycopg import sql

from bench._harness import Context, Result, Timing, measure
from twin._errors import SetupError
from twin.load import catalog
from twin.load._stage import MergeReport
from twin.load.maribor import load, read_all

NAME = "load maribor"
MEASURES = (
    "Ours: `twin.load.maribor.load(url=…)` in-process into an empty `twin` schema (dropped and "
    "re-migrated before each repetition, untimed): read and validate all 14 shipped files "
    "(13 GeoJSON/CSV + the ARSO XML), derive the KS polygons in SQL, stage with COPY and "
    "merge all 11 tables plus the dataset register in one transaction. Then the same call "
    "again with nothing changed (the idempotent re-load, checked to change 0 rows), the same "
    "load as a cold `twin load maribor --json` process, and the read-and-validate phase alone. "
    "Baseline: one `ogr2ogr -f PostgreSQL PG:… FILE -nln bench_baseline.NAME -t_srs EPSG:3794 "
    "-lco GEOMETRY_NAME=geom -overwrite` process per file for the 13 files GDAL can read, into "
    "a scratch schema emptied before each repetition, timed end to end (the processes run one "
    "after another; wall time of all). CSVs get `-oo AUTODETECT_TYPE=YES` (typed columns, as "
    "ours); the three with cen_e/cen_n get `-oo X_POSSIBLE_NAMES=cen_e -oo "
    "Y_POSSIBLE_NAMES=cen_n -a_srs EPSG:3794` in place of `-t_srs` (GDAL 3.6 refuses `-t_srs` "
    "on a layer without a source CRS; the coordinates already are D96/TM). Then the same 13 "
    "commands again over the existing tables (`-overwrite` drops and re-creates them). "
    "ogr2ogr copies features as they are: no id, type, validity or extent checks, no derived "
    "geometry, one transaction per file, and a GiST index per table (as ours has)."
)

#: Scratch schema of the baseline inside the throwaway database.
BASELINE_SCHEMA = "bench_baseline"
#: Files ogr2ogr cannot read (GDAL has no driver for the ARSO XML).
_NOT_FOR_GDAL = {".xml"}


@dataclass
class _Runs:
    """Seconds per repetition for every measured side."""

    fresh: list[float] = field(default_factory=list)
    reload: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    read: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    baseline_again: list[float] = field(default_factory=list)


def _csv_header(path: Path) -> set[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return set(next(csv.reader(fh), []))


def baseline_commands(ctx: Context, ogr2ogr: str) -> tuple[list[list[str]], list[str]]:
    """Return the ogr2ogr command per readable file, and the files it cannot read.

    The connection string carries no password; it reaches libpq through ``PGPASSWORD``.
    """
    commands, skipped = [], []
    for dataset in catalog.DATASETS:
        path = ctx.data_dir / dataset.file
        if path.suffix.lower() in _NOT_FOR_GDAL:
            skipped.append(dataset.file)
            continue
        # GDAL 3.6 refuses -t_srs on a layer without a source CRS (the coordinate CSVs),
        # and their cen_e/cen_n already are EPSG:3794: assign the CRS there instead.
        srs = ["-t_srs", "EPSG:3794"]
        options = []
        if path.suffix.lower() == ".csv":
            options = ["-oo", "AUTODETECT_TYPE=YES"]
            if {"cen_e", "cen_n"} <= _csv_header(path):
                options += ["-oo", "X_POSSIBLE_NAMES=cen_e", "-oo", "Y_POSSIBLE_NAMES=cen_n"]
                srs = ["-a_srs", "EPSG:3794"]
        cmd = [ogr2ogr, "-f", "PostgreSQL", f"PG:{ctx.database.conninfo}", str(path),
               "-nln", f"{BASELINE_SCHEMA}.{dataset.name}", *srs,
               "-lco", "GEOMETRY_NAME=geom", "-overwrite", *options]  # fmt: skip
        commands.append(cmd)
    return commands, skipped


def _run_baseline(ctx: Context, commands: list[list[str]]) -> None:
    """Run the ogr2ogr commands one after another; fail on the first error."""
    for cmd in commands:
        done = subprocess.run(
            cmd, env=ctx.database.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            raise SetupError(f"ogr2ogr failed on {cmd[4]}: {lines[-1] if lines else 'no output'}")


def _reset_baseline(ctx: Context) -> None:
    schema = sql.Identifier(BASELINE_SCHEMA)
    with ctx.database.connect() as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))


def _baseline_rows(ctx: Context) -> tuple[int, int]:
    """Return the number of tables and rows ogr2ogr wrote into the scratch schema."""
    with ctx.database.connect() as conn:
        tables = [
            str(row[0])
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", [BASELINE_SCHEMA]
            )
        ]
        rows = 0
        for table in tables:
            count = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(BASELINE_SCHEMA, table))
            ).fetchone()
            rows += int(count[0]) if count else 0
    return len(tables), rows


def _cli_command() -> list[str]:
    script = Path(sys.executable).with_name("twin")
    if script.is_file():
        return [str(script), "load", "maribor", "--json"]
    return [sys.executable, "-c", "from twin.cli import main; main()", "load", "maribor", "--json"]


def _cli_load(ctx: Context) -> list[dict[str, object]]:
    """Run ``twin load maribor --json`` as its own process against the throwaway database."""
    env = ctx.database.env | {
        "TWIN_DATABASE_URL": ctx.database.url,
        "TWIN_DATA_DIR": str(ctx.data_dir),
    }
    done = subprocess.run(_cli_command(), env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise SetupError(f"twin load maribor failed: {lines[-1] if lines else 'no output'}")
    report: list[dict[str, object]] = json.loads(done.stdout)
    return report


def _feature_rows(reports: list[MergeReport]) -> int:
    return sum(r.rows for r in reports if r.table != "datasets")


def _check_unchanged(reports: list[MergeReport]) -> None:
    changed = [r.table for r in reports if r.inserted or r.updated or r.deleted]
    if changed:
        raise SetupError(f"the re-load changed rows in {', '.join(changed)}; it must change none")


def run(ctx: Context) -> list[Result]:
    """Time the load and the ogr2ogr baseline ``ctx.repeat`` times each.

    Parameters
    ----------
    ctx
        The throwaway database, the data directory and the repetition counts.

    Returns
    -------
    list of Result
        Fresh load, idempotent re-load, cold CLI load, read-and-validate only.

    Raises
    ------
    SetupError
        When ogr2ogr is missing or fails, or the re-load changes rows.
    """
    ogr2ogr = shutil.which("ogr2ogr")
    if ogr2ogr is None:
        raise SetupError("ogr2ogr is not installed; run `apt-get install gdal-bin` (make setup)")
    commands, skipped = baseline_commands(ctx, ogr2ogr)
    runs = _Runs()
    reports: list[MergeReport] = []
    cli_rows = 0
    for i in range(ctx.warmup + ctx.repeat):
        timed = i >= ctx.warmup
        ctx.log(f"{NAME}: {'run ' + str(i - ctx.warmup + 1) if timed else 'warm-up'}")
        read_s, _ = measure(lambda: read_all(ctx.data_dir))
        ctx.database.reset_twin()
        fresh_s, reports = measure(lambda: load(ctx.data_dir, url=ctx.database.url))
        reload_s, again = measure(lambda: load(ctx.data_dir, url=ctx.database.url))
        _check_unchanged(again)
        ctx.database.reset_twin()
        cold_s, cli_report = measure(lambda: _cli_load(ctx))
        cli_rows = sum(int(str(r["rows"])) for r in cli_report if r["table"] != "datasets")
        _reset_baseline(ctx)
        base_s, _ = measure(lambda: _run_baseline(ctx, commands))
        again_s, _ = measure(lambda: _run_baseline(ctx, commands))
        if timed:
            for seconds, bucket in (
                (fresh_s, runs.fresh), (reload_s, runs.reload), (cold_s, runs.cold),
                (read_s, runs.read), (base_s, runs.baseline), (again_s, runs.baseline_again),
            ):  # fmt: skip
                bucket.append(seconds)
    n_tables, base_rows = _baseline_rows(ctx)
    ours_rows = _feature_rows(reports)
    if cli_rows != ours_rows:
        raise SetupError(f"the CLI loaded {cli_rows} rows, the in-process load {ours_rows}")
    n_ours_files = len(catalog.DATASETS)
    n_ours_tables = len(catalog.TABLE_KEYS)
    ogr_cmd = f"ogr2ogr, {len(commands)} files → {BASELINE_SCHEMA}.* (empty schema)"
    baseline = Timing(tuple(runs.baseline))
    fresh = Timing(tuple(runs.fresh))
    read = Timing(tuple(runs.read))
    not_gdal = ", ".join(skipped) or "none"
    return [
        Result(
            f"{NAME}: fresh, in-process `load()`",
            fresh,
            ogr_cmd,
            baseline,
            f"ours: {n_ours_files} files read and validated, KS polygons derived, "
            f"{ours_rows} rows merged into {n_ours_tables} tables + dataset register, one "
            f"transaction. Baseline: {len(commands)} files copied as they are "
            f"({base_rows} rows in {n_tables} tables; not readable by GDAL: {not_gdal}), "
            "no validation, one process and transaction per file",
        ),
        Result(
            f"{NAME}: re-load, nothing changed",
            Timing(tuple(runs.reload)),
            f"the same {len(commands)} ogr2ogr runs again (`-overwrite` drops and re-creates)",
            Timing(tuple(runs.baseline_again)),
            "ours: reads and validates everything again, then the merge finds 0 rows to insert, "
            "update or delete (checked); baseline rewrites every table",
        ),
        Result(
            f"{NAME}: fresh, cold CLI `twin load maribor --json`",
            Timing(tuple(runs.cold)),
            ogr_cmd,
            baseline,
            "ours as a new process: includes Python start-up and imports (pandas, geopandas, "
            "pyogrio, typer, rich); same baseline runs as the first row",
        ),
        Result(
            f"{NAME}: read + validate only (no database)",
            read,
            "—",
            None,
            f"`read_all()`: the file-reading phase of the fresh load "
            f"({100 * read.median / fresh.median:.0f} % of its median)",
        ),
    ]
