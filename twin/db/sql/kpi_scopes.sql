-- The scopes every spatial KPI is computed for: the municipality ('city') and each district
-- (mestne četrti, then krajevne skupnosti, each by name), with the area of the stored polygon
-- measured in EPSG:3794.
SELECT scope, scope_kind, district_id, approximate, area_km2
FROM (
    SELECT 'city' AS scope, 'city' AS scope_kind, NULL::integer AS district_id,
           false AS approximate, ST_Area(ST_Union(geom)) / 1e6 AS area_km2, 0 AS rank
    FROM twin.municipality
    UNION ALL
    SELECT name, kind, id, approximate, ST_Area(geom) / 1e6,
           CASE kind WHEN 'MC' THEN 1 ELSE 2 END
    FROM twin.districts
) s
ORDER BY rank, scope
