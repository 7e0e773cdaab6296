-- Places the city can offer for a new site, at most one per %(spacing)s square: existing
-- masts first (antenna height), then municipal roofs (roof + mast), then the tallest
-- street-light pole (its top). EPSG:3794 coordinates.
WITH c AS (
    SELECT 'mobile_site' AS kind, 0 AS priority, s.id, s.geom,
           coalesce(s.antenna_height_m, %(default_height)s) AS height_m
    FROM register.mobile_site s
    WHERE s.state = 'active'
    UNION ALL
    SELECT 'building', 1, b.id, ST_PointOnSurface(b.geom),
           coalesce(b.height_m, %(roof_height)s) + %(roof_mast)s
    FROM register.building b
    WHERE b.state = 'active' AND b.ownership = 'municipal'
    UNION ALL
    SELECT 'street_light', 2, l.id, l.geom, coalesce(l.pole_height_m, %(pole_height)s)
    FROM register.street_light l
    WHERE l.state = 'active'
)
SELECT candidate_id, kind, x, y, height_m
FROM (
    SELECT DISTINCT ON (floor(ST_X(geom) / %(spacing)s), floor(ST_Y(geom) / %(spacing)s))
           id AS candidate_id, kind, priority, ST_X(geom) AS x, ST_Y(geom) AS y,
           height_m::float8 AS height_m
    FROM c
    ORDER BY floor(ST_X(geom) / %(spacing)s), floor(ST_Y(geom) / %(spacing)s), priority,
             height_m DESC, id
) one_per_square
ORDER BY priority, candidate_id
