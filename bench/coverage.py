"""Workload: the coverage report and one what-if in PostGIS, geopandas and dask-geopandas."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import dask_geopandas
import numpy as np
import pandas as pd
from distributed import Client
from pyproj import Transformer

from bench._harness import Context, Result, Timing, measure
from twin._errors import SetupError
from twin.coverage import CoverageResult, Site, load_model, report, whatif
from twin.coverage.distributed import covered_dask, local_cluster, measure_dask
from twin.coverage.frame import Inputs, coverage_of, covered_people, measure_frame, read_inputs
from twin.coverage.model import STORAGE_SRID, Model, check_tech, emitters
from twin.coverage.report import districts, summarise, terrain_for, totals
from twin.coverage.report import measure as measure_postgis
from twin.load.maribor import load
from twin.synth.city import synthesize

NAME = "coverage"
SEED = 1
LARGE_SCALE = 10
#: Timed runs per side at scale 10 at most.
LARGE_REPEAT = 2
#: The report's technologies (the strategy's two, as ``twin coverage report``).
TECHS = ("gigabit", "5g")
#: Workers of the dask LocalCluster (one thread each: the machine's two cores).
WORKERS = 2
MEASURES = (
    "The population-weighted coverage of the synthetic city (`twin synth --seed 1`, real "
    "Maribor layers loaded first) at scale 1 and at scale 10 (the city tiled ten times; the "
    "copies lie outside the municipality, so the city's figures stay and the people to test "
    "grow tenfold), set up untimed, `ANALYZE` after each synth. Full report: gigabit and 5G, "
    "covered and total population for the city and the 17 districts, as `twin coverage "
    "report`. Ours: `twin.coverage.report(url=…)` in-process: the people, sites and "
    "districts read from PostGIS, the covered cells and buildings found there (emitters "
    "staged in a temporary table, `ST_DWithin` on the GiST indexes, bearing tests in SQL), "
    "the sums in pandas. Baseline 1, geopandas (`twin.coverage.frame`): the same inputs read "
    "into memory, the emitter and drop-distance tests with shapely STRtrees and numpy, the "
    "same sums. Baseline 2, dask-geopandas (`twin.coverage.distributed`): the inputs read as "
    f"for geopandas, the people split into partitions (two per worker) and flagged on a "
    f"`dask.distributed` LocalCluster of {WORKERS} worker processes with one thread each, "
    "started once before the runs (its start-up is not in the times; the notes give it), "
    "the shared inputs scattered to the workers in every run. What-if: one 5G site (default "
    "band, height and omni antenna) at the centre of the most populated uncovered 100 m cell "
    "of the city at scale 1 (chosen untimed; the same site at scale 10). Ours: "
    "`twin.coverage.whatif(site, url)`: today's coverage and the site's own cells in PostGIS, "
    "before/after per scope. Baselines: today's coverage as in their report, and the site's "
    "cells with the same function on the site's emitters alone (geopandas in-process, dask "
    "on the cluster), then the same before/after sums. Each side runs `TWIN_BENCH_REPEAT` "
    f"times at scale 1 and at most {LARGE_REPEAT} times at scale 10, after one untimed "
    "warm-up of every side at scale 1, the sides interleaved run by run (PostGIS, geopandas, "
    "dask) so that other load on the machine falls on all of them. Checked: the three sides "
    "give the same covered and total population for every technology and scope, and the "
    "same before/after figures for the what-if, which covers people nobody covered before."
)

Figures = dict[tuple[str, str], tuple[int, int]]


def _report_figures(results: list[CoverageResult]) -> Figures:
    return {(r.tech, r.scope): (r.population, r.covered_population) for r in results}


def _report_postgis(url: str) -> Figures:
    return _report_figures(report(list(TECHS), url))


def _report_frame(url: str) -> Figures:
    scopes = districts(url)
    return _report_figures(
        [r for tech in TECHS for r in summarise(measure_frame(tech, url), scopes)]
    )


def _report_dask(url: str, client: Client) -> Figures:
    scopes = districts(url)
    return _report_figures(
        [r for tech in TECHS for r in summarise(measure_dask(tech, url, client=client), scopes)]
    )


def _whatif_postgis(site: Site, url: str) -> Figures:
    result = whatif(site, url)
    return {("5g", c.scope): (c.covered_before, c.covered_after) for c in result.results}


def _site_inputs(site: Site, url: str, model: Model) -> tuple[Inputs, Inputs]:
    """Return today's inputs and the inputs of the site's emitters alone (no polygons)."""
    tech = check_tech(site.tech, model)
    inputs = read_inputs(tech, url, model=model)
    alone = replace(
        inputs, emitters=emitters(site.frame(model), tech, model), polygons=inputs.polygons[:0]
    )
    return inputs, alone


def _changes(inputs: Inputs, today: pd.DataFrame, reached: np.ndarray, url: str) -> Figures:
    """Before/after covered population per scope, as ``twin.coverage.whatif`` sums them."""
    people = coverage_of(inputs, today).people
    people["after"] = people["covered"].to_numpy(bool) | reached
    scopes = districts(url)
    before, after = totals(people, scopes), totals(people, scopes, flag="after")
    return {
        ("5g", str(scope)): (int(b), int(a))
        for scope, b, a in zip(before["scope"], before["covered"], after["covered"], strict=True)
    }


def _whatif_frame(site: Site, url: str) -> Figures:
    model = load_model()
    inputs, alone = _site_inputs(site, url, model)
    terrain = terrain_for(model)
    flags = [
        covered_people(i.people, i.tech, i.emitters, i.polygons, i.network, model, terrain)
        for i in (inputs, alone)
    ]
    return _changes(inputs, flags[0], flags[1]["by_model"].to_numpy(bool), url)


def _whatif_dask(site: Site, url: str, client: Client) -> Figures:
    model = load_model()
    inputs, alone = _site_inputs(site, url, model)
    terrain = terrain_for(model)
    parts = dask_geopandas.from_geopandas(inputs.people, npartitions=2 * WORKERS)
    today = covered_dask(parts, inputs, client, model, terrain).reset_index(drop=True)
    reached = covered_dask(parts, alone, client, model, terrain)["by_model"].to_numpy(bool)
    return _changes(inputs, today, reached, url)


def _gap_site(url: str) -> Site:
    """Return a 5G site at the most populated uncovered grid cell of the city."""
    people = measure_postgis("5g", url).people
    open_cells = people[~people["covered"] & people["in_city"]]
    if open_cells.empty:
        raise SetupError("every populated cell of the city is covered by 5G; no what-if gap")
    best = open_cells.sort_values(["population", "unit_id"], ascending=[False, True]).iloc[0]
    to_wgs84 = Transformer.from_crs(STORAGE_SRID, 4326, always_xy=True)
    lon, lat = to_wgs84.transform(float(best["x"]), float(best["y"]))
    return Site(float(lon), float(lat), "5g")


def _same(ours: Figures, other: Figures, what: str) -> None:
    if other != ours:
        differ = sorted(k for k in ours.keys() | other.keys() if ours.get(k) != other.get(k))
        key = differ[0]
        raise SetupError(
            f"{what} disagrees with PostGIS on {key}: {other.get(key)} vs {ours.get(key)}"
        )


Side = tuple[str, Callable[[], Figures]]


def _interleaved(ctx: Context, label: str, sides: list[Side], runs: int) -> dict[str, list[float]]:
    """Run every side ``runs`` times, interleaved; check they agree; return their seconds."""
    seconds: dict[str, list[float]] = {name: [] for name, _ in sides}
    found: dict[str, Figures] = {}
    for i in range(runs):
        for name, action in sides:
            took, found[name] = measure(action)
            seconds[name].append(took)
            ctx.log(f"{NAME}: {label} {name} run {i + 1}/{runs}: {took:.2f} s")
    ours = found[sides[0][0]]
    for name, _ in sides[1:]:
        _same(ours, found[name], f"{label}: {name}")
    return seconds


def _counts(ctx: Context) -> tuple[int, int, int]:
    """Populated cells, inhabited buildings and active 5G-capable mobile sites."""
    with ctx.database.connect() as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM twin.population_grid WHERE population > 0), "
            "(SELECT count(*) FROM register.building WHERE population > 0 "
            "AND state NOT IN ('planned', 'retired')), "
            "(SELECT count(*) FROM register.mobile_site WHERE state = 'active')"
        ).fetchone()
    return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)


def _results(
    scale: int,
    report_s: dict[str, list[float]],
    whatif_s: dict[str, list[float]],
    notes: tuple[str, str],
) -> list[Result]:
    label = f"{NAME}: scale {scale}" + (
        " (whole city)" if scale == 1 else f" (city tiled {scale} times)"
    )
    frame_name = "geopandas (twin.coverage.frame)"
    dask_name = f"dask-geopandas, LocalCluster {WORKERS} x 1 thread (twin.coverage.distributed)"
    out = []
    for what, seconds, note in (
        ("full report (gigabit + 5G, city + 17 districts)", report_s, notes[0]),
        ("one what-if 5G site", whatif_s, notes[1]),
    ):
        ours = Timing(tuple(seconds["postgis"]))
        out += [
            Result(f"{label}, {what}, PostGIS vs geopandas", ours, frame_name,
                   Timing(tuple(seconds["geopandas"])), note),
            Result(f"{label}, {what}, PostGIS vs dask", ours, dask_name,
                   Timing(tuple(seconds["dask"])), note),
        ]  # fmt: skip
    return out


def _case(
    ctx: Context, scale: int, runs: int, site: Site, cluster: tuple[Client, float]
) -> list[Result]:
    url = ctx.database.url
    client, started = cluster
    cells, buildings, sites = _counts(ctx)
    load_note = (
        f"load average {os.getloadavg()[0]:.1f} at the start; the dask cluster took "
        f"{started:.1f} s to start (not in the times)"
    )
    report_s = _interleaved(ctx, f"scale {scale} report", [
        ("postgis", lambda: _report_postgis(url)),
        ("geopandas", lambda: _report_frame(url)),
        ("dask", lambda: _report_dask(url, client)),
    ], runs)  # fmt: skip
    whatif_s = _interleaved(ctx, f"scale {scale} what-if", [
        ("postgis", lambda: _whatif_postgis(site, url)),
        ("geopandas", lambda: _whatif_frame(site, url)),
        ("dask", lambda: _whatif_dask(site, url, client)),
    ], runs)  # fmt: skip
    gained = _whatif_postgis(site, url)[("5g", "city")]
    people = (
        f"{cells:,} populated cells, {buildings:,} inhabited buildings, {sites:,} active "
        f"mobile sites; {runs} timed run(s) per side, interleaved; {load_note}"
    )
    return _results(scale, report_s, whatif_s, (
        f"{people}. Equal covered and total population on all three sides, every "
        "technology and scope (checked)",
        f"site at {site.lon:.5f}, {site.lat:.5f} (default band, omni): city covered "
        f"{gained[0]:,} → {gained[1]:,} people. {people}. Equal before/after figures on "
        "all three sides, every scope (checked)",
    ))  # fmt: skip


def run(ctx: Context) -> list[Result]:
    """Time the coverage report and one what-if at scale 1 and 10 on the three paths.

    Parameters
    ----------
    ctx
        The throwaway database, the data directory and the repetition counts.

    Returns
    -------
    list of Result
        Per scale, the report and the what-if, PostGIS against geopandas and against dask.

    Raises
    ------
    SetupError
        When a side disagrees with PostGIS, or the city has no uncovered cell to try.
    """
    url = ctx.database.url
    ctx.log(f"{NAME}: loading Maribor and the synthetic city (untimed)")
    ctx.database.reset_twin()
    load(ctx.data_dir, url=url)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="twin-bench-coverage-") as rasters:
        synthesize(seed=SEED, scale=1, url=url, raster_dir=Path(rasters))
        _analyze(ctx)
        site = _gap_site(url)
        with ExitStack() as stack:
            started, client = measure(lambda: stack.enter_context(local_cluster(workers=WORKERS)))
            ctx.log(f"{NAME}: dask LocalCluster up in {started:.2f} s")
            for _ in range(ctx.warmup):
                _report_postgis(url), _report_frame(url), _report_dask(url, client)
                _whatif_postgis(site, url), _whatif_frame(site, url)
                _whatif_dask(site, url, client)
            results += _case(ctx, 1, ctx.repeat, site, (client, started))
            ctx.log(f"{NAME}: synthesising the city at scale {LARGE_SCALE} (untimed)")
            synthesize(seed=SEED, scale=LARGE_SCALE, url=url, raster_dir=Path(rasters))
            _analyze(ctx)
            large = min(ctx.repeat, LARGE_REPEAT)
            results += _case(ctx, LARGE_SCALE, large, site, (client, started))
    return results


def _analyze(ctx: Context) -> None:
    """Give the planner statistics of the fresh tables (autovacuum would, a little later)."""
    with ctx.database.connect() as conn:
        conn.execute("ANALYZE")
