"""``twin synth``: generate the synthetic city and write it in one transaction."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from rich.console import Console
from rich.progress import Progress

from twin._errors import ConfigError, DatabaseError, exception_reason
from twin.config import get_settings
from twin.db._sql import sql_text
from twin.db.engine import connect
from twin.load._stage import copy_rows
from twin.register import bulk
from twin.register.catalog import BOOKKEEPING, classes
from twin.synth import (
    amenities,
    brownfields,
    buildings,
    lights,
    population,
    sensors,
    telecom,
    terrain,
    traffic_lights,
)
from twin.synth._context import LICENCE, SOURCE, Base, SynthContext

#: Generators in the order they run; each may use what the earlier ones produced.
GENERATORS: tuple[tuple[str, Callable[[SynthContext], dict[str, pd.DataFrame]]], ...] = (
    ("terrain", terrain.generate),
    ("buildings", buildings.generate),
    ("population", population.generate),
    ("lights", lights.generate),
    ("telecom", telecom.generate),
    ("amenities", amenities.generate),
    ("traffic_lights", traffic_lights.generate),
    ("brownfields", brownfields.generate),
    ("sensors", sensors.generate),
)
#: Tables written by ``twin synth`` (their synthetic rows are replaced on every run).
TABLES = ("local_streets", "buildings", "assets", "population_grid")


@dataclass
class SynthReport:
    """What ``twin synth`` wrote."""

    seed: int
    scale: float
    content_hash: str
    counts: dict[str, int] = field(default_factory=dict)
    rasters: dict[str, str] = field(default_factory=dict)


def synthesize(
    seed: int = 1,
    scale: float = 1.0,
    url: str | None = None,
    raster_dir: Path | None = None,
    progress: Console | None = None,
) -> SynthReport:
    """Generate the synthetic city on the loaded real layers and replace the previous one.

    Parameters
    ----------
    seed
        Seed of every random choice; the same seed gives the same city (same hash).
    scale
        1 is Maribor; 0.05 a thin slice for tests; 10 the city tiled ten times.
    url
        Database URL; the twin's database by default.
    raster_dir
        Where the GeoTIFFs (population grid, terrain) are written.
    progress
        Console to draw progress on; silent when None.

    Returns
    -------
    SynthReport
        Seed, scale, content hash, rows per table and the raster files written.

    Raises
    ------
    ConfigError
        When scale is not positive.
    DatabaseError
        When the real layers are not loaded, or the write fails (then nothing changed).
    """
    if not scale > 0 or not np.isfinite(scale):
        raise ConfigError(f"--scale must be a positive number, got {scale}")
    if scale > 1 and not float(scale).is_integer():
        raise ConfigError(
            f"--scale above 1 repeats the whole city, so it must be a whole number, got {scale}"
        )
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"--seed must be a whole number from 0 to {MAX_SEED}, got {seed}")
    raster_dir = raster_dir or get_settings().cluster_dir / "rasters"
    raster_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".synth-", dir=raster_dir) as staging:
        report = _synthesize(seed, scale, url, Path(staging), progress)
        # Only a committed city replaces the rasters of the previous one.
        for name, path in list(report.rasters.items()):
            final = raster_dir / Path(path).name
            Path(path).replace(final)
            report.rasters[name] = str(final)
    return report


def _synthesize(
    seed: int, scale: float, url: str | None, raster_dir: Path, progress: Console | None
) -> SynthReport:
    with Progress(console=progress, transient=True, disable=progress is None) as bar:
        task = bar.add_task("synthesising Maribor", total=len(GENERATORS) + 1)
        ctx = SynthContext(seed=seed, scale=scale, base=Base.read(url), raster_dir=raster_dir)
        frames: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
        for name, generate in GENERATORS:
            bar.update(task, description=f"synthesising: {name}")
            for table, frame in generate(ctx).items():
                frames[table].append(frame)
            bar.advance(task)
        bar.update(task, description="writing to PostGIS")
        tables = {t: pd.concat(f, ignore_index=True) for t, f in frames.items() if f}
        if scale > 1:
            tables = tile(tables, copies=round(scale), width=_tile_width(ctx))
        report = _write(ctx, tables, url)
        report.rasters = {k: str(v) for k, v in ctx.rasters.items()}
        bar.advance(task)
    return report


def present(seed: int, scale: float, url: str | None = None) -> SynthReport | None:
    """Return the report of the city in the database if it is intact and from ``seed``/``scale``.

    Intact means its rows still hash to what the last ``twin synth`` recorded, so nothing was
    edited or deleted since. Returns None otherwise (or when no city was generated).
    """
    with connect(url) as conn:
        last = conn.execute(sql_text("synth_last_run")).fetchone()
        if last is None or last[0] != seed or last[1] != scale:
            return None
        current = _register_hash(conn)
    if current != last[2]:
        return None
    return SynthReport(seed=seed, scale=scale, content_hash=str(last[2]), counts=dict(last[3]))


#: Largest seed (stored in an integer column).
MAX_SEED = 2**31 - 1
#: Tiled copies shift integer ids by this much per copy.
TILE_ID_STEP = 10_000_000


def _tile_width(ctx: SynthContext) -> float:
    """East-west shift between tiled copies: the city's width plus 1 km, in whole 100 m."""
    west, _, east, _ = ctx.base.municipality.bounds
    return float(np.ceil((east - west + 1_000) / 100) * 100)


def tile(tables: dict[str, pd.DataFrame], copies: int, width: float) -> dict[str, pd.DataFrame]:
    """Repeat the generated city ``copies`` times side by side (for benchmarks at scale).

    Copy ``k`` is shifted ``k * width`` metres east; integer ids move by ``TILE_ID_STEP``,
    text ids get a ``~k`` suffix, population cells keep their 100 m alignment. External
    identifiers (an OSM id, a GURS building id: attributes with a codespace) name one real
    thing, so only the original keeps them; the copies have none.
    """
    external = {a.name for cls in classes().values() for a in cls.identifiers}
    tiled = {}
    for table, frame in tables.items():
        parts = [frame]
        for k in range(1, copies):
            part = frame.copy()
            shift = np.array([k * width, 0.0])
            part["geom"] = shapely.transform(part["geom"].to_numpy(), lambda xy, d=shift: xy + d)
            if table == "population_grid":
                part["cell_id"] = part["cell_id"] + round(k * width / 100) * population.ID_STRIDE
            elif pd.api.types.is_string_dtype(part["id"]):
                part["id"] = part["id"] + f"~{k}"
            else:
                part["id"] = part["id"] + k * TILE_ID_STEP
            for column in external & set(part.columns):
                part[column] = part[column].where(np.zeros(len(part), dtype=bool))  # all missing
            parts.append(part)
        tiled[table] = pd.concat(parts, ignore_index=True)
    return tiled


#: Titles of the generated layers on the Data & sources page (register classes by their title).
TITLES = {
    "local_streets": "Local streets (synthetic)",
    "population_grid": "Population grid, 100 m (synthetic, dasymetric)",
}


def _register(
    conn: psycopg.Connection, ctx: SynthContext, counts: dict[str, int], content_hash: str
) -> None:
    """List each generated layer in ``twin.datasets``, flagged synthetic."""
    known = classes()
    for table, rows in counts.items():
        title = TITLES.get(table) or f"{known[table].title} (synthetic, register)"
        conn.execute(
            sql_text("synth_register"),
            {
                "name": f"synth_{table}", "title": title,
                "table": table if table in TWIN_TABLES else f"register.{table}",
                "file": f"twin synth --seed {ctx.seed} --scale {ctx.scale:g}",
                "sha256": hashlib.sha256(f"{table}:{content_hash}".encode()).hexdigest(),
                "rows": rows, "source": SOURCE, "licence": LICENCE,
                "attribution": "synthetic data generated by twin; not measured",
            },
        )  # fmt: skip


#: Tables of schema twin that ``twin synth`` replaces (the rest goes to the register).
TWIN_TABLES = ("local_streets", "population_grid")


def register_frames(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Split the generated buildings and assets into one frame per register class.

    Building ids become ``building:<n>``; columns a class does not declare (generator
    internals such as ``zone``) are dropped.
    """
    known = classes()
    frames: dict[str, pd.DataFrame] = {}
    buildings = tables.get("buildings")
    if buildings is not None:
        buildings = buildings.assign(id="building:" + buildings["id"].astype(str).str.zfill(6))
        frames["building"] = buildings
    assets = tables.get("assets")
    if assets is not None:
        for name, part in assets.groupby("class", sort=True):
            frames[str(name)] = part.drop(columns="class").dropna(axis=1, how="all")
    unknown = set(frames) - set(known)
    if unknown:
        raise ConfigError(f"the synthetic city has classes without a class file: {sorted(unknown)}")
    return {
        name: frames[name][[c for c in known[name].columns if c in frames[name].columns]]
        for name in frames
    }


def _register_hash(conn: psycopg.Connection) -> str:
    """Hash of the synthetic register rows, without the columns the database maintains."""
    parts = [
        sql.SQL(
            "SELECT coalesce(string_agg(md5((to_jsonb(t) - {bk})::text), '' ORDER BY t.id), '') "
            "FROM {table} t WHERE t.synthetic"
        ).format(
            bk=sql.SQL("ARRAY[{}]::text[]").format(
                sql.SQL(", ").join(map(sql.Literal, BOOKKEEPING))
            ),
            table=sql.Identifier("register", c.table),
        )
        for c in classes().values()
    ]
    row = conn.execute(
        sql.SQL("SELECT md5(({}) || {})").format(
            sql.SQL(" || ").join(sql.SQL("({})").format(p) for p in parts),
            sql.SQL("({})").format(sql.SQL(sql_text("synth_content_hash"))),
        )
    ).fetchone()
    return str(row[0]) if row else ""


def content_hash(url: str | None = None) -> str:
    """Content hash of the synthetic city now in the database."""
    with connect(url) as conn:
        return _register_hash(conn)


def _write(ctx: SynthContext, frames: dict[str, pd.DataFrame], url: str | None) -> SynthReport:
    register = register_frames(frames)
    counts = {t: len(frames[t]) for t in TWIN_TABLES if t in frames}
    try:
        with connect(url) as conn, conn.transaction():
            conn.execute(sql_text("load_lock"))
            conn.execute(
                "SELECT set_config('twin.user', %s, true), set_config('twin.reason', %s, true)",
                (f"twin synth --seed {ctx.seed}", "synthetic city"),
            )
            conn.execute(sql_text("synth_clear"))
            for table in TWIN_TABLES:
                if table in frames:
                    copy_rows(conn, sql.Identifier("twin", table), frames[table])
            for name, asset_class in classes().items():
                frame = register.get(name, pd.DataFrame({"id": pd.Series([], dtype=str)}))
                bulk.stage(conn, asset_class, frame)
                bulk.merge(
                    conn, asset_class, list(frame.columns), sql.SQL("t.synthetic"), delete=True
                )
                if len(frame):
                    counts[name] = len(frame)
            content_hash = _register_hash(conn)
            _register(conn, ctx, counts, content_hash)
            conn.execute(
                sql_text("synth_record_run"),
                {"seed": ctx.seed, "scale": ctx.scale, "hash": content_hash,
                 "counts": json.dumps(counts)},
            )  # fmt: skip
    except psycopg.Error as exc:
        raise DatabaseError(
            f"writing the synthetic city failed and was rolled back ({exception_reason(exc)}); "
            "the previous synthetic city is unchanged"
        ) from exc
    return SynthReport(seed=ctx.seed, scale=ctx.scale, content_hash=content_hash, counts=counts)
