-- Footprints (WKB, EPSG:3794) of the inhabited buildings, for the geopandas and dask paths.
SELECT b.id AS unit_id, ST_AsBinary(b.geom) AS geometry
FROM register.building b
WHERE b.population > 0 AND b.state NOT IN ('planned', 'retired')
ORDER BY b.id
