SELECT ST_AsBinary(ST_Union(geom)) AS geometry FROM twin.municipality
