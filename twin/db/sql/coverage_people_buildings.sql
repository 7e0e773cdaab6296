-- People of the register's buildings, one row per inhabited building, located at the
-- footprint's centroid (EPSG:3794), with its fixed connection; retired and planned buildings
-- have nobody living in them. District and municipality are joined polygon by polygon, so
-- that PostGIS prepares each polygon once.
WITH b AS MATERIALIZED (
    SELECT b.id, b.population, b.synthetic, coalesce(b.fiber, 'none') AS fiber, b.geom,
           ST_Centroid(b.geom) AS pt
    FROM register.building b
    WHERE b.population > 0 AND b.state NOT IN ('planned', 'retired')
), within_district AS (
    SELECT b.id, min(d.id) AS district_id
    FROM twin.districts d
    JOIN b ON d.geom && b.geom AND ST_Intersects(d.geom, b.pt)
    GROUP BY b.id
), within_city AS (
    SELECT DISTINCT b.id
    FROM twin.municipality m
    JOIN b ON m.geom && b.geom AND ST_Intersects(m.geom, b.pt)
)
SELECT b.id                                AS unit_id,
       b.population::bigint                AS population,
       b.synthetic,
       ST_X(b.pt)                          AS x,
       ST_Y(b.pt)                          AS y,
       wd.district_id,
       wc.id IS NOT NULL                   AS in_city,
       b.fiber
FROM b
LEFT JOIN within_district wd ON wd.id = b.id
LEFT JOIN within_city wc ON wc.id = b.id
ORDER BY b.id
