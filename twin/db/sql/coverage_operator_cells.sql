-- Populated grid cells whose centroid lies in an operator's coverage polygon of
-- %(technologies)s.
SELECT DISTINCT g.cell_id AS unit_id
FROM register.coverage_area a
JOIN twin.population_grid g ON ST_Intersects(a.geom, g.geom)
WHERE a.state = 'active' AND a.technology = ANY(%(technologies)s::text[])
  AND g.population > 0
  AND ST_Intersects(a.geom, ST_Centroid(g.geom))
