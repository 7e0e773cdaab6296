"""An independent geopandas/shapely implementation of every KPI calculator: the tests' oracle.

It reads the raw tables (plain ``SELECT``s, nothing of ``twin.kpi``'s SQL) and computes each
KPI of the catalog the way the catalog documents it:

- placement: a point (a polygon by its representative point) is in the city when it
  intersects the municipality, and in the district of lowest id among those it intersects;
- area kinds: polygons clipped by each scope;
- walking distance: the street lines within the distance of a stop, dangling ends joined to
  the nearest other line within ``walk_connect_m`` (5 cm past it), noded with
  :func:`shapely.node`, then Dijkstra with :mod:`heapq` from every stop;
- coverage: the coverage module's own geopandas path (:mod:`twin.coverage.frame`).

Also used by ``bench/kpi.py`` as the "geopandas" side of the benchmark.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from twin.db.engine import engine
from twin.kpi.catalog import Catalog, Kpi, load_catalog

CITY = "city"


def _read(url: str, query: str) -> gpd.GeoDataFrame:
    with engine(url).connect() as conn:
        return gpd.read_postgis(query, conn, geom_col="geom")


def _frame(url: str, query: str) -> pd.DataFrame:
    with engine(url).connect() as conn:
        return pd.read_sql(query, conn)


class Oracle:
    """Every KPI of the catalog computed with geopandas from the raw tables.

    Parameters
    ----------
    url
        The database.
    at
        Moment for the reporting window (now by default).
    window_hours
        Reporting window (the catalog's by default).
    """

    def __init__(
        self, url: str, at: datetime | None = None, window_hours: float | None = None
    ) -> None:
        self.url = url
        self.catalog: Catalog = load_catalog()
        self.at = at or datetime.now(UTC)
        hours = window_hours or self.catalog.settings.reporting_window_hours
        self.since = self.at - timedelta(hours=hours)
        self.municipality = _read(url, "SELECT geom FROM twin.municipality")
        self.districts = _read(
            url, "SELECT id, name, kind, geom FROM twin.districts ORDER BY id"
        ).reset_index(drop=True)
        self.city_geom = shapely.union_all(self.municipality.geometry.to_numpy())
        self._tables: dict[str, gpd.GeoDataFrame] = {}

    # -- inputs ----------------------------------------------------------------------------

    def table(self, name: str) -> gpd.GeoDataFrame:
        """Return a register class table (every column), read once."""
        if name not in self._tables:
            self._tables[name] = _read(self.url, f"SELECT * FROM register.{name}")
        return self._tables[name]

    def reporting_sensors(self) -> set[str]:
        """Ids of the sensors whose latest value lies in the reporting window."""
        latest = _frame(
            self.url,
            "SELECT d.sensor_id, o.phenomenon_time FROM twin.datastreams d "
            "JOIN twin.latest_observations o ON o.datastream_id = d.id",
        )
        if latest.empty:
            return set()
        times = pd.to_datetime(latest["phenomenon_time"], utc=True)
        ok = (times > self.since) & (times <= self.at)
        return set(latest.loc[ok.to_numpy(), "sensor_id"])

    def scopes(self) -> list[tuple[str, int | None, float]]:
        """(scope, district id, area km²) for the city and every district."""
        city = [(CITY, None, float(shapely.area(self.city_geom)) / 1e6)]
        return city + [
            (str(r.name), int(r.id), float(r.geom.area) / 1e6) for r in self.districts.itertuples()
        ]

    def place(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (in_city, district id or -1) of each point."""
        in_city = shapely.intersects(self.city_geom, points)
        district = np.full(len(points), -1, dtype=np.int64)
        for row in self.districts.sort_values("id").itertuples():
            hit = shapely.intersects(row.geom, points) & (district < 0)
            district[hit] = int(row.id)
        return in_city, district

    @staticmethod
    def _point(geoms: np.ndarray) -> np.ndarray:
        dims = shapely.get_dimensions(geoms)
        return np.where(dims == 0, geoms, shapely.point_on_surface(geoms))

    def rows(self, kpi: Kpi) -> gpd.GeoDataFrame:
        """The KPI's rows: geometry, synthetic, weight, flagged, flagged_reporting."""
        assert kpi.asset_class is not None
        t = self.table(kpi.asset_class)
        keep = (t["state"] == "active").to_numpy(bool).copy()
        for name, value in kpi.where.items():
            keep &= (t[name] == value).fillna(value=False).to_numpy(bool)
        t = t[keep]
        flags = []
        if kpi.flag:
            flag = np.ones(len(t), bool)
            for name, value in kpi.flag.items():
                flag &= (t[name] == value).fillna(value=False).to_numpy(bool)
            flags.append(flag)
        reporting_ids = self.reporting_sensors() if kpi.realtime else set()
        child_reporting = np.zeros(len(t), bool)
        if kpi.flag_sensor:
            sensors = self.table("sensor")
            mounted = sensors[(sensors["state"] == "active") & (sensors["kind"] == kpi.flag_sensor)]
            flags.append(t["id"].isin(set(mounted["parent_id"].dropna())).to_numpy())
            live = mounted[mounted["id"].isin(reporting_ids)]
            child_reporting = t["id"].isin(set(live["parent_id"].dropna())).to_numpy()
        flagged = np.logical_or.reduce(flags) if flags else np.ones(len(t), bool)
        if kpi.realtime and kpi.flag_sensor:
            reporting = child_reporting
        elif kpi.realtime and kpi.asset_class == "sensor":
            reporting = t["id"].isin(reporting_ids).to_numpy()
        else:
            reporting = np.zeros(len(t), bool)
        weight = t[kpi.weight].fillna(0).to_numpy(float) if kpi.weight else np.ones(len(t), float)
        frame = gpd.GeoDataFrame(
            {"synthetic": t["synthetic"].to_numpy(bool), "weight": weight,
             "flagged": flagged, "flagged_reporting": reporting},
            geometry=t.geometry.to_numpy(), crs=3794,
        )  # fmt: skip
        if kpi.stations:
            frame = pd.concat([frame, self._stations()], ignore_index=True)
        return frame

    def _stations(self) -> gpd.GeoDataFrame:
        stations = _read(self.url, "SELECT code, geom FROM twin.monitoring_stations")
        known = set(self.table("sensor")["station_code"].dropna())
        stations = stations[~stations["code"].isin(known)]
        n = len(stations)
        return gpd.GeoDataFrame(
            {"synthetic": np.zeros(n, bool), "weight": np.ones(n), "flagged": np.ones(n, bool),
             "flagged_reporting": np.zeros(n, bool)},
            geometry=stations.geometry.to_numpy(), crs=3794,
        )  # fmt: skip

    # -- totals ----------------------------------------------------------------------------

    def point_totals(self, rows: pd.DataFrame) -> dict[int | None, dict[str, float]]:
        """Rows, synthetic rows, total, flagged and reporting weight per scope."""
        geoms = rows.geometry.to_numpy() if len(rows) else np.array([], dtype=object)
        in_city, district = self.place(self._point(geoms)) if len(rows) else (
            np.zeros(0, bool), np.zeros(0, np.int64))  # fmt: skip
        out: dict[int | None, dict[str, float]] = {}
        for key, mask in [(None, in_city)] + [
            (int(d), district == d) for d in self.districts["id"]
        ]:
            out[key] = self._sum(rows, mask)
        return out

    @staticmethod
    def _sum(rows: pd.DataFrame, mask: np.ndarray) -> dict[str, float]:
        w = rows["weight"].to_numpy(float)[mask] if len(rows) else np.zeros(0)
        sub = rows[mask] if len(rows) else rows
        return {
            "rows": float(mask.sum()),
            "synthetic_rows": float(sub["synthetic"].sum()) if len(sub) else 0.0,
            "total": float(w.sum()),
            "flagged": float(w[sub["flagged"].to_numpy(bool)].sum()) if len(sub) else 0.0,
            "reporting": float(w[sub["flagged_reporting"].to_numpy(bool)].sum())
            if len(sub)
            else 0.0,
        }

    def area_totals(self, rows: pd.DataFrame) -> dict[int | None, dict[str, float]]:
        """Area (ha) inside each scope of the flagged and all polygons."""
        out: dict[int | None, dict[str, float]] = {}
        geoms = rows.geometry.to_numpy()
        scopes = [(None, self.city_geom)] + [
            (int(r.id), r.geom) for r in self.districts.itertuples()
        ]
        for key, geom in scopes:
            ha = shapely.area(shapely.intersection(geoms, geom)) / 1e4 if len(rows) else np.zeros(0)
            inside = ha > 0
            sub = rows[inside]
            out[key] = {
                "rows": float(inside.sum()),
                "synthetic_rows": float(sub["synthetic"].sum()),
                "total": float(ha[inside].sum()),
                "flagged": float(ha[inside][sub["flagged"].to_numpy(bool)].sum()),
                "reporting": float(ha[inside][sub["flagged_reporting"].to_numpy(bool)].sum()),
            }
        return out

    def population(self) -> dict[int | None, dict[str, float]]:
        """Inhabitants per scope from the grid (cells by centroid)."""
        grid = _read(self.url, "SELECT population, synthetic, geom FROM twin.population_grid")
        grid = grid[grid["population"] > 0]
        rows = gpd.GeoDataFrame(
            {"synthetic": grid["synthetic"].to_numpy(bool),
             "weight": grid["population"].to_numpy(float),
             "flagged": np.ones(len(grid), bool), "flagged_reporting": np.zeros(len(grid), bool)},
            geometry=shapely.centroid(grid.geometry.to_numpy()), crs=3794,
        )  # fmt: skip
        return self.point_totals(rows)

    # -- KPIs ------------------------------------------------------------------------------

    def compute(self, kpi: Kpi) -> dict[str, dict[str, Any]]:
        """Return {scope: {value, numerator, denominator, synthetic_share, reporting}}."""
        kind = kpi.calculator
        if kind == "manual":
            return self._manual(kpi)
        if kind == "coverage":
            return self._coverage(kpi)
        if kind == "walk_share":
            return self._walk(kpi)
        rows = self.rows(kpi)
        totals = (
            self.area_totals(rows)
            if kind in ("area_share", "area_sum")
            else self.point_totals(rows)
        )
        people = self.population() if kind == "per_population" else {}
        out = {}
        for scope, district_id, area in self.scopes():
            t = totals[district_id]
            synthetic = t["synthetic_rows"] / t["rows"] if t["rows"] else None
            if kind in ("share", "area_share"):
                num, den = t["flagged"], t["total"]
                value = 100 * num / den if den else None
            elif kind == "density":
                num, den = t["flagged"], area
                value = num / den
            elif kind == "count":
                num, den, value = t["flagged"], area, t["flagged"]
            elif kind == "area_sum":
                num, den, value = t["flagged"], area * 100, t["flagged"]
            else:  # per_population
                p = people[district_id]
                num, den = t["flagged"], p["total"]
                value = kpi.per * num / den if den else None
                n = t["rows"] + p["rows"]
                synthetic = (t["synthetic_rows"] + p["synthetic_rows"]) / n if n else None
            out[scope] = {"value": value, "numerator": num, "denominator": den,
                          "synthetic_share": synthetic,
                          "reporting": t["reporting"] if kpi.realtime else None}  # fmt: skip
        return out

    def _manual(self, kpi: Kpi) -> dict[str, dict[str, Any]]:
        values = _frame(self.url, "SELECT * FROM twin.kpi_manual_values")
        values = values[(values["kpi_id"] == kpi.id)]
        values = values[pd.to_datetime(values["observed_on"]).dt.date <= self.at.date()]
        if values.empty:
            return {CITY: {"value": None, "numerator": None, "denominator": None,
                           "synthetic_share": None, "reporting": None}}  # fmt: skip
        last = values.sort_values(["observed_on", "entered_at", "id"]).iloc[-1]
        return {CITY: {"value": float(last["value"]), "numerator": float(last["value"]),
                       "denominator": None, "synthetic_share": 0.0, "reporting": None}}  # fmt: skip

    def _coverage(self, kpi: Kpi) -> dict[str, dict[str, Any]]:
        from twin._errors import DatabaseError
        from twin.coverage.frame import measure_frame
        from twin.coverage.report import districts, summarise

        assert kpi.tech is not None
        try:
            found = {
                r.scope: r
                for r in summarise(measure_frame(kpi.tech, self.url), districts(self.url))
            }
        except DatabaseError:
            found = {}
        out = {}
        for scope, _, _ in self.scopes():
            r = found.get(scope)
            out[scope] = {
                "value": None if r is None or r.share is None else 100 * r.share,
                "numerator": float(r.covered_population) if r else 0.0,
                "denominator": float(r.population) if r else 0.0,
                "synthetic_share": r.synthetic_share if r else None,
                "reporting": None,
            }
        return out

    # -- walking distance ------------------------------------------------------------------

    def walk_distances(self, distance: float) -> pd.DataFrame:
        """Inhabited buildings: population, synthetic, placement, straight-line flag, walk."""
        connect = self.catalog.settings.walk_connect_m
        stops = _read(self.url, "SELECT geom FROM twin.bus_stops").geometry.to_numpy()
        roads = _read(
            self.url,
            "SELECT geom FROM twin.roads WHERE highway NOT IN ('motorway', 'motorway_link')",
        ).geometry.to_numpy()
        local = _read(self.url, "SELECT geom FROM twin.local_streets").geometry.to_numpy()
        buildings = self.table("building")
        buildings = buildings[(buildings["state"] == "active") & (buildings["population"] > 0)]
        pts = shapely.point_on_surface(buildings.geometry.to_numpy())
        stop_tree = shapely.STRtree(stops)
        near = stop_tree.query(pts, predicate="dwithin", distance=distance)
        straight = np.zeros(len(pts), bool)
        straight[np.unique(near[0])] = True
        walk = np.full(len(pts), np.inf)
        lines = np.r_[roads, local]
        if len(stops) and len(lines):
            idx = np.unique(stop_tree.query(lines, predicate="dwithin", distance=distance)[0])
            walk[straight] = self._walk_network(lines[idx], stops, pts[straight], distance, connect)
        in_city, district = self.place(pts)
        return pd.DataFrame(
            {"population": buildings["population"].to_numpy(float),
             "synthetic": buildings["synthetic"].to_numpy(bool), "in_city": in_city,
             "district": district, "straight": straight, "walk": walk}
        )  # fmt: skip

    @staticmethod
    def connectors(lines: np.ndarray, connect: float) -> list[shapely.LineString]:
        """Join each dangling line end to the nearest other line within ``connect`` m."""
        tree = shapely.STRtree(lines)
        ends = np.r_[shapely.get_point(lines, 0), shapely.get_point(lines, -1)]
        owner = np.r_[np.arange(len(lines)), np.arange(len(lines))]
        touching = tree.query(ends, predicate="dwithin", distance=0.01)
        touches_other = np.zeros(len(ends), bool)
        other = owner[touching[0]] != touching[1]
        touches_other[touching[0][other]] = True
        connectors = []
        for i in np.flatnonzero(~touches_other):
            p = ends[i]
            cands = tree.query(p, predicate="dwithin", distance=connect)
            cands = cands[cands != owner[i]]
            if not len(cands):
                continue
            best = lines[cands[np.argmin(shapely.distance(lines[cands], p))]]
            q = shapely.line_interpolate_point(best, shapely.line_locate_point(best, p))
            gap = shapely.distance(p, q)
            if gap > 0.01:
                dx, dy = (q.x - p.x) / gap * 0.05, (q.y - p.y) / gap * 0.05
                connectors.append(shapely.LineString([(p.x, p.y), (q.x + dx, q.y + dy)]))
        return connectors

    @staticmethod
    def _dijkstra(
        graph: dict[tuple[int, int], list[tuple[tuple[int, int], float]]],
        seeds: list[tuple[tuple[int, int], float]],
        limit: float,
    ) -> dict[tuple[int, int], float]:
        dist: dict[tuple[int, int], float] = {}
        heap: list[tuple[float, tuple[int, int]]] = []
        for node, d in seeds:
            if d <= limit and d < dist.get(node, np.inf):
                dist[node] = d
                heapq.heappush(heap, (d, node))
        while heap:
            d, node = heapq.heappop(heap)
            if d > dist.get(node, np.inf):
                continue
            for nxt, w in graph[node]:
                nd = d + w
                if nd <= limit and nd < dist.get(nxt, np.inf):
                    dist[nxt] = nd
                    heapq.heappush(heap, (nd, nxt))
        return dist

    def _walk_network(
        self, lines: np.ndarray, stops: np.ndarray, origins: np.ndarray, limit: float,
        connect: float,
    ) -> np.ndarray:  # fmt: skip
        noded = shapely.node(shapely.MultiLineString([*lines, *self.connectors(lines, connect)]))
        edges = np.array(shapely.get_parts(noded))
        edges = edges[shapely.length(edges) > 0]
        length = shapely.length(edges)

        def key(pt: shapely.Point) -> tuple[int, int]:
            return (round(pt.x / 0.01), round(pt.y / 0.01))

        a = [key(p) for p in shapely.get_point(edges, 0)]
        b = [key(p) for p in shapely.get_point(edges, -1)]
        graph: dict[tuple[int, int], list[tuple[tuple[int, int], float]]] = defaultdict(list)
        for u, v, w in zip(a, b, length, strict=True):
            graph[u].append((v, w))
            graph[v].append((u, w))
        edge_tree = shapely.STRtree(edges)
        s_edge = edge_tree.query_nearest(stops, all_matches=False)[1]
        s_frac = shapely.line_locate_point(edges[s_edge], stops, normalized=True)
        s_leg = shapely.distance(edges[s_edge], stops)
        seeds = []
        on_edge = defaultdict(list)
        for e, f, leg in zip(s_edge, s_frac, s_leg, strict=True):
            seeds += [(a[e], leg + f * length[e]), (b[e], leg + (1 - f) * length[e])]
            on_edge[int(e)].append((f, leg))
        dist = self._dijkstra(graph, seeds, limit)
        o_edge = edge_tree.query_nearest(origins, all_matches=False)[1]
        o_frac = shapely.line_locate_point(edges[o_edge], origins, normalized=True)
        o_leg = shapely.distance(edges[o_edge], origins)
        out = np.full(len(origins), np.inf)
        for i, (e, f, leg) in enumerate(zip(o_edge, o_frac, o_leg, strict=True)):
            best = min(dist.get(a[e], np.inf) + f * length[e],
                       dist.get(b[e], np.inf) + (1 - f) * length[e])  # fmt: skip
            for sf, sleg in on_edge.get(int(e), []):
                best = min(best, sleg + abs(f - sf) * length[e])
            walk = leg + best
            out[i] = walk if walk <= limit else np.inf
        return out

    def _walk(self, kpi: Kpi) -> dict[str, dict[str, Any]]:
        frame = self.walk_distances(kpi.distance_m)
        frame["served"] = frame["walk"] <= kpi.distance_m
        out = {}
        for scope, district_id, _ in self.scopes():
            mask = frame["in_city"] if district_id is None else frame["district"] == district_id
            sub = frame[mask.to_numpy(bool)]
            total = float(sub["population"].sum())
            served = float(sub.loc[sub["served"], "population"].sum())
            out[scope] = {
                "value": 100 * served / total if total else None,
                "numerator": served, "denominator": total,
                "synthetic_share": float(sub["synthetic"].mean()) if len(sub) else None,
                "reporting": None,
                "straight_line_numerator": float(sub.loc[sub["straight"], "population"].sum()),
            }  # fmt: skip
        return out

    def compute_all(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every KPI of the catalog: {kpi id: {scope: figures}}."""
        return {k.id: self.compute(k) for k in self.catalog.kpi}
