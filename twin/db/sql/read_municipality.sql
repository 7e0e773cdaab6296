-- The municipality boundary for display: area measured in EPSG:3794, shape in CRS %(srid)s.
SELECT
    m.name,
    m.official_area_km2,
    ST_Area(m.geom) / 1e6 AS area_km2,
    m.source,
    m.licence,
    ST_AsBinary(ST_Transform(m.geom, %(srid)s::integer)) AS geometry
FROM twin.municipality AS m
ORDER BY m.ob_id
