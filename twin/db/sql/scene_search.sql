-- The Map page's search: assets by id or name, buildings by address, streets by name (the
-- OSM roads and the synthetic local streets), each with a point to fly to (EPSG:4326) and
-- its extent in metres. %(pattern)s is an ILIKE pattern with the user's text escaped.
WITH hits AS (
    (SELECT 'asset' AS kind, a.id, coalesce(nullif(a.name, ''), a.id) AS label, a.class,
            a.geom
     FROM register.assets a
     WHERE a.id ILIKE %(pattern)s OR a.name ILIKE %(pattern)s
     ORDER BY a.id = %(text)s DESC, a.name, a.id
     LIMIT %(limit)s)
    UNION ALL
    (SELECT 'address', b.id, b.address, 'building', b.geom
     FROM register.building b
     WHERE b.address ILIKE %(pattern)s
     ORDER BY b.address
     LIMIT %(limit)s)
    UNION ALL
    (SELECT 'street', NULL, s.name, 'street', ST_Collect(s.geom)
     FROM (SELECT name, geom FROM twin.roads WHERE name ILIKE %(pattern)s
           UNION ALL
           SELECT name, geom FROM twin.local_streets WHERE name ILIKE %(pattern)s) s
     GROUP BY s.name
     ORDER BY s.name
     LIMIT %(limit)s)
)
SELECT h.kind, h.id, h.label, h.class,
       ST_X(ST_Transform(ST_PointOnSurface(ST_Envelope(h.geom)), 4326)) AS lon,
       ST_Y(ST_Transform(ST_PointOnSurface(ST_Envelope(h.geom)), 4326)) AS lat,
       greatest(ST_XMax(h.geom) - ST_XMin(h.geom), ST_YMax(h.geom) - ST_YMin(h.geom)) AS size_m
FROM hits h
