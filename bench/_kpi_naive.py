"""The naive way to compute the KPIs: one Python loop iteration per row.

The benchmark's third side (``bench/kpi.py``). Rows are read with plain ``SELECT``s; then every
asset is tested against the municipality and each district one by one with shapely's scalar
predicates (no index), every polygon is clipped by each scope one by one, and every inhabited
building near a stop gets a Dijkstra of its own on the walking graph (built as the tests'
oracle builds it; the nearest stop and street of a building are looked up in an STRtree, row
by row, as a scan of all streets per building would run for hours). The coverage KPIs come
from the coverage module's geopandas path, as in the oracle. The figures equal the engine's;
only the way differs.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import shapely

from twin.db.engine import connect
from twin.kpi.catalog import Kpi, load_catalog

Row = dict[str, Any]
Node = tuple[int, int]
READINGS_SQL = (
    "SELECT d.sensor_id, o.phenomenon_time FROM twin.datastreams d "
    "JOIN twin.latest_observations o ON o.datastream_id = d.id"
)
STATIONS_SQL = "SELECT code, ST_AsBinary(geom) wkb FROM twin.monitoring_stations"
STOPS_SQL = "SELECT ST_AsBinary(geom) wkb FROM twin.bus_stops"
LINES_SQL = (
    "SELECT ST_AsBinary(geom) wkb FROM twin.roads WHERE highway NOT IN ('motorway', "
    "'motorway_link') UNION ALL SELECT ST_AsBinary(geom) FROM twin.local_streets"
)


def _key(pt: shapely.Point) -> Node:
    return (round(pt.x / 0.01), round(pt.y / 0.01))


def _rows(url: str, query: str) -> list[Row]:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(query)
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _geom(row: Row) -> shapely.Geometry:
    return shapely.from_wkb(bytes(row["wkb"]))


class Naive:
    """Every KPI of the catalog, one row at a time."""

    def __init__(self, url: str, at: datetime | None = None) -> None:
        self.url = url
        self.catalog = load_catalog()
        self.at = at or datetime.now(UTC)
        self.since = self.at - timedelta(hours=self.catalog.settings.reporting_window_hours)
        self.city = shapely.union_all(
            [_geom(r) for r in _rows(url, "SELECT ST_AsBinary(geom) wkb FROM twin.municipality")]
        )
        self.districts = [
            (int(r["id"]), str(r["name"]), _geom(r))
            for r in _rows(
                url, "SELECT id, name, ST_AsBinary(geom) wkb FROM twin.districts ORDER BY id"
            )
        ]
        self._tables: dict[str, list[Row]] = {}

    def table(self, name: str) -> list[Row]:
        """Every row of a register class, its geometry as WKB."""
        if name not in self._tables:
            self._tables[name] = _rows(
                self.url,
                f"SELECT *, ST_AsBinary(geom) wkb FROM register.{name}",
            )
        return self._tables[name]

    def _place(self, point: shapely.Geometry) -> tuple[bool, int | None]:
        in_city = bool(self.city.intersects(point))
        for district_id, _, geom in self.districts:
            if geom.intersects(point):
                return in_city, district_id
        return in_city, None

    def _reporting(self) -> set[str]:
        found = set()
        for r in _rows(self.url, READINGS_SQL):
            if self.since < r["phenomenon_time"] <= self.at:
                found.add(r["sensor_id"])
        return found

    def _inputs(self, kpi: Kpi) -> list[Row]:
        if kpi.asset_class is None:
            raise ValueError(f"KPI {kpi.id} reads no register class")
        reporting = self._reporting() if kpi.realtime else set()
        children: dict[str, list[Row]] = defaultdict(list)
        if kpi.flag_sensor:
            for s in self.table("sensor"):
                if s["state"] == "active" and s["kind"] == kpi.flag_sensor and s["parent_id"]:
                    children[s["parent_id"]].append(s)
        out = []
        for row in self.table(kpi.asset_class):
            if row["state"] != "active" or any(row[k] != v for k, v in kpi.where.items()):
                continue
            flags = []
            if kpi.flag:
                flags.append(all(row[k] == v for k, v in kpi.flag.items()))
            if kpi.flag_sensor:
                flags.append(bool(children.get(row["id"])))
            live = any(s["id"] in reporting for s in children.get(row["id"], []))
            if kpi.realtime and not kpi.flag_sensor and kpi.asset_class == "sensor":
                live = row["id"] in reporting
            out.append({"geom": _geom(row), "synthetic": row["synthetic"],
                        "weight": float(row[kpi.weight] or 0) if kpi.weight else 1.0,
                        "flagged": any(flags) if flags else True,
                        "reporting": kpi.realtime and live})  # fmt: skip
        if kpi.stations:
            known = {s["station_code"] for s in self.table("sensor")}
            stations = _rows(self.url, STATIONS_SQL)
            out += [
                {"geom": _geom(r), "synthetic": False, "weight": 1.0, "flagged": True,
                 "reporting": False}
                for r in stations
                if r["code"] not in known
            ]  # fmt: skip
        return out

    def _totals(self, rows: list[Row], *, areas: bool) -> dict[int | None, list[float]]:
        """Per scope: rows, synthetic rows, total, flagged, reporting."""
        totals: dict[int | None, list[float]] = defaultdict(lambda: [0.0] * 5)
        for row in rows:
            if areas:
                parts = [(None, self.city)] + [(d, g) for d, _, g in self.districts]
                hits = [(key, row["geom"].intersection(g).area / 1e4) for key, g in parts]
                hits = [(key, w) for key, w in hits if w > 0]
            else:
                geom = row["geom"]
                point = geom if shapely.get_dimensions(geom) == 0 else geom.point_on_surface()
                in_city, district = self._place(point)
                keys = ([None] if in_city else []) + ([district] if district else [])
                hits = [(key, row["weight"]) for key in keys]
            for key, w in hits:
                t = totals[key]
                t[0] += 1
                t[1] += row["synthetic"]
                t[2] += w
                t[3] += w if row["flagged"] else 0.0
                t[4] += w if row["reporting"] else 0.0
        return totals

    def _population(self) -> dict[int | None, list[float]]:
        rows = [
            {"geom": _geom(r).centroid, "synthetic": r["synthetic"],
             "weight": float(r["population"]), "flagged": True, "reporting": False}
            for r in _rows(self.url, "SELECT population, synthetic, ST_AsBinary(geom) wkb "
                                     "FROM twin.population_grid WHERE population > 0")
        ]  # fmt: skip
        return self._totals(rows, areas=False)

    def compute(self, kpi: Kpi) -> dict[str, float | None]:
        """Return {scope: value} of one KPI."""
        if kpi.calculator == "manual":
            values = _rows(self.url, "SELECT * FROM twin.kpi_manual_values")
            mine = [
                v for v in values if v["kpi_id"] == kpi.id and v["observed_on"] <= self.at.date()
            ]
            mine.sort(key=lambda v: (v["observed_on"], v["entered_at"], v["id"]))
            return {"city": float(mine[-1]["value"]) if mine else None}
        if kpi.calculator == "coverage":
            from twin.coverage.frame import measure_frame  # noqa: PLC0415
            from twin.coverage.report import districts, summarise  # noqa: PLC0415

            if kpi.tech is None:
                raise ValueError(f"KPI {kpi.id} names no technology")
            results = summarise(measure_frame(kpi.tech, self.url), districts(self.url))
            return {r.scope: None if r.share is None else 100 * r.share for r in results}
        if kpi.calculator == "walk_share":
            return self._walk(kpi)
        areas = kpi.calculator in ("area_share", "area_sum")
        totals = self._totals(self._inputs(kpi), areas=areas)
        people = self._population() if kpi.calculator == "per_population" else {}
        out: dict[str, float | None] = {}
        scopes = [("city", None, self.city.area / 1e6)] + [
            (name, d, g.area / 1e6) for d, name, g in self.districts
        ]
        for name, key, area in scopes:
            _, _, total, flagged, _ = totals.get(key, [0.0] * 5)
            if kpi.calculator in ("share", "area_share"):
                out[name] = 100 * flagged / total if total else None
            elif kpi.calculator == "density":
                out[name] = flagged / area
            elif kpi.calculator in ("count", "area_sum"):
                out[name] = flagged
            else:
                inhabitants = people.get(key, [0.0] * 5)[2]
                out[name] = kpi.per * flagged / inhabitants if inhabitants else None
        return out

    def _walk(self, kpi: Kpi) -> dict[str, float | None]:
        """One shortest-path search per inhabited building near a stop."""
        from kpi_oracle import Oracle  # noqa: PLC0415 - the oracle's graph, built the same way

        limit = kpi.distance_m
        stops = np.array([_geom(r) for r in _rows(self.url, STOPS_SQL)], dtype=object)
        stop_tree = shapely.STRtree(stops)
        near = []
        for r in _rows(self.url, LINES_SQL):
            line = _geom(r)
            if len(stop_tree.query(line, predicate="dwithin", distance=limit)):
                near.append(line)
        lines = np.array(near, dtype=object)
        joins = Oracle.connectors(lines, self.catalog.settings.walk_connect_m)
        noded = shapely.node(shapely.MultiLineString([*lines, *joins]))
        edges = [e for e in shapely.get_parts(noded) if e.length > 0]
        edge_tree = shapely.STRtree(edges)
        graph: dict[Node, list[tuple[Node, float]]] = defaultdict(list)
        ends = []
        for e in edges:
            a, b = _key(shapely.get_point(e, 0)), _key(shapely.get_point(e, -1))
            graph[a].append((b, e.length))
            graph[b].append((a, e.length))
            ends.append((a, b))
        targets: dict[Node, float] = {}
        on_edge: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for s in stops:
            i = int(edge_tree.nearest(s))
            f, leg, length = (
                edges[i].project(s, normalized=True),
                edges[i].distance(s),
                edges[i].length,
            )
            a, b = ends[i]
            targets[a] = min(targets.get(a, np.inf), leg + f * length)
            targets[b] = min(targets.get(b, np.inf), leg + (1 - f) * length)
            on_edge[i].append((f, leg))
        network = (edges, edge_tree, ends, graph, targets, on_edge)
        totals: dict[int | None, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for row in self.table("building"):
            if row["state"] != "active" or not row["population"]:
                continue
            point = _geom(row).point_on_surface()
            in_city, district = self._place(point)
            near_stop = len(stop_tree.query(point, predicate="dwithin", distance=limit)) > 0
            served = near_stop and self._reaches(point, network, limit)
            for k in ([None] if in_city else []) + ([district] if district else []):
                totals[k][0] += row["population"]
                totals[k][1] += row["population"] if served else 0
        return {
            name: 100 * totals[k][1] / totals[k][0] if totals[k][0] else None
            for name, k in [("city", None)] + [(n, d) for d, n, _ in self.districts]
        }

    @staticmethod
    def _reaches(point: shapely.Point, network: tuple[Any, ...], limit: float) -> bool:
        """One Dijkstra from this building: does it reach a stop within ``limit``?"""
        edges, edge_tree, ends, graph, targets, on_edge = network
        i = int(edge_tree.nearest(point))
        f, leg = edges[i].project(point, normalized=True), edges[i].distance(point)
        length = edges[i].length
        if any(leg + sl + abs(f - sf) * length <= limit for sf, sl in on_edge.get(i, [])):
            return True
        a, b = ends[i]
        heap = [(leg + f * length, a), (leg + (1 - f) * length, b)]
        seen: dict[Node, float] = {}
        while heap:
            d, node = heapq.heappop(heap)
            if d > limit or node in seen:
                continue
            seen[node] = d
            if node in targets and d + targets[node] <= limit:
                return True
            for nxt, w in graph[node]:
                if nxt not in seen and d + w <= limit:
                    heapq.heappush(heap, (d + w, nxt))
        return False

    def compute_all(self) -> dict[str, dict[str, float | None]]:
        """Every KPI of the catalog: {id: {scope: value}}."""
        return {k.id: self.compute(k) for k in self.catalog.kpi}
