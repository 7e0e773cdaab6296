"""Workload: importing 100,000 street lights from a GeoPackage, against ogr2ogr and psql."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from psycopg import sql

from bench._harness import Context, Result, Timing, measure
from bench.synth_city import run_measured
from twin._errors import SetupError
from twin.db.engine import libpq_env
from twin.load.maribor import load
from twin.register.importer import ImportReport, import_file
from twin.register.store import Actor

NAME = "register import"
#: Street lights in the file.
ROWS = 100_000
#: Timed runs of ogr2ogr appending through the register's triggers (slow; see MEASURES).
APPEND_REPEAT = 2
SCRATCH = "bench_import"
SEED = 5
MEASURES = (
    f"A GeoPackage of {ROWS:,} street lights (EPSG:4326, 10 attributes, pole codes unique, "
    f"points inside the municipality; seed {SEED}) is written once, untimed, after `twin load "
    "maribor` (the municipality is a check). Before every run `register.street_light` is "
    "emptied and its history deleted (untimed). Ours: `twin.register.importer.import_file(…, "
    "'street_light', actor=…)` in-process: read (pyogrio/Arrow), CRS transform, geometry type, "
    "validity and municipality checks, attribute types and allowed values, duplicate and "
    "identifier matching against the register, then, as every row is new, one COPY straight "
    "into `register.street_light` through its triggers (version, who and time stamped by the "
    "column defaults, so the row trigger is skipped; the statement trigger checks set-based "
    "for re-created ids and notes the statement in `register.changes`; since revision 0009 "
    "the version in force is the row itself and the history keeps the versions that end, so "
    "a new asset writes no history row until it is changed or deleted; the table has a GiST "
    "index and a finite-x/y validity CHECK, as every Point class; since revision 0010 an "
    "import of at least 10,000 new rows into a table holding no more drops the GiST index in "
    "its transaction and a deferred trigger builds it again at commit, as ogr2ogr builds its "
    "own after loading; a file that changes stored assets is staged and merged instead), one "
    "transaction, timed to its commit. "
    "Then the same file again (nothing changes, checked), and the same import as a cold "
    "`twin assets import FILE --class street_light --json` process (peak RSS measured as in "
    "synth city). Peer: `ogr2ogr -f PostgreSQL PG:… FILE -nln bench_import.street_light "
    "-t_srs EPSG:3794 -lco GEOMETRY_NAME=geom -overwrite` (a new table with a GiST index; "
    "COPY; no checks, no history). Like-for-like peer: `ogr2ogr -append … -nln "
    "register.street_light -t_srs EPSG:3794` into the register table itself, so its triggers "
    f"stamp and historise every row as ours (at most {APPEND_REPEAT} timed runs: it inserts "
    "row by row). Floor: the imported rows dumped once with `psql \\copy (SELECT …) TO` "
    "(untimed), then `psql -1 -c '\\copy bench_import.floor FROM … CSV'` into an empty table "
    "`(LIKE register.street_light INCLUDING ALL)` (same columns, CHECKs and indexes, no "
    "triggers). The sides run one after another in each repetition."
)


@dataclass
class _Runs:
    ours: list[float] = field(default_factory=list)
    again: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    ogr: list[float] = field(default_factory=list)
    append: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)


def write_lights(ctx: Context, path: Path) -> None:
    """Write the GeoPackage: ``ROWS`` street lights inside the municipality, EPSG:4326."""
    with ctx.database.connect() as conn:
        row = conn.execute("SELECT ST_AsBinary(ST_Union(geom)) FROM twin.municipality").fetchone()
    if row is None or row[0] is None:
        raise SetupError("twin.municipality is empty; the workload loads Maribor first")
    area = shapely.buffer(shapely.from_wkb(bytes(row[0])), -100)
    shapely.prepare(area)
    rng = np.random.default_rng(SEED)
    xmin, ymin, xmax, ymax = area.bounds
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    while sum(map(len, xs)) < ROWS:
        x, y = rng.uniform(xmin, xmax, ROWS), rng.uniform(ymin, ymax, ROWS)
        inside = shapely.contains_xy(area, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
    names = np.full(ROWS, None, dtype=object)
    names[rng.random(ROWS) < 0.1] = "svetilka"
    roads = ["Titova cesta", "Tržaška cesta", "Ptujska cesta", "Ulica heroja Šaranoviča"]
    frame = gpd.GeoDataFrame(
        {
            "pole_code": [f"JR-{i:07d}" for i in range(ROWS)],
            "name": names,
            "state": rng.choice(["active", "planned", "out_of_service"], ROWS, p=[0.9, 0.05, 0.05]),
            "lamp_type": rng.choice(["LED", "sodium", "metal_halide"], ROWS),
            "power_w": rng.integers(20, 400, ROWS),
            "telemanaged": rng.random(ROWS) < 0.3,
            "pole_height_m": rng.uniform(4, 12, ROWS).round(1),
            "install_year": rng.integers(1970, 2026, ROWS),
            "road": rng.choice(roads, ROWS),
            "road_class": rng.choice(["primary", "secondary", "residential"], ROWS),
        },
        geometry=gpd.points_from_xy(np.concatenate(xs)[:ROWS], np.concatenate(ys)[:ROWS]),
        crs=3794,
    ).to_crs(4326)
    frame.to_file(path, layer="street_light", engine="pyogrio")


def _empty_register(ctx: Context) -> None:
    with ctx.database.connect() as conn:
        conn.execute("TRUNCATE register.street_light")
        conn.execute("DELETE FROM register.history WHERE class = 'street_light'")
        conn.execute("VACUUM ANALYZE register.street_light")


def _count(ctx: Context, table: str) -> int:
    schema, name = table.split(".")
    with ctx.database.connect() as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))
        ).fetchone()
    return int(row[0]) if row else 0


def _ours(ctx: Context, path: Path) -> ImportReport:
    return import_file(path, "street_light", actor=Actor("bench", "admin"), url=ctx.database.url)


def _checked(report: ImportReport, new: int, what: str) -> None:
    if (report.new, report.changed, report.rejected) != (new, 0, 0):
        raise SetupError(
            f"{what}: {report.new} new, {report.changed} changed, {report.rejected} rejected "
            f"(expected {new} new, 0 changed, 0 rejected): {report.quoted()}"
        )


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise SetupError(f"{what} failed: {lines[-1] if lines else 'no output'}")


def _cli(ctx: Context, path: Path) -> tuple[float, float]:
    """Run the import as a cold CLI process; return seconds and peak RSS (MiB)."""
    script = Path(sys.executable).with_name("twin")
    args = ["assets", "import", str(path), "--class", "street_light", "--user", "bench", "--json"]
    cmd = (
        [str(script), *args]
        if script.is_file()
        else [sys.executable, "-c", "from twin.cli import main; main()", *args]
    )
    env = ctx.database.env | {"TWIN_DATABASE_URL": ctx.database.url}
    done = run_measured(cmd, env, "twin assets import")
    report = json.loads(done.stdout)
    if (report["new"], report["rejected"]) != (ROWS, 0):
        raise SetupError(f"twin assets import reported {report['new']} new rows, not {ROWS}")
    return done.seconds, done.peak_rss_mib


@dataclass(frozen=True)
class _Commands:
    """The baseline command lines (no passwords: libpq reads ``PGPASSWORD``)."""

    ogr_new: list[str]
    ogr_append: list[str]
    dump: list[str]
    copy_in: list[str]
    env: dict[str, str]


def _commands(ctx: Context, path: Path, dump: Path) -> _Commands:
    ogr2ogr, psql = shutil.which("ogr2ogr"), shutil.which("psql")
    if ogr2ogr is None or psql is None:
        raise SetupError("ogr2ogr and psql are needed; run `make setup` (gdal-bin, postgresql)")
    dsn, env = libpq_env(ctx.database.url)
    pg = f"PG:{ctx.database.conninfo}"
    srs = ["-t_srs", "EPSG:3794"]
    return _Commands(
        ogr_new=[
            ogr2ogr,
            "-f",
            "PostgreSQL",
            pg,
            str(path),
            "-nln",
            f"{SCRATCH}.street_light",
            *srs,
            "-lco",
            "GEOMETRY_NAME=geom",
            "-overwrite",
        ],
        ogr_append=[
            ogr2ogr,
            "-append",
            "-f",
            "PostgreSQL",
            pg,
            str(path),
            "-nln",
            "register.street_light",
            *srs,
        ],
        dump=[
            psql,
            "-X",
            "-q",
            "-d",
            dsn,
            "-c",
            "\\copy (SELECT * FROM register.street_light "
            f"ORDER BY id) TO '{dump}' WITH (FORMAT csv)",
        ],
        copy_in=[
            psql,
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-1",
            "-d",
            dsn,
            "-c",
            f"\\copy {SCRATCH}.floor FROM '{dump}' WITH (FORMAT csv)",
        ],
        env=env,
    )


def _scratch(ctx: Context) -> None:
    with ctx.database.connect() as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCRATCH)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCRATCH)))
        conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE register.street_light INCLUDING ALL)").format(
                sql.Identifier(SCRATCH, "floor")
            )
        )


def _expect(ctx: Context, table: str, what: str) -> None:
    found = _count(ctx, table)
    if found != ROWS:
        raise SetupError(f"{what} wrote {found} rows into {table}, not {ROWS}")


def _repetition(
    ctx: Context, path: Path, dump: Path, cmd: _Commands, runs: _Runs, *, timed: bool
) -> None:
    """One run of every side (ours, again, CLI, ogr2ogr, floor, maybe ogr2ogr -append)."""
    _empty_register(ctx)
    seconds, report = measure(lambda: _ours(ctx, path))
    _checked(report, ROWS, "import_file")
    again_s, again = measure(lambda: _ours(ctx, path))
    _checked(again, 0, "the second import")
    if not dump.exists():
        _run(cmd.dump, cmd.env, "psql \\copy … TO")
    _empty_register(ctx)
    cold_s, peak = _cli(ctx, path)
    ogr_s, _ = measure(lambda: _run(cmd.ogr_new, ctx.database.env, "ogr2ogr"))
    _expect(ctx, f"{SCRATCH}.street_light", "ogr2ogr")
    with ctx.database.connect() as conn:
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(SCRATCH, "floor")))
    floor_s, _ = measure(lambda: _run(cmd.copy_in, cmd.env, "psql \\copy … FROM"))
    _expect(ctx, f"{SCRATCH}.floor", "psql \\copy")
    if timed and len(runs.append) < APPEND_REPEAT:
        _empty_register(ctx)
        append_s, _ = measure(lambda: _run(cmd.ogr_append, ctx.database.env, "ogr2ogr -append"))
        _expect(ctx, "register.street_light", "ogr2ogr -append")
        runs.append.append(append_s)
    ctx.log(
        f"{NAME}: ours {seconds:.2f} s, again {again_s:.2f} s, CLI {cold_s:.2f} s; "
        f"ogr2ogr {ogr_s:.2f} s; psql {floor_s:.2f} s"
    )
    if timed:
        runs.ours.append(seconds)
        runs.again.append(again_s)
        runs.cold.append(cold_s)
        runs.peaks.append(peak)
        runs.ogr.append(ogr_s)
        runs.floor.append(floor_s)


def run(ctx: Context) -> list[Result]:
    """Time the import against ogr2ogr (new table, and through the triggers) and psql \\copy.

    Raises
    ------
    SetupError
        When ogr2ogr or psql is missing or fails, or a side writes the wrong number of rows.
    """
    ctx.log(f"{NAME}: loading the real Maribor layers (untimed)")
    ctx.database.reset_twin()
    load(ctx.data_dir, url=ctx.database.url)
    _scratch(ctx)
    runs = _Runs()
    with tempfile.TemporaryDirectory(prefix="twin-bench-import-") as tmp:
        path, dump = Path(tmp) / "street_lights.gpkg", Path(tmp) / "rows.csv"
        cmd = _commands(ctx, path, dump)
        write_lights(ctx, path)
        size_mib = path.stat().st_size / 1024**2
        for i in range(ctx.warmup + ctx.repeat):
            timed = i >= ctx.warmup
            ctx.log(f"{NAME}: {'run ' + str(i - ctx.warmup + 1) if timed else 'warm-up'}")
            _repetition(ctx, path, dump, cmd, runs, timed=timed)
    with ctx.database.connect() as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(SCRATCH)))
    _empty_register(ctx)
    return _results(runs, size_mib)


def _results(runs: _Runs, size_mib: float) -> list[Result]:
    ours = Timing(tuple(runs.ours))
    ogr = Timing(tuple(runs.ogr))
    file = f"{ROWS:,} points, {size_mib:.1f} MiB GeoPackage"
    return [
        Result(
            f"{NAME}: {ROWS:,} street lights, GeoPackage, in-process `import_file`",
            ours,
            "ogr2ogr → new table (COPY, GiST index)",
            ogr,
            f"{file}. Ours checks every row and writes version, who, when and why through "
            "the register's triggers (the history takes each version when it ends); ogr2ogr "
            "copies the features as they are",
        ),
        Result(
            f"{NAME}: same import vs ogr2ogr through the register's triggers",
            ours,
            "ogr2ogr -append → register.street_light",
            Timing(tuple(runs.append)),
            f"{len(runs.append)} timed run(s) of ogr2ogr; both sides write the same table, "
            "triggers and history; ogr2ogr inserts row by row, no checks",
        ),
        Result(
            f"{NAME}: same import vs the COPY floor",
            ours,
            "psql \\copy → table like register.street_light (no triggers)",
            Timing(tuple(runs.floor)),
            "the floor writes the finished rows only: no reading, checks or history",
        ),
        Result(
            f"{NAME}: cold CLI `twin assets import --json`",
            Timing(tuple(runs.cold)),
            "ogr2ogr → new table (COPY, GiST index)",
            ogr,
            "ours as a new process (Python start-up and imports included); same ogr2ogr runs "
            f"as the first row. Ours peak RSS per run: "
            f"{', '.join(f'{p:.0f}' for p in runs.peaks)} MiB",
            peak_rss_mib=max(runs.peaks),
        ),
        Result(
            f"{NAME}: the same file again (nothing changes)",
            Timing(tuple(runs.again)),
            "—",
            None,
            "ours reads and checks all rows again and compares them with the register: "
            "0 new, 0 changed (checked), no version, no history",
        ),
    ]
