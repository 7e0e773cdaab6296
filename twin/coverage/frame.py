"""The coverage computation in geopandas/shapely: the same model, outside the database.

:func:`covered_people` is a pure function of a partition of people and the (small) shared
inputs, so the dask path (:mod:`twin.coverage.distributed`) maps it over partitions. It
uses the same arithmetic as the SQL (distance and bearing from the centroid offset), so the
PostGIS, geopandas and dask paths agree person by person.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from twin.coverage import _data
from twin.coverage.model import STORAGE_SRID, Model, check_tech, emitters, load_model
from twin.coverage.report import Coverage, Method, terrain_for
from twin.coverage.terrain import Terrain, visible

#: Tolerance added to the tree query so that float rounding never drops a pair the exact test keeps.
_SLACK_M = 1e-6


@dataclass
class Inputs:
    """Everything the coverage of one technology needs, read once (EPSG:3794).

    ``people`` is the people frame with a geometry (centroid points for grid cells,
    footprints for buildings); ``emitters`` the modelled emitters (operators with polygons
    removed); ``polygons`` the operator polygons of the technology; ``network`` the fiber
    access network of the operators still modelled (gigabit only).
    """

    tech: str
    people: gpd.GeoDataFrame
    emitters: pd.DataFrame
    polygons: gpd.GeoDataFrame
    network: gpd.GeoDataFrame
    replaced: tuple[str, ...]
    method: Method


def _geoframe(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    shapes = gpd.GeoSeries.from_wkb(frame["geometry"].map(bytes), crs=STORAGE_SRID)
    return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=shapes)


def read_inputs(tech: str, url: str | None = None, *, model: Model | None = None) -> Inputs:
    """Read the inputs of ``tech`` from PostGIS into memory.

    Raises
    ------
    ConfigError
        When the technology is unknown.
    DatabaseError
        When the database cannot be reached or holds no population.
    """
    model = model or load_model()
    tech = check_tech(tech, model)
    polygon_techs = list(model.operator_technologies.get(tech, ()))
    with _data.reading(url) as conn:
        replaced = _data.polygon_operators(conn, tuple(polygon_techs)) if polygon_techs else []
        polygons = _geoframe(_data.query(conn, "coverage_polygons",
                                         {"technologies": polygon_techs}))  # fmt: skip
        empty = _geoframe(pd.DataFrame({"operator": [], "geometry": []}))
        if tech == "gigabit":
            people = _data.people(conn, "buildings")
            shapes = _data.query(conn, "coverage_building_shapes")
            footprints = gpd.GeoSeries.from_wkb(shapes["geometry"].map(bytes), crs=STORAGE_SRID)
            if not shapes["unit_id"].equals(people["unit_id"]):
                raise RuntimeError("buildings changed while they were read; run it again")
            network = _geoframe(_data.query(conn, "coverage_network", {
                "node_kinds": list(model.gigabit.node_kinds),
                "segment_kinds": list(model.gigabit.segment_kinds),
            }))  # fmt: skip
            network = network[~network["operator"].isin(replaced)].reset_index(drop=True)
            geometry, kept = footprints.to_numpy(), _data.empty_emitters()
            method: Method = "mixed" if replaced else "model"
        else:
            people = _data.people(conn, "cells")
            every = emitters(_data.sites(conn), tech, model)
            kept = every[~every["operator"].isin(replaced)].reset_index(drop=True)
            geometry, network = shapely.points(people["x"], people["y"]), empty
            method = "model" if not replaced else "mixed" if not kept.empty else "operator"
    frame = gpd.GeoDataFrame(people, geometry=geometry, crs=STORAGE_SRID)
    return Inputs(tech, frame, kept, polygons, network, tuple(replaced), method)


def emitter_pairs(
    x: np.ndarray, y: np.ndarray, emitter_frame: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Return every (emitter, person) pair where the emitter covers the person's point.

    Parameters
    ----------
    x, y
        EPSG:3794 coordinates of the people (cell or building centroids).
    emitter_frame
        Emitters (see :func:`twin.coverage.model.emitters`).

    Returns
    -------
    tuple of numpy.ndarray
        Emitter positions and person positions of the covering pairs.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if emitter_frame.empty or x.size == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    ex, ey = emitter_frame["x"].to_numpy(float), emitter_frame["y"].to_numpy(float)
    reach = emitter_frame["range_m"].to_numpy(float)
    tree = shapely.STRtree(shapely.points(x, y))
    e_idx, p_idx = tree.query(
        shapely.points(ex, ey), predicate="dwithin", distance=reach + _SLACK_M
    )
    dx, dy = x[p_idx] - ex[e_idx], y[p_idx] - ey[e_idx]
    d = np.sqrt(dx * dx + dy * dy)
    bearing = np.degrees(np.arctan2(dx, dy))
    text = emitter_frame["azimuths"].astype("string").fillna("")
    az = text.str.split(";", expand=True).apply(pd.to_numeric, errors="coerce").to_numpy(float)
    omni = np.isnan(az).all(axis=1)
    diff = bearing[:, None] - az[e_idx]
    with np.errstate(invalid="ignore"):
        angle = np.abs(diff - 360.0 * np.round(diff / 360.0))
        half = emitter_frame["beam_deg"].to_numpy(float)[e_idx, None] / 2
        in_beam = (angle <= half).any(axis=1)
    near = emitter_frame["near_m"].to_numpy(float)[e_idx]
    keep = (d <= reach[e_idx]) & (omni[e_idx] | (d <= near) | in_beam)
    return e_idx[keep], p_idx[keep]


def covered_people(
    people: gpd.GeoDataFrame,
    tech: str,
    emitter_frame: pd.DataFrame,
    polygons: gpd.GeoDataFrame,
    network: gpd.GeoDataFrame,
    model: Model,
    terrain: Terrain | None = None,
) -> pd.DataFrame:
    """Mark each person of a partition as covered by the model and by operator polygons.

    Parameters
    ----------
    people
        People frame with ``x``, ``y`` (centroids) and a geometry (points or footprints).
    tech
        The technology.
    emitter_frame
        The modelled emitters (mobile technologies).
    polygons
        The operator polygons of the technology.
    network
        The fiber access network still modelled (gigabit).
    model
        The model parameters.
    terrain
        The DEM when line of sight is on.

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``by_model``, ``by_operator`` and ``covered``, aligned with ``people``.
    """
    n = len(people)
    x, y = people["x"].to_numpy(float), people["y"].to_numpy(float)
    by_model = np.zeros(n, dtype=bool)
    if tech == "gigabit":
        gig = model.gigabit
        by_model |= people["fiber"].isin(gig.connections).to_numpy(bool)
        if len(network) and n:
            tree = shapely.STRtree(network.geometry.to_numpy())
            hit, _ = tree.query(people.geometry.to_numpy(), predicate="dwithin",
                                distance=gig.drop_distance_m)  # fmt: skip
            by_model[hit] = True
    else:
        e_idx, p_idx = emitter_pairs(x, y, emitter_frame)
        if terrain is not None and len(p_idx):
            seen = visible(
                terrain,
                (
                    emitter_frame["x"].to_numpy(float)[e_idx],
                    emitter_frame["y"].to_numpy(float)[e_idx],
                ),
                emitter_frame["height_m"].to_numpy(float)[e_idx],
                (x[p_idx], y[p_idx]),
                model.radio.receiver_height_m,
                model.radio.los_samples,
            )
            p_idx = p_idx[seen]
        by_model[p_idx] = True
    by_operator = np.zeros(n, dtype=bool)
    if len(polygons) and n:
        hit, _ = shapely.STRtree(polygons.geometry.to_numpy()).query(
            shapely.points(x, y), predicate="intersects"
        )
        by_operator[hit] = True
    return pd.DataFrame(
        {"unit_id": people["unit_id"].to_numpy(), "by_model": by_model,
         "by_operator": by_operator, "covered": by_model | by_operator},
        index=people.index,
    )  # fmt: skip


def measure_frame(
    tech: str,
    url: str | None = None,
    *,
    model: Model | None = None,
    dem: Path | None = None,
) -> Coverage:
    """Do :func:`twin.coverage.report.measure` in geopandas (inputs read from PostGIS).

    Returns
    -------
    Coverage
        As the PostGIS path returns it.
    """
    model = model or load_model()
    inputs = read_inputs(tech, url, model=model)
    flags = covered_people(inputs.people, inputs.tech, inputs.emitters, inputs.polygons,
                           inputs.network, model, terrain_for(model, dem))  # fmt: skip
    return coverage_of(inputs, flags)


def coverage_of(inputs: Inputs, flags: pd.DataFrame) -> Coverage:
    """Return the :class:`Coverage` of ``inputs`` with the flags computed for its people."""
    people = pd.DataFrame(inputs.people.drop(columns=inputs.people.geometry.name))
    for column in ("by_model", "by_operator", "covered"):
        people[column] = flags[column].to_numpy(bool)
    unit = "buildings" if inputs.tech == "gigabit" else "cells"
    return Coverage(inputs.tech, unit, people, inputs.method, inputs.replaced, inputs.emitters)


__all__ = [
    "Inputs",
    "coverage_of",
    "covered_people",
    "emitter_pairs",
    "measure_frame",
    "read_inputs",
]
