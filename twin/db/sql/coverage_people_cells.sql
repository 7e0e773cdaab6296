-- People of the population grid, one row per populated 100 m cell, located at the cell
-- centroid (EPSG:3794): the district holding the centroid and whether the municipality does
-- (joined polygon by polygon, so that PostGIS prepares each polygon once).
WITH g AS MATERIALIZED (
    SELECT g.cell_id, g.population, g.synthetic, g.geom, ST_Centroid(g.geom) AS pt
    FROM twin.population_grid g
    WHERE g.population > 0
), within_district AS (
    SELECT g.cell_id, min(d.id) AS district_id
    FROM twin.districts d
    JOIN g ON d.geom && g.geom AND ST_Intersects(d.geom, g.pt)
    GROUP BY g.cell_id
), within_city AS (
    SELECT DISTINCT g.cell_id
    FROM twin.municipality m
    JOIN g ON m.geom && g.geom AND ST_Intersects(m.geom, g.pt)
)
SELECT g.cell_id                           AS unit_id,
       g.population::bigint                AS population,
       g.synthetic,
       ST_X(g.pt)                          AS x,
       ST_Y(g.pt)                          AS y,
       wd.district_id,
       wc.cell_id IS NOT NULL              AS in_city
FROM g
LEFT JOIN within_district wd ON wd.cell_id = g.cell_id
LEFT JOIN within_city wc ON wc.cell_id = g.cell_id
ORDER BY g.cell_id
