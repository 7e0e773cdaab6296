"""Workload: the full KPI set in PostGIS against the geopandas oracle and a naive per-row loop."""

from __future__ import annotations

import importlib.util
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from bench._harness import Context, Result, Timing, measure
from twin._errors import SetupError
from twin.kpi import compute, load_catalog
from twin.load.maribor import load
from twin.synth.city import synthesize

NAME = "kpi"
MEASURES = (
    "Every KPI of the catalog (16 computed for the city and 17 districts, 18 entered) on the "
    "synthetic city at scale 1 (`twin synth --seed 1`, real Maribor layers loaded first) and "
    "at scale 10 (the city tiled ten times; the copies lie outside the municipality, so the "
    "figures stay, the rows to read grow tenfold), all set up untimed. Ours: "
    "`twin.kpi.compute(url)` in-process: the calculators' SQL in PostGIS (EPSG:3794), the "
    "walking graph's shortest paths in numpy, the coverage KPIs from `twin.coverage.report`. "
    "Baseline 1, the tests' oracle (`tests/kpi_oracle.py`): the raw tables read with "
    "`geopandas.read_postgis`, placement with vectorised shapely predicates, polygons clipped "
    "per scope, the walking graph noded with `shapely.node` and a heapq Dijkstra from the "
    "stops, coverage from `twin.coverage.frame`. Baseline 2, naive (`bench/_kpi_naive.py`): "
    "rows read with psycopg and handled one by one in Python, each tested against the "
    "municipality and every district with shapely's scalar predicates, one Dijkstra per "
    "inhabited building near a stop (nearest street and stop from an STRtree, row by row), "
    "coverage as the oracle. `ANALYZE` after each synth (untimed; autovacuum would do it a "
    "little later). Each side runs `TWIN_BENCH_REPEAT` times at scale 1 (naive at most 2) and "
    "at most 2 times at scale 10 (naive once), after one warm-up at scale 1, the sides "
    "interleaved run by run so that other load on the machine falls on all of them. Checked: "
    "the three sides give the same value for every KPI and scope."
)

ROOT = Path(__file__).resolve().parent.parent
SEED = 1
LARGE_SCALE = 10
Values = dict[tuple[str, str], float | None]
#: Timed runs at most: naive at scale 1, any side at scale 10, naive at scale 10.
NAIVE_REPEAT, LARGE_REPEAT, LARGE_NAIVE_REPEAT = 2, 2, 1


def _load_module(name: str, path: Path) -> ModuleType:
    """Import a module from a file (the oracle lives with the tests)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SetupError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _ours(url: str) -> dict[tuple[str, str], float | None]:
    return {(r.id, r.scope): r.value for r in compute(url)}


def _oracle(oracle: ModuleType, url: str) -> dict[tuple[str, str], float | None]:
    found = oracle.Oracle(url).compute_all()
    return {(k, s): f["value"] for k, scopes in found.items() for s, f in scopes.items()}


def _naive(naive: ModuleType, url: str) -> dict[tuple[str, str], float | None]:
    found = naive.Naive(url).compute_all()
    return {(k, s): v for k, scopes in found.items() for s, v in scopes.items()}


def _same(a: dict[tuple[str, str], Any], b: dict[tuple[str, str], Any], what: str) -> None:
    for key, value in a.items():
        other = b.get(key)
        equal = (value is None and other is None) or (
            value is not None
            and other is not None
            and math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-9)
        )
        if not equal:
            raise SetupError(f"{what} disagrees with ours on {key}: {other} vs {value}")


def _case(
    ctx: Context, scale: int, runs: tuple[int, int], modules: tuple[ModuleType, ModuleType]
) -> list[Result]:
    """Time the three sides at one scale, interleaved run by run (ours, oracle, naive)."""
    oracle, naive = modules
    url = ctx.database.url
    repeat, naive_repeat = runs
    sides: dict[str, tuple[Callable[[], Values], int]] = {
        "ours": (lambda: _ours(url), repeat),
        "oracle": (lambda: _oracle(oracle, url), repeat),
        "naive": (lambda: _naive(naive, url), naive_repeat),
    }
    seconds: dict[str, list[float]] = {side: [] for side in sides}
    values: dict[str, Values] = {}
    for i in range(repeat):
        for side, (action, runs_wanted) in sides.items():
            if i < runs_wanted:
                took, values[side] = measure(action)
                seconds[side].append(took)
                ctx.log(f"{NAME}: scale {scale} {side} run {i + 1}/{runs_wanted}: {took:.2f} s")
    _same(values["ours"], values["oracle"], "the geopandas oracle")
    _same(values["ours"], values["naive"], "the naive loop")
    computed = sum(1 for k in load_catalog().kpi if k.spatial)
    note = (
        f"{len(values['ours'])} results ({computed} KPIs x 18 scopes + the entered ones), equal "
        f"on all three sides. Rows in the tables: {_counts(ctx)}. Runs interleaved (ours, "
        f"oracle, naive); ours {len(seconds['ours'])} timed run(s), oracle "
        f"{len(seconds['oracle'])}, naive {len(seconds['naive'])}"
    )
    ours = Timing(tuple(seconds["ours"]))
    label = f"{NAME}: scale {scale}" + (
        " (whole city)" if scale == 1 else f" (city tiled {scale} times)"
    )
    return [
        Result(f"{label}, ours vs geopandas oracle", ours, "geopandas oracle (tests/kpi_oracle.py)",
               Timing(tuple(seconds["oracle"])), note),
        Result(f"{label}, ours vs naive per-row", ours, "naive per-row loop (bench/_kpi_naive.py)",
               Timing(tuple(seconds["naive"])), note),
    ]  # fmt: skip


def _analyze(ctx: Context) -> None:
    """Give the planner statistics of the fresh tables (autovacuum would, a little later)."""
    with ctx.database.connect() as conn:
        conn.execute("ANALYZE")


def _counts(ctx: Context) -> str:
    tables = ("street_light", "building", "sensor", "parking_lot", "waste_container")
    with ctx.database.connect() as conn:
        parts = []
        for table in tables:
            row = conn.execute(f"SELECT count(*) FROM register.{table}").fetchone()
            parts.append(f"{table} {int(row[0]) if row else 0}")
        row = conn.execute("SELECT count(*) FROM twin.population_grid").fetchone()
        parts.append(f"population_grid {int(row[0]) if row else 0}")
    return ", ".join(parts)


def run(ctx: Context) -> list[Result]:
    """Time the full KPI set at scale 1 and 10: ours, the oracle and the naive loop.

    Parameters
    ----------
    ctx
        The throwaway database, the data directory and the repetition counts.

    Returns
    -------
    list of Result
        Per scale, ours against the oracle and ours against the naive loop.

    Raises
    ------
    SetupError
        When a side disagrees with ours on any value.
    """
    sys.path.insert(0, str(ROOT / "tests"))  # the naive loop borrows the oracle's graph
    oracle = _load_module("kpi_oracle", ROOT / "tests" / "kpi_oracle.py")
    naive = _load_module("bench._kpi_naive", ROOT / "bench" / "_kpi_naive.py")
    url = ctx.database.url
    ctx.log(f"{NAME}: loading Maribor and the synthetic city (untimed)")
    ctx.database.reset_twin()
    load(ctx.data_dir, url=url)
    results = []
    with tempfile.TemporaryDirectory(prefix="twin-bench-kpi-") as rasters:
        synthesize(seed=SEED, scale=1, url=url, raster_dir=Path(rasters))
        _analyze(ctx)
        for _ in range(ctx.warmup):
            _ours(url), _oracle(oracle, url), _naive(naive, url)
        results += _case(ctx, 1, (ctx.repeat, min(ctx.repeat, NAIVE_REPEAT)), (oracle, naive))
        ctx.log(f"{NAME}: synthesising the city at scale {LARGE_SCALE} (untimed)")
        synthesize(seed=SEED, scale=LARGE_SCALE, url=url, raster_dir=Path(rasters))
        _analyze(ctx)
        large = (min(ctx.repeat, LARGE_REPEAT), min(ctx.repeat, LARGE_NAIVE_REPEAT))
        results += _case(ctx, LARGE_SCALE, large, (oracle, naive))
    return results
