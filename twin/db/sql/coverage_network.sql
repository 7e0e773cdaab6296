-- The active fiber access network a building may be connected to: nodes and cables of the
-- given kinds (WKB, EPSG:3794), for the geopandas and dask paths.
SELECT n.id, n.operator, 'node' AS part, ST_AsBinary(n.geom) AS geometry
FROM register.fiber_node n
WHERE n.state = 'active' AND n.kind = ANY(%(node_kinds)s::text[])
UNION ALL
SELECT s.id, s.operator, 'segment', ST_AsBinary(s.geom)
FROM register.fiber_segment s
WHERE s.state = 'active' AND s.kind = ANY(%(segment_kinds)s::text[])
ORDER BY 1
