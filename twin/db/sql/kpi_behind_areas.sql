-- The KPI rows' polygons (kpi_rows) that overlap one scope (the city when %(district_id)s is
-- NULL, else that district), weighted by their area inside it (ha); geometry in EPSG:4326.
WITH scope AS (
    SELECT geom FROM twin.municipality WHERE %(district_id)s::integer IS NULL
    UNION ALL
    SELECT geom FROM twin.districts WHERE id = %(district_id)s::integer
),
parts AS (
    SELECT r.id, r.name, r.flagged, r.flagged_reporting, r.synthetic, r.geom,
           ST_Area(ST_Intersection(s.geom, r.geom)) / 1e4 AS weight
    FROM kpi_rows r JOIN scope s ON ST_Intersects(s.geom, r.geom)
)
SELECT id, name, flagged, flagged_reporting, weight, synthetic,
       ST_AsBinary(ST_Transform(geom, 4326)) AS geometry
FROM parts
WHERE weight > 0
ORDER BY flagged, id
