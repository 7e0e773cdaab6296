-- The placed KPI rows (kpi_place.sql) of one scope: the city when %(district_id)s is NULL,
-- else that district; geometry in EPSG:4326 for display, not-flagged rows first.
WITH placed AS ({placed})
SELECT id, name, flagged, flagged_reporting, weight, synthetic,
       ST_AsBinary(ST_Transform(geom, 4326)) AS geometry
FROM placed
WHERE (%(district_id)s::integer IS NULL AND in_city) OR district_id = %(district_id)s::integer
ORDER BY flagged, id
