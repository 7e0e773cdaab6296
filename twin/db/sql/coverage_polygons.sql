-- Operators' active coverage polygons of %(technologies)s (WKB, EPSG:3794), for the geopandas
-- and dask paths.
SELECT a.id, a.operator, a.technology, ST_AsBinary(a.geom) AS geometry
FROM register.coverage_area a
WHERE a.state = 'active' AND a.technology = ANY(%(technologies)s::text[])
ORDER BY a.id
