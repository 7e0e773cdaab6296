-- The walking graph's edges as end-point coordinates and length (EPSG:3794, metres).
SELECT id, ST_X(ST_StartPoint(geom)) AS x0, ST_Y(ST_StartPoint(geom)) AS y0,
       ST_X(ST_EndPoint(geom)) AS x1, ST_Y(ST_EndPoint(geom)) AS y1, length
FROM kpi_walk_edges
ORDER BY id
