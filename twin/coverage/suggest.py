"""Ranked suggestions for new sites: greedy maximal coverage over places the city can offer.

Candidates are the existing masts, the roofs of municipal buildings and the street-light
poles (at most one per ``candidate_spacing_m`` square, see ``model.toml``), each an omni site
of the technology's default band (or ``band``) at its own height. PostGIS gives every
(candidate, uncovered populated cell in the municipality) pair a candidate would cover; the
greedy step then repeatedly takes the candidate with the largest population not yet covered
(ties: masts, then roofs, then poles, then by id), which is the classic (1 - 1/e)
approximation of maximal coverage. The first suggestion is therefore the best single site.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely

from twin._errors import ConfigError
from twin.coverage import _data
from twin.coverage.gaps import DRIVERS
from twin.coverage.model import DISPLAY_SRID, Model, check_tech, emitters, load_model, to_lonlat
from twin.coverage.report import line_of_sight, measure_in, terrain_for


@dataclass(frozen=True)
class Suggestion:
    """One suggested site: where, what it is, and what it adds in the greedy order.

    ``marginal_gain`` is the municipality's population it covers beyond today's coverage and
    the suggestions ranked before it; ``cumulative_covered`` and ``cumulative_share`` are the
    city's covered population and share with it and all before it.
    """

    rank: int
    candidate_id: str
    kind: str
    lon: float
    lat: float
    height_m: float
    band: str
    range_m: float
    marginal_gain: int
    cumulative_covered: int
    cumulative_share: float

    def as_dict(self) -> dict[str, Any]:
        """Return the suggestion as a JSON-ready dict."""
        return asdict(self)


def candidates(url: str | None = None, *, model: Model | None = None) -> pd.DataFrame:
    """Return the candidate places (``candidate_id``, ``kind``, ``x``, ``y``, ``height_m``)."""
    model = model or load_model()
    with _data.reading(url) as conn:
        return _candidates(conn, model)


def _candidates(conn: psycopg.Connection, model: Model) -> pd.DataFrame:
    spec = model.suggest
    return _data.query(conn, "coverage_candidates", {
        "spacing": spec.candidate_spacing_m, "default_height": model.radio.default_height_m,
        "roof_height": spec.default_roof_height_m, "roof_mast": spec.roof_mast_m,
        "pole_height": spec.default_pole_height_m,
    })  # fmt: skip


def greedy(
    pairs_candidate: np.ndarray, pairs_unit: np.ndarray, weights: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pick up to ``n`` candidates greedily by the weight of the units they newly cover.

    Parameters
    ----------
    pairs_candidate, pairs_unit
        One entry per (candidate, unit) pair the candidate covers (integer positions).
    weights
        Weight of each unit (its population).
    n
        How many to pick.

    Returns
    -------
    tuple of numpy.ndarray
        The chosen candidate positions and their marginal gains, in order; it stops early
        when no candidate adds anything. Ties go to the lowest candidate position.
    """
    n_candidates = int(pairs_candidate.max(initial=-1)) + 1
    alive = np.ones(len(pairs_candidate), dtype=bool)
    done = np.zeros(len(weights), dtype=bool)
    chosen: list[int] = []
    gains: list[float] = []
    for _ in range(n):
        gain = np.bincount(pairs_candidate[alive], weights=weights[pairs_unit[alive]],
                           minlength=n_candidates)  # fmt: skip
        if gain.size == 0 or gain.max() <= 0:
            break
        best = int(np.argmax(gain))
        chosen.append(best)
        gains.append(float(gain[best]))
        done[pairs_unit[pairs_candidate == best]] = True
        alive &= ~done[pairs_unit]
    return np.asarray(chosen, dtype=int), np.asarray(gains)


def suggest(
    n: int,
    tech: str = "5g",
    url: str | None = None,
    *,
    band: str | None = None,
    model: Model | None = None,
    dem: Path | None = None,
) -> list[Suggestion]:
    """Return up to ``n`` ranked sites that add the most covered population, greedily.

    Parameters
    ----------
    n
        How many suggestions (fewer come back when no candidate adds anybody).
    tech
        A mobile technology of the model (``'5g'``, ``'4g'``).
    url
        libpq URL; the twin's database by default.
    band
        Band code of the new sites; the technology's default band when ``None``.
    model
        The model parameters; ``twin/coverage/model.toml`` by default.
    dem
        DEM for the line-of-sight mask (only when the model switches it on).

    Returns
    -------
    list of Suggestion
        Ranked by the greedy order: each one's marginal gain is at least the next one's.

    Raises
    ------
    ConfigError
        When ``n`` is not positive, or the technology or band is not a mobile one.
    """
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    model = model or load_model()
    tech = check_tech(tech, model)
    if tech not in model.technologies:
        raise ConfigError(f"suggestions place mobile sites: use one of "
                          f"{', '.join(model.technologies)}, not {tech}")  # fmt: skip
    code = band or model.technologies[tech].default_band
    spec = model.band(code, tech)
    terrain = terrain_for(model, dem)
    with _data.reading(url) as conn:
        coverage = measure_in(conn, tech, model, terrain)
        cands = _candidates(conn, model)
        people = coverage.people
        open_people = people[~people["covered"] & people["in_city"]].reset_index(drop=True)
        sites = pd.DataFrame(
            {"site_id": cands["candidate_id"], "operator": "candidate",
             "technologies": model.technologies[tech].site_technology, "bands": spec.label,
             "azimuths_deg": "", "antenna_height_m": cands["height_m"],
             "x": cands["x"], "y": cands["y"]}
        )  # fmt: skip
        em = emitters(sites, tech, model)
        pairs = _data.cells_pairs(conn, em, open_people["unit_id"].to_numpy())
    if terrain is not None:
        pairs = pairs[line_of_sight(pairs, em, people, model, terrain)]
    unit = pd.Index(open_people["unit_id"]).get_indexer(pairs["unit_id"])
    weights = open_people["population"].to_numpy(dtype=float)
    chosen, gains = greedy(pairs["emitter"].to_numpy(dtype=int), unit, weights, n)
    city = people[people["in_city"]]
    total = int(city["population"].sum())
    start = int(city.loc[city["covered"], "population"].sum())
    cumulative = start + np.cumsum(gains).astype("int64")
    lon, lat = to_lonlat(em["x"].to_numpy()[chosen], em["y"].to_numpy()[chosen])
    picked = cands.iloc[chosen].reset_index(drop=True)
    return [
        Suggestion(
            rank=i + 1,
            candidate_id=str(picked["candidate_id"].iloc[i]),
            kind=str(picked["kind"].iloc[i]),
            lon=round(float(lon[i]), 6),
            lat=round(float(lat[i]), 6),
            height_m=round(float(picked["height_m"].iloc[i]), 1),
            band=code,
            range_m=round(float(em["range_m"].iloc[chosen[i]]), 1),
            marginal_gain=int(gains[i]),
            cumulative_covered=int(cumulative[i]),
            cumulative_share=float(cumulative[i] / total) if total else 0.0,
        )
        for i in range(len(chosen))
    ]


def suggestion_frame(ranked: list[Suggestion]) -> gpd.GeoDataFrame:
    """Return suggestions as points (EPSG:4326), one row per suggestion in rank order."""
    frame = pd.DataFrame([s.as_dict() for s in ranked], columns=list(Suggestion.__annotations__))
    points = shapely.points(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float))
    return gpd.GeoDataFrame(frame, geometry=points, crs=DISPLAY_SRID)


def export_suggestions(ranked: list[Suggestion], path: Path) -> None:
    """Write suggestions to a GeoPackage, GeoJSON or CSV file (by extension).

    Raises
    ------
    ConfigError
        When the extension is not ``.gpkg``, ``.geojson``, ``.json`` or ``.csv``.
    """
    suffix = path.suffix.lower()
    frame = suggestion_frame(ranked)
    if suffix == ".csv":
        frame.drop(columns="geometry").to_csv(path, index=False)
    elif suffix in DRIVERS:
        frame.to_file(path, driver=DRIVERS[suffix], layer="coverage_suggestions")
    else:
        raise ConfigError(f"{path}: write suggestions as .gpkg, .geojson, .json or .csv")


__all__ = ["Suggestion", "candidates", "export_suggestions", "greedy", "suggest"]
