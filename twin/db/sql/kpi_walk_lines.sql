-- The streets a walk of at most %(reach)s m from a bus stop can use: every line of twin.roads
-- (motorways excepted) and twin.local_streets within that distance of a stop. A path that
-- long never leaves them.
INSERT INTO kpi_walk_lines (geom)
SELECT r.geom FROM twin.roads r
WHERE r.highway NOT IN ('motorway', 'motorway_link')
  AND EXISTS (SELECT 1 FROM twin.bus_stops s WHERE ST_DWithin(r.geom, s.geom, %(reach)s))
UNION ALL
SELECT l.geom FROM twin.local_streets l
WHERE EXISTS (SELECT 1 FROM twin.bus_stops s WHERE ST_DWithin(l.geom, s.geom, %(reach)s))
