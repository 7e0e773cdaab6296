SELECT id, name, kind, ST_AsBinary(geom) AS geometry FROM twin.districts ORDER BY id
