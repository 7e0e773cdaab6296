"""Population-weighted coverage in PostGIS: who is covered, per technology, city and district.

:func:`measure` marks every person (population-grid cell for the mobile technologies,
inhabited building for ``gigabit``) as covered or not, by the model and by operator polygons;
:func:`summarise` adds them up per scope; :func:`report` does both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import psycopg

from twin._errors import ConfigError
from twin.coverage import _data
from twin.coverage.model import Model, check_tech, emitters, load_model, technologies
from twin.coverage.terrain import Terrain, load_terrain, visible

Method = Literal["model", "operator", "mixed"]
CITY = "city"


@dataclass(frozen=True)
class CoverageResult:
    """Covered and total population of one technology in one scope.

    ``scope`` is ``'city'`` (everybody in the municipality) or a district's name;
    ``scope_kind`` is ``'city'``, ``'MC'`` or ``'KS'`` and ``district_id`` the district's id
    (``None`` for the city). ``share`` is ``covered_population / population`` (``None`` when
    nobody lives there). ``method`` says what decided coverage: ``'model'`` (no operator
    polygons), ``'operator'`` (operator polygons only) or ``'mixed'``; ``covered_by_operator``
    is the population inside operator polygons. ``synthetic_share`` is the share of the
    population counted that comes from synthetic rows (``None`` when nobody lives there).
    """

    tech: str
    scope: str
    population: int
    covered_population: int
    share: float | None
    method: Method
    scope_kind: str = CITY
    district_id: int | None = None
    covered_by_operator: int = 0
    synthetic_share: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict (``tech``, ``scope``, ``population``, …)."""
        return asdict(self)


@dataclass
class Coverage:
    """Every person of one technology, marked covered or not.

    ``people`` has the columns of the people frame (``unit_id``, ``population``,
    ``synthetic``, ``x``, ``y`` in EPSG:3794, ``district_id``, ``in_city``) and the flags
    ``by_model``, ``by_operator`` and ``covered``; ``unit`` is ``'cells'`` or ``'buildings'``.
    ``replaced`` lists the operators whose polygons replace their modelled coverage and
    ``emitters`` the emitters modelled (mobile technologies only).
    """

    tech: str
    unit: str
    people: pd.DataFrame
    method: Method
    replaced: tuple[str, ...] = ()
    emitters: pd.DataFrame = field(default_factory=_data.empty_emitters)


def terrain_for(model: Model, dem: Path | None = None) -> Terrain | None:
    """Return the DEM when the model switches line of sight on, else ``None``."""
    return load_terrain(dem) if model.radio.line_of_sight else None


def covered_cells(
    conn: psycopg.Connection,
    emitter_frame: pd.DataFrame,
    model: Model,
    terrain: Terrain | None = None,
    people: pd.DataFrame | None = None,
) -> np.ndarray:
    """Return the ids of the populated cells the emitters cover (computed in PostGIS).

    With a ``terrain`` (line of sight on) every (emitter, cell) pair is fetched and masked
    over the DEM; ``people`` must then give the cells' coordinates.
    """
    if terrain is None:
        return _data.cells_covered(conn, emitter_frame)
    pairs = _data.cells_pairs(conn, emitter_frame)
    if people is None:
        raise ValueError("the line-of-sight mask needs the people frame")
    seen = line_of_sight(pairs, emitter_frame, people, model, terrain)
    return np.unique(pairs["unit_id"].to_numpy(dtype="int64")[seen])


def line_of_sight(
    pairs: pd.DataFrame,
    emitter_frame: pd.DataFrame,
    people: pd.DataFrame,
    model: Model,
    terrain: Terrain,
) -> np.ndarray:
    """Return, per (``emitter``, ``unit_id``) pair, whether the unit sees the emitter."""
    if pairs.empty:
        return np.zeros(0, dtype=bool)
    emitter = pairs["emitter"].to_numpy(dtype=int)
    where = pd.Index(people["unit_id"]).get_indexer(pairs["unit_id"])
    return visible(
        terrain,
        (emitter_frame["x"].to_numpy(float)[emitter], emitter_frame["y"].to_numpy(float)[emitter]),
        emitter_frame["height_m"].to_numpy(float)[emitter],
        (people["x"].to_numpy(float)[where], people["y"].to_numpy(float)[where]),
        model.radio.receiver_height_m,
        model.radio.los_samples,
    )


def _method(replaced: list[str], modelled: bool) -> Method:
    if not replaced:
        return "model"
    return "mixed" if modelled else "operator"


def measure(
    tech: str,
    url: str | None = None,
    *,
    model: Model | None = None,
    dem: Path | None = None,
) -> Coverage:
    """Mark everybody as covered by ``tech`` or not, in PostGIS.

    Mobile technologies (``'5g'``, ``'4g'``): a populated grid cell is covered when an
    emitter of an active site covers its centroid (see :mod:`twin.coverage.model`) or an
    operator polygon of the technology holds it; an operator's polygons replace its sites.
    ``'gigabit'``: an inhabited building is covered when it has a gigabit connection, or its
    footprint lies within the drop distance of an active access node or distribution cable,
    or an operator's gigabit/FTTH polygon holds its centroid.

    Parameters
    ----------
    tech
        ``'5g'``, ``'4g'`` or ``'gigabit'``.
    url
        libpq URL; the twin's database by default.
    model
        The model parameters; ``twin/coverage/model.toml`` by default.
    dem
        DEM for the line-of-sight mask (used only when the model switches it on).

    Returns
    -------
    Coverage
        The people with their flags, the method and the replaced operators.

    Raises
    ------
    ConfigError
        When the technology is unknown, or line of sight is on and the DEM is missing.
    DatabaseError
        When the database cannot be reached or holds no population.
    """
    model = model or load_model()
    tech = check_tech(tech, model)
    with _data.reading(url) as conn:
        return measure_in(conn, tech, model, terrain_for(model, dem))


def measure_in(
    conn: psycopg.Connection, tech: str, model: Model, terrain: Terrain | None = None
) -> Coverage:
    """Do :func:`measure` on an open connection (``terrain`` when line of sight is on)."""
    polygon_techs = model.operator_technologies.get(tech, ())
    replaced = _data.polygon_operators(conn, polygon_techs) if polygon_techs else []
    if tech == "gigabit":
        people = _data.people(conn, "buildings")
        gig = model.gigabit
        model_ids = _data.query(conn, "coverage_gigabit_buildings", {
            "connections": list(gig.connections), "node_kinds": list(gig.node_kinds),
            "segment_kinds": list(gig.segment_kinds), "replaced": replaced,
            "drop_m": gig.drop_distance_m,
        })["unit_id"]  # fmt: skip
        polygon_sql, modelled = "coverage_operator_buildings", True
        kept = _data.empty_emitters()
    else:
        people = _data.people(conn, "cells")
        all_emitters = emitters(_data.sites(conn), tech, model)
        kept = all_emitters[~all_emitters["operator"].isin(replaced)].reset_index(drop=True)
        model_ids = pd.Series(covered_cells(conn, kept, model, terrain, people), dtype="int64")
        polygon_sql, modelled = "coverage_operator_cells", not kept.empty
    operator_ids = (
        _data.query(conn, polygon_sql, {"technologies": list(polygon_techs)})["unit_id"]
        if replaced
        else pd.Series([], dtype=object)
    )
    people["by_model"] = people["unit_id"].isin(model_ids).to_numpy()
    people["by_operator"] = people["unit_id"].isin(operator_ids).to_numpy()
    people["covered"] = people["by_model"] | people["by_operator"]
    unit = "buildings" if tech == "gigabit" else "cells"
    return Coverage(tech, unit, people, _method(replaced, modelled), tuple(replaced), kept)


def _share(part: pd.Series | np.ndarray, whole: pd.Series | np.ndarray) -> np.ndarray:
    whole_f = np.asarray(whole, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        result: np.ndarray = np.where(whole_f > 0, np.asarray(part, float) / whole_f, np.nan)
    return result


def totals(people: pd.DataFrame, districts: pd.DataFrame, flag: str = "covered") -> pd.DataFrame:
    """Add up population and ``flag``-ed population for the city and each district.

    Returns
    -------
    pandas.DataFrame
        One row per scope (city first, then the districts in ``districts``' order):
        ``scope``, ``scope_kind``, ``district_id``, ``population``, ``covered``,
        ``by_operator`` (when ``people`` has it) and ``synthetic``, all population counts.
    """
    pop = people["population"].to_numpy(dtype="int64")
    weights = pd.DataFrame(
        {"district_id": people["district_id"], "population": pop,
         "covered": np.where(people[flag].to_numpy(bool), pop, 0),
         "by_operator": np.where(people.get("by_operator", False), pop, 0),
         "synthetic": np.where(people["synthetic"].to_numpy(bool), pop, 0)}
    )  # fmt: skip
    city = weights[people["in_city"].to_numpy(bool)].drop(columns="district_id").sum()
    per = weights.groupby("district_id").sum()
    per = per.reindex(districts["district_id"].astype("int64"), fill_value=0)
    frame = pd.DataFrame(
        {"scope": [CITY, *districts["name"]], "scope_kind": [CITY, *districts["kind"]],
         "district_id": pd.array([None, *districts["district_id"]], dtype="Int64")}
    )  # fmt: skip
    for column in ("population", "covered", "by_operator", "synthetic"):
        frame[column] = np.r_[int(city[column]), per[column].to_numpy(dtype="int64")]
    return frame


def summarise(coverage: Coverage, districts: pd.DataFrame) -> list[CoverageResult]:
    """Return the coverage results of the city and each district (see :class:`CoverageResult`)."""
    frame = totals(coverage.people, districts)
    share = _share(frame["covered"], frame["population"])
    synthetic = _share(frame["synthetic"], frame["population"])
    ids = [None if pd.isna(v) else int(v) for v in frame["district_id"].tolist()]
    counts = frame[["population", "covered", "by_operator"]].to_numpy(dtype="int64").tolist()
    return [
        CoverageResult(
            tech=coverage.tech,
            scope=scope,
            population=population,
            covered_population=covered,
            share=_finite(share[i]),
            method=coverage.method,
            scope_kind=kind,
            district_id=ids[i],
            covered_by_operator=by_operator,
            synthetic_share=_finite(synthetic[i]),
        )
        for i, (scope, kind, (population, covered, by_operator)) in enumerate(
            zip(frame["scope"].astype(str), frame["scope_kind"].astype(str), counts, strict=True)
        )
    ]


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def districts(url: str | None = None) -> pd.DataFrame:
    """Return the districts results are given for (``district_id``, ``name``, ``kind``)."""
    with _data.reading(url) as conn:
        return _data.scopes(conn)


def select_scopes(
    results: list[CoverageResult], scopes: Iterable[str | int] | None
) -> list[CoverageResult]:
    """Keep the results of ``scopes`` (``'city'``, district names or ids); all when ``None``.

    Raises
    ------
    ConfigError
        When a scope is neither ``'city'`` nor a district.
    """
    if scopes is None:
        return results
    wanted = [str(s) for s in scopes]
    known = {r.scope for r in results} | {str(r.district_id) for r in results if r.district_id}
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise ConfigError(
            f"unknown scope(s) {', '.join(unknown)}: use 'city', a district name or its id"
        )
    return [r for r in results if r.scope in wanted or str(r.district_id) in wanted]


def report(
    tech: str | Iterable[str] | None = None,
    url: str | None = None,
    *,
    scopes: Iterable[str | int] | None = None,
    model: Model | None = None,
) -> list[CoverageResult]:
    """Return covered and total population per technology, for the city and each district.

    Parameters
    ----------
    tech
        A technology (``'gigabit'``, ``'5g'``, ``'4g'``) or several; ``gigabit`` and ``5g``
        (the strategy's two) when ``None``.
    url
        libpq URL; the twin's database by default.
    scopes
        ``'city'``, district names or district ids to keep; every scope when ``None``.
    model
        The model parameters; ``twin/coverage/model.toml`` by default.

    Returns
    -------
    list of CoverageResult
        Per technology (in the order asked), the city first, then each district
        (mestne četrti, then krajevne skupnosti, each by name).

    Raises
    ------
    ConfigError
        When a technology or scope is unknown.
    DatabaseError
        When the database cannot be reached or holds no population.
    """
    model = model or load_model()
    techs = ["gigabit", "5g"] if tech is None else [tech] if isinstance(tech, str) else list(tech)
    techs = [check_tech(t, model) for t in techs]
    scope_frame = districts(url)
    results: list[CoverageResult] = []
    for name in techs:
        results += select_scopes(summarise(measure(name, url, model=model), scope_frame), scopes)
    return results


__all__ = [
    "Coverage",
    "CoverageResult",
    "covered_cells",
    "measure",
    "report",
    "summarise",
    "technologies",
    "totals",
]
