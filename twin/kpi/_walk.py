"""Walking distance to the bus stops along the street network.

pgRouting is not part of the twin's PostGIS, so the work is split:

1. **PostGIS** (``kpi_walk_*.sql``, EPSG:3794) builds the graph near the stops: the lines of
   ``twin.roads`` (motorways excepted) and ``twin.local_streets`` within the walking distance
   of a stop, dangling line ends joined to the nearest street within ``walk_connect_m``, all
   noded at every crossing. Each stop and each *candidate* building (an inhabited building
   with a stop within the distance in a straight line; a walk is never shorter than the
   straight line, so no other building can be served) is snapped to its nearest edge: the
   edge, the fraction along it and the straight access leg.
2. **numpy** finds the walking distance from the nearest stop to every graph node with a
   vectorised Bellman-Ford relaxation (exact shortest paths; every round relaxes all edges at
   once, values beyond the distance are dropped, so the rounds stop when nothing shorter than
   the distance changes).
3. A building's walk is its access leg plus the shorter way along its edge to either end
   node (or straight along the edge to a stop on the same edge).

The totals per scope (inhabitants, and those with a stop in a straight line) come from the
same placement rule as every KPI (``kpi_place.sql``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from twin.db._sql import sql_text
from twin.kpi.calculators import Totals, placed, point_totals, scoped_source

#: Coordinates of graph nodes are matched to this precision (m).
NODE_PRECISION_M = 0.01


@dataclass(frozen=True)
class WalkAccess:
    """Inhabitants within the walking distance of a stop, per scope.

    ``totals`` per scope (``None`` is the city): inhabited buildings (``rows``), inhabitants
    (``total``) and inhabitants with a stop within the distance in a straight line
    (``flagged``). ``served`` per scope: inhabitants within the distance along the streets.
    ``buildings``: every candidate building with its walking distance (``walk_m``, inf when
    unreachable). ``edges`` and ``stops`` describe the graph.
    """

    totals: dict[int | None, Totals]
    served: dict[int | None, float]
    buildings: pd.DataFrame
    edges: int
    stops: int


def shortest_from(
    n_nodes: int,
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    seeds: tuple[np.ndarray, np.ndarray],
    limit: float,
) -> np.ndarray:
    """Return the shortest distance from any seed to every node, up to ``limit``.

    Parameters
    ----------
    n_nodes
        Number of nodes.
    edges
        Undirected edges: first nodes, second nodes and lengths.
    seeds
        Nodes and their starting distances (a node may appear several times).
    limit
        Distances above this are not followed (returned as ``inf``).

    Returns
    -------
    numpy.ndarray
        Distance per node; ``inf`` where no seed is within ``limit``.
    """
    u, v, w = edges
    src = np.r_[u, v]
    dst = np.r_[v, u]
    length = np.r_[w, w]
    dist = np.full(n_nodes, np.inf)
    seed_nodes, seed_dist = seeds
    keep = seed_dist <= limit
    np.minimum.at(dist, seed_nodes[keep], seed_dist[keep])
    active = np.isfinite(dist)
    # Each round relaxes the edges leaving nodes that improved in the previous round; a
    # shortest path has at most n_nodes - 1 edges, so this ends.
    for _ in range(max(n_nodes, 1)):
        out = active[src]
        if not out.any():
            break
        cand = dist[src[out]] + length[out]
        ok = cand <= limit
        targets, cand = dst[out][ok], cand[ok]
        before = dist.copy()
        np.minimum.at(dist, targets, cand)
        active = dist < before
    return dist


def _graph(conn: psycopg.Connection) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Return the edges (id, length) and their start and end node numbers."""
    frame = pd.DataFrame(
        conn.execute(sql_text("kpi_walk_graph")).fetchall(),
        columns=["id", "x0", "y0", "x1", "y1", "length"],
    )
    ends = np.r_[frame[["x0", "y0"]].to_numpy(float), frame[["x1", "y1"]].to_numpy(float)]
    keys = np.round(ends / NODE_PRECISION_M).astype(np.int64)
    _, nodes = np.unique(keys, axis=0, return_inverse=True)
    nodes = nodes.reshape(-1)
    n = len(frame)
    return frame, nodes[:n], nodes[n:]


def _frame(rows: list[Any], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def walk_access(conn: psycopg.Connection, distance_m: float, connect_m: float) -> WalkAccess:
    """Compute who lives within ``distance_m`` walk of a bus stop (see the module docstring).

    Parameters
    ----------
    conn
        Open connection; the temporary graph tables live in a transaction of their own.
    distance_m
        Walking distance (m).
    connect_m
        Dangling street ends this close to another street are joined to it (m).

    Returns
    -------
    WalkAccess
        Totals per scope, inhabitants served per scope, the candidate buildings.
    """
    people = scoped_source("kpi_walk_people_source")
    params = {"distance": distance_m, "reach": distance_m, "connect": connect_m}
    with conn.transaction():
        totals = point_totals(conn, people, params)
        conn.execute(sql_text("kpi_walk_tables"))
        conn.execute(sql_text("kpi_walk_lines"), params)
        conn.execute(sql_text("kpi_walk_index_lines"))
        conn.execute(sql_text("kpi_walk_edges"), params)
        conn.execute(sql_text("kpi_walk_index_edges"))
        edges, start, end = _graph(conn)
        stops = _frame(conn.execute(sql_text("kpi_walk_stops")).fetchall(),
                       ["osm_id", "edge", "frac", "leg"])  # fmt: skip
        origins_sql = sql.SQL(sql_text("kpi_walk_origins")).format(placed=placed())
        origins = _frame(
            conn.execute(origins_sql).fetchall(),
            ["id", "population", "in_city", "district_id", "edge", "frac", "leg"],
        )
    origins["walk_m"] = _walk_lengths(edges, start, end, stops, origins, distance_m)
    origins["served"] = origins["walk_m"] <= distance_m
    served_pop = origins["population"].where(origins["served"], 0.0).astype(float)
    served: dict[int | None, float] = {None: float(served_pop[origins["in_city"]].sum())}
    per = served_pop.groupby(origins["district_id"].dropna().astype("int64")).sum()
    served |= dict(zip(per.index.astype(int).tolist(), per.astype(float).tolist(), strict=True))
    return WalkAccess(totals, served, origins, len(edges), len(stops))


def _walk_lengths(
    edges: pd.DataFrame,
    start: np.ndarray,
    end: np.ndarray,
    stops: pd.DataFrame,
    origins: pd.DataFrame,
    limit: float,
) -> np.ndarray:
    """Return each origin's walk to the nearest stop (inf when beyond ``limit``)."""
    if origins.empty or stops.empty or edges.empty:
        return np.full(len(origins), np.inf)
    row = pd.Series(np.arange(len(edges)), index=edges["id"].to_numpy())
    length = edges["length"].to_numpy(float)
    s_edge = row.loc[stops["edge"].to_numpy()].to_numpy()
    s_frac, s_leg = stops["frac"].to_numpy(float), stops["leg"].to_numpy(float)
    seeds = (
        np.r_[start[s_edge], end[s_edge]],
        np.r_[s_leg + s_frac * length[s_edge], s_leg + (1 - s_frac) * length[s_edge]],
    )
    n_nodes = int(max(start.max(), end.max())) + 1
    dist = shortest_from(n_nodes, (start, end, length), seeds, limit)
    o_edge = row.loc[origins["edge"].to_numpy()].to_numpy()
    o_frac, o_leg = origins["frac"].to_numpy(float), origins["leg"].to_numpy(float)
    along = np.minimum(
        dist[start[o_edge]] + o_frac * length[o_edge],
        dist[end[o_edge]] + (1 - o_frac) * length[o_edge],
    )
    # A stop on the same edge is reached straight along it.
    same = pd.DataFrame({"edge": s_edge, "frac": s_frac, "leg": s_leg})
    pairs = pd.DataFrame({"i": np.arange(len(origins)), "edge": o_edge, "frac": o_frac}).merge(
        same, on="edge", suffixes=("", "_stop")
    )
    if len(pairs):
        direct = pairs["leg"] + (pairs["frac"] - pairs["frac_stop"]).abs() * length[pairs["edge"]]
        best = direct.groupby(pairs["i"]).min()
        along[best.index.to_numpy()] = np.minimum(along[best.index.to_numpy()], best.to_numpy())
    walk = o_leg + along
    return np.where(walk <= limit, walk, np.inf)
