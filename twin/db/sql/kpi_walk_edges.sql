-- The walking graph's edges. A line end that touches no other line (a dangle) within
-- %(connect)s m of another line gets a connector to the nearest point of that line, drawn
-- 5 cm past it so that the noding sees the crossing; then all lines are noded (split at
-- every crossing and touch, duplicates dissolved) by their union (ST_UnaryUnion gives the
-- same linework as ST_Node here, an order of magnitude faster). Each noded line is one edge.
INSERT INTO kpi_walk_edges (geom, length)
WITH ends AS (
    SELECT id, ST_StartPoint(geom) AS p FROM kpi_walk_lines
    UNION ALL
    SELECT id, ST_EndPoint(geom) FROM kpi_walk_lines
),
dangles AS (
    SELECT e.id, e.p FROM ends e
    WHERE NOT EXISTS (SELECT 1 FROM kpi_walk_lines o
                      WHERE o.id <> e.id AND ST_DWithin(o.geom, e.p, 0.01))
),
targets AS (
    SELECT d.p, n.q, ST_Distance(d.p, n.q) AS gap
    FROM dangles d
    CROSS JOIN LATERAL (
        SELECT ST_ClosestPoint(o.geom, d.p) AS q FROM kpi_walk_lines o
        WHERE o.id <> d.id AND ST_DWithin(o.geom, d.p, %(connect)s)
        ORDER BY o.geom <-> d.p LIMIT 1
    ) n
),
connectors AS (
    SELECT ST_MakeLine(p, ST_Translate(q, (ST_X(q) - ST_X(p)) / gap * 0.05,
                                          (ST_Y(q) - ST_Y(p)) / gap * 0.05)) AS geom
    FROM targets
    WHERE gap > 0.01
),
noded AS (
    SELECT (ST_Dump(ST_UnaryUnion(ST_Collect(geom)))).geom AS geom
    FROM (SELECT geom FROM kpi_walk_lines UNION ALL SELECT geom FROM connectors) a
)
SELECT geom, ST_Length(geom) FROM noded WHERE ST_Length(geom) > 0
