-- The population grid as KPI rows: each inhabited 100 m cell at its centroid, weighted by its
-- inhabitants (denominator of the per-inhabitant KPIs); cells outside the bounding box of the
-- scopes are not read.
SELECT cell_id::text AS id, NULL::text AS name, ST_Centroid(geom) AS geom, synthetic,
       population::double precision AS weight, true AS flagged, false AS flagged_reporting
FROM twin.population_grid
WHERE population > 0 AND geom && {extent}
