SELECT osm_id, highway, name, lit, ST_AsBinary(geom) AS geometry FROM twin.roads ORDER BY osm_id
