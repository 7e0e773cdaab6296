-- The KPI rows' polygons (kpi_rows) split by the scopes they overlap (the area inside each
-- scope, in hectares, measured in EPSG:3794), added up for the city (district_id NULL) and
-- per district. A polygon only touching a scope's edge (no area inside) does not count there.
WITH scopes AS (
    SELECT NULL::integer AS district_id, geom FROM twin.municipality
    UNION ALL
    SELECT id, geom FROM twin.districts
),
parts AS (
    SELECT sc.district_id, r.synthetic, r.flagged, r.flagged_reporting,
           ST_Area(ST_Intersection(sc.geom, r.geom)) / 1e4 AS ha
    FROM kpi_rows r
    JOIN scopes sc ON ST_Intersects(sc.geom, r.geom)
)
SELECT district_id, count(*) AS n_rows, count(*) FILTER (WHERE synthetic) AS synthetic_rows,
       coalesce(sum(ha), 0) AS total,
       coalesce(sum(ha) FILTER (WHERE flagged), 0) AS flagged,
       coalesce(sum(ha) FILTER (WHERE flagged_reporting), 0) AS reporting
FROM parts
WHERE ha > 0
GROUP BY district_id
