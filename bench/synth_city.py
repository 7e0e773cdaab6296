"""Workload: ``twin synth`` for the whole city and ten tiled copies, against ``psql \\copy``."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from psycopg import sql

import twin.synth
from bench._harness import Context, Result, Timing
from twin._errors import SetupError
from twin.db.engine import libpq_env
from twin.load.maribor import load
from twin.synth.city import TABLES

NAME = "synth city"
MEASURES = (
    "Ours: `twin synth --seed 1 --scale S --json` as a process of its own against the "
    "throwaway database (real Maribor layers loaded first, untimed; rasters written to a "
    "temporary directory through `TWIN_CLUSTER_DIR`), for S = 1 (the whole city: "
    "`TWIN_BENCH_REPEAT` timed runs after the warm-up) and S = 10 (the city tiled ten times "
    "side by side: at most 2 timed runs, no warm-up, as the scale-1 runs already warmed the "
    "caches). Timed end to end: Python start-up and imports, reading the real base layers, "
    "every generator, the GeoTIFFs, deleting the previous synthetic city, COPY into the four "
    "tables, the content hash and the run record, in one transaction. Baseline, the physical "
    "floor of writing the same rows: the synthetic rows of the four tables dumped once per "
    "scale with `psql \\copy (SELECT …) TO … CSV` (untimed), then one `psql -1` process with "
    "four `-c '\\copy bench_synth.TABLE FROM … CSV'` (one transaction) into empty scratch "
    "tables `(LIKE twin.TABLE INCLUDING ALL)` (same columns, CHECKs, primary keys and GiST "
    "indexes; truncated before each repetition, untimed), timed end to end. Each side runs "
    "under a small probe interpreter that times the command (the probe's own start-up "
    "excluded) and reads the command's peak RSS (`getrusage(RUSAGE_CHILDREN)`, the command "
    "being its only child; read from the benchmark process itself, every child would inherit "
    "the benchmark's RSS as a floor). Checked: the same seed gives the same content hash in "
    "every run, and the scratch tables end with the row counts `twin synth` reported."
)

#: Scratch schema of the baseline inside the throwaway database.
SCRATCH_SCHEMA = "bench_synth"
#: Seed of every run (the same seed gives the same city: checked through the content hash).
SEED = 1
#: Scale of the large case: the city tiled this many times.
LARGE_SCALE = 10
#: At most this many timed runs of the large case (each takes a while and a few GiB).
LARGE_REPEAT = 2
#: Key column of each table, for ordering the dump.
_KEYS = {"population_grid": "cell_id"}


@dataclass(frozen=True)
class ChildRun:
    """One measured child process.

    Parameters
    ----------
    seconds
        Wall-clock seconds from start to exit.
    peak_rss_mib
        Peak resident set size of the child (``ru_maxrss``), in MiB.
    stdout
        What the child printed on stdout.
    """

    seconds: float
    peak_rss_mib: float
    stdout: str


@dataclass
class _Case:
    """Everything measured for one scale."""

    scale: int
    ours: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    baseline_peaks: list[float] = field(default_factory=list)
    hashes: set[str] = field(default_factory=set)
    runs: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    csv_mib: float = 0.0


#: Run by a fresh, small interpreter: start the command, wait for it, write its wall time,
#: exit status and peak RSS as JSON to argv[1]. The probe is needed because a child's
#: ``ru_maxrss`` starts at the RSS of the process that forked it: measured straight from the
#: benchmark process (hundreds of MiB after loading the data) every child would look at least
#: that big. The probe itself holds about 10 MiB.
_PROBE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[2:], check=False).returncode
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(sys.argv[1], "w", encoding="utf-8") as fh:
    json.dump({"seconds": seconds, "returncode": code, "peak_kib": peak}, fh)
"""


def run_measured(cmd: list[str], env: dict[str, str], what: str) -> ChildRun:
    """Run ``cmd`` to its end; return its wall time, its own peak RSS and its stdout.

    The command runs under a small probe interpreter (``_PROBE``), which times it and reads
    its peak RSS with ``getrusage(RUSAGE_CHILDREN)``: the command is the probe's only child,
    and the probe is small, so the figure is the command's own.

    Parameters
    ----------
    cmd
        Argument list (no shell).
    env
        Environment of the child.
    what
        Name of the command for the error message.

    Returns
    -------
    ChildRun
        Seconds, peak RSS in MiB and stdout.

    Raises
    ------
    SetupError
        When the child exits with a non-zero status (with the last line of its stderr).
    """
    with tempfile.TemporaryDirectory(prefix="twin-bench-probe-") as tmp:
        figures = Path(tmp) / "figures.json"
        probe = [sys.executable, "-I", "-S", "-c", _PROBE, str(figures), *cmd]
        done = subprocess.run(probe, env=env, capture_output=True, text=True, check=False)
        measured = json.loads(figures.read_text(encoding="utf-8")) if figures.is_file() else {}
    code = int(measured.get("returncode", done.returncode))
    if code != 0 or done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise SetupError(f"{what} failed (exit {code}): {lines[-1] if lines else 'no output'}")
    # Linux reports ru_maxrss in KiB.
    return ChildRun(float(measured["seconds"]), int(measured["peak_kib"]) / 1024, done.stdout)


def synth_source_digest() -> str:
    """Return a digest of the ``twin.synth`` sources, to notice edits during a run."""
    digest = hashlib.sha256()
    for path in sorted(Path(twin.synth.__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _twin_command(scale: int) -> list[str]:
    args = ["synth", "--seed", str(SEED), "--scale", str(scale), "--json"]
    script = Path(sys.executable).with_name("twin")
    if script.is_file():
        return [str(script), *args]
    return [sys.executable, "-c", "from twin.cli import main; main()", *args]


def _psql() -> str:
    psql = shutil.which("psql")
    if psql is None:
        raise SetupError("psql is not installed; run `apt-get install postgresql-client`")
    return psql


def _psql_command(psql: str, dsn: str, commands: list[str]) -> list[str]:
    """Return one psql call running ``commands`` in one transaction, stopping on an error."""
    cmd = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-d", dsn]
    for command in commands:
        cmd += ["-c", command]
    return cmd


def _quoted_path(path: Path) -> str:
    """Quote a file name for ``\\copy`` (the temporary directory never holds a quote)."""
    if "'" in str(path):
        raise SetupError(f"cannot pass {path} to psql \\copy (it contains a quote)")
    return f"'{path}'"


def _synth(ctx: Context, scale: int, raster_home: Path) -> tuple[ChildRun, dict[str, object]]:
    """Run ``twin synth`` as its own process against the throwaway database."""
    env = ctx.database.env | {
        "TWIN_DATABASE_URL": ctx.database.url,
        "TWIN_CLUSTER_DIR": str(raster_home),
    }
    done = run_measured(_twin_command(scale), env, f"twin synth --scale {scale}")
    report: dict[str, object] = json.loads(done.stdout)
    return done, report


def _counts(report: dict[str, object]) -> dict[str, int]:
    raw = report["counts"]
    if not isinstance(raw, dict):
        raise SetupError(f"twin synth --json reported counts of type {type(raw).__name__}")
    return {str(table): int(rows) for table, rows in raw.items()}


def _reset_scratch(ctx: Context) -> None:
    """Create empty scratch tables shaped like the four synth tables (indexes included)."""
    schema = sql.Identifier(SCRATCH_SCHEMA)
    with ctx.database.connect() as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        for table in TABLES:
            conn.execute(
                sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                    sql.Identifier(SCRATCH_SCHEMA, table), sql.Identifier("twin", table)
                )
            )


def _truncate_scratch(ctx: Context) -> None:
    tables = sql.SQL(", ").join(sql.Identifier(SCRATCH_SCHEMA, t) for t in TABLES)
    with ctx.database.connect() as conn:
        conn.execute(sql.SQL("TRUNCATE {}").format(tables))


def _table_counts(ctx: Context, schema: str, *, synthetic_only: bool) -> dict[str, int]:
    where = sql.SQL(" WHERE synthetic") if synthetic_only else sql.SQL("")
    counts = {}
    with ctx.database.connect() as conn:
        for table in TABLES:
            query = sql.SQL("SELECT count(*) FROM {}{}").format(
                sql.Identifier(schema, table), where
            )
            row = conn.execute(query).fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


def _dump(ctx: Context, psql: str, directory: Path) -> dict[str, Path]:
    """Write the synthetic rows of each synth table to ``directory/TABLE.csv`` (untimed)."""
    dsn, env = libpq_env(ctx.database.url)
    files = {table: directory / f"{table}.csv" for table in TABLES}
    commands = [
        f"\\copy (SELECT * FROM twin.{table} WHERE synthetic "
        f"ORDER BY {_KEYS.get(table, 'id')}) TO {_quoted_path(path)} WITH (FORMAT csv)"
        for table, path in files.items()
    ]
    run_measured(_psql_command(psql, dsn, commands), env, "psql \\copy … TO")
    return files


def _copy_in(ctx: Context, psql: str, files: dict[str, Path]) -> ChildRun:
    """Copy the dumped CSVs into the empty scratch tables: the timed baseline."""
    dsn, env = libpq_env(ctx.database.url)
    commands = [
        f"\\copy {SCRATCH_SCHEMA}.{table} FROM {_quoted_path(path)} WITH (FORMAT csv)"
        for table, path in files.items()
    ]
    return run_measured(_psql_command(psql, dsn, commands), env, "psql \\copy … FROM")


def _measure_case(
    ctx: Context, psql: str, case: _Case, work: Path, runs: tuple[int, int], source: str
) -> None:
    """Run ours and the baseline ``warmup + repeat`` times each, interleaved.

    ``runs`` is ``(warmup, repeat)``; ``source`` the :func:`synth_source_digest` at the start
    of the workload (a change of the sources aborts rather than mixing two versions).
    """
    warmup, repeat = runs
    raster_home = work / "cluster"
    dump_dir = work / f"scale-{case.scale}"
    dump_dir.mkdir()
    files: dict[str, Path] = {}
    for i in range(warmup + repeat):
        timed = i >= warmup
        label = f"run {i - warmup + 1}/{repeat}" if timed else "warm-up"
        ctx.log(f"{NAME}: scale {case.scale}, {label}")
        before = synth_source_digest()
        ours, report = _synth(ctx, case.scale, raster_home)
        if synth_source_digest() != before or before != source:
            raise SetupError(
                "the twin/synth sources changed while the benchmark ran; run it again "
                "once they are settled"
            )
        counts = _counts(report)
        written = _table_counts(ctx, "twin", synthetic_only=True)
        if written != counts:
            raise SetupError(f"twin synth reported {counts} rows but the tables hold {written}")
        content_hash = str(report["content_hash"])
        if case.hashes and content_hash not in case.hashes:
            raise SetupError(
                f"twin synth --seed {SEED} --scale {case.scale} wrote a different city in run "
                f"{case.runs + 1} (content hash {content_hash}, rows {counts}) than in run 1 "
                f"(content hash {min(case.hashes)}, rows {case.counts}) with unchanged "
                "sources; the same seed must give the same city"
            )
        case.hashes.add(content_hash)
        case.counts = counts
        case.runs += 1
        if not files:
            files = _dump(ctx, psql, dump_dir)
            case.csv_mib = sum(p.stat().st_size for p in files.values()) / 1024**2
        _truncate_scratch(ctx)
        base = _copy_in(ctx, psql, files)
        copied = _table_counts(ctx, SCRATCH_SCHEMA, synthetic_only=False)
        if copied != counts:
            raise SetupError(f"psql \\copy wrote {copied} rows, twin synth {counts}")
        ctx.log(
            f"{NAME}: scale {case.scale}: ours {ours.seconds:.2f} s, "
            f"peak {ours.peak_rss_mib:.0f} MiB; psql {base.seconds:.2f} s"
        )
        if timed:
            case.ours.append(ours.seconds)
            case.peaks.append(ours.peak_rss_mib)
            case.baseline.append(base.seconds)
            case.baseline_peaks.append(base.peak_rss_mib)
    for path in files.values():
        path.unlink()


def _result(case: _Case, label: str) -> Result:
    rows = ", ".join(f"{table} {n}" for table, n in case.counts.items())
    total = sum(case.counts.values())
    (content_hash,) = case.hashes
    warm = " (warm-up included)" if case.runs > len(case.ours) else ""
    return Result(
        f"{NAME}: {label}",
        Timing(tuple(case.ours)),
        f"psql -1, four `\\copy … FROM` CSV → {SCRATCH_SCHEMA}.* (empty, same indexes)",
        Timing(tuple(case.baseline)),
        f"{len(case.ours)} timed run(s). {total} synthetic rows ({rows}); "
        f"{case.csv_mib:.1f} MiB of CSV. Content hash {content_hash[:12]}… identical in all "
        f"{case.runs} run(s) of seed {SEED}{warm}. Ours peak RSS per timed run: "
        f"{', '.join(f'{p:.0f}' for p in case.peaks)} MiB; psql's "
        f"{max(case.baseline_peaks):.0f} MiB. Ours also generates the rows, reads the real "
        "layers, writes the GeoTIFFs and deletes the previous synthetic city; the baseline "
        "only writes the finished rows",
        peak_rss_mib=max(case.peaks),
    )


def run(ctx: Context) -> list[Result]:
    """Time ``twin synth`` at scale 1 and 10 against ``psql \\copy`` of the same rows.

    Parameters
    ----------
    ctx
        The throwaway database, the data directory and the repetition counts.

    Returns
    -------
    list of Result
        The whole city (scale 1) and the city tiled ten times (scale 10).

    Raises
    ------
    SetupError
        When psql is missing, a run fails, the row counts disagree, the same seed gives
        different content hashes, or the ``twin/synth`` sources change during the run.
    """
    psql = _psql()
    if sys.platform != "linux":  # ru_maxrss is in bytes on macOS, KiB on Linux
        raise SetupError("the synth city workload measures memory the Linux way")
    ctx.log(f"{NAME}: loading the real Maribor layers (untimed)")
    ctx.database.reset_twin()
    load(ctx.data_dir, url=ctx.database.url)
    _reset_scratch(ctx)
    whole = _Case(scale=1)
    large = _Case(scale=LARGE_SCALE)
    with tempfile.TemporaryDirectory(prefix="twin-bench-synth-") as tmp:
        work = Path(tmp)
        source = synth_source_digest()
        _measure_case(ctx, psql, whole, work, (ctx.warmup, ctx.repeat), source)
        _measure_case(ctx, psql, large, work, (0, min(ctx.repeat, LARGE_REPEAT)), source)
    with ctx.database.connect() as conn:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCRATCH_SCHEMA))
        )
    return [
        _result(whole, "whole city (scale 1)"),
        _result(large, f"scale {LARGE_SCALE} (city tiled {LARGE_SCALE} times)"),
    ]
