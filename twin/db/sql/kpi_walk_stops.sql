-- Every bus stop on the walking graph: the nearest edge, where along it (fraction from its
-- start) and the straight access leg from the stop to it.
SELECT s.osm_id, e.id AS edge, ST_LineLocatePoint(e.geom, s.geom) AS frac,
       ST_Distance(e.geom, s.geom) AS leg
FROM twin.bus_stops s
CROSS JOIN LATERAL (SELECT id, geom FROM kpi_walk_edges ORDER BY geom <-> s.geom LIMIT 1) e
