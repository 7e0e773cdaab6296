SELECT id, kind, subtype, name, address, source, licence, ST_AsBinary(geom) AS geometry
FROM twin.facilities ORDER BY id
