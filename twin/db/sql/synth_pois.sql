SELECT osm_id, key, value, name, source, licence, ST_AsBinary(geom) AS geometry
FROM twin.pois ORDER BY osm_id
