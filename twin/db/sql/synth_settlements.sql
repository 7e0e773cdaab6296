SELECT na_mid, name, population, ST_AsBinary(geom) AS geometry FROM twin.settlements ORDER BY na_mid
