-- The register sensor nearest to each WGS84 point within %(radius)s metres (D96/TM); n is the
-- point's 1-based position. Points with no sensor that near are left out.
SELECT p.n, s.id
FROM unnest(%(lons)s::double precision[], %(lats)s::double precision[])
     WITH ORDINALITY AS p (lon, lat, n)
CROSS JOIN LATERAL ST_Transform(ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326), 3794) AS here
CROSS JOIN LATERAL (
    SELECT s.id FROM register.sensor s
    WHERE ST_DWithin(s.geom, here, %(radius)s)
    ORDER BY s.geom <-> here, s.id
    LIMIT 1
) s
