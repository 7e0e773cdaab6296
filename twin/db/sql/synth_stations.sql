SELECT code, name, altitude_m, ST_AsBinary(geom) AS geometry
FROM twin.monitoring_stations ORDER BY code
