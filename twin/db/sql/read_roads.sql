-- Roads as drawn context of the map (there are no basemap tiles), in CRS %(srid)s.
SELECT
    r.osm_id,
    r.highway,
    r.name,
    ST_AsBinary(ST_Transform(r.geom, %(srid)s::integer)) AS geometry
FROM twin.roads AS r
ORDER BY r.osm_id
