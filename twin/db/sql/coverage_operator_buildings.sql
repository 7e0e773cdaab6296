-- Inhabited buildings whose centroid lies in an operator's coverage polygon of
-- %(technologies)s.
SELECT DISTINCT b.id AS unit_id
FROM register.coverage_area a
JOIN register.building b ON ST_Intersects(a.geom, b.geom)
WHERE a.state = 'active' AND a.technology = ANY(%(technologies)s::text[])
  AND b.population > 0 AND b.state NOT IN ('planned', 'retired')
  AND ST_Intersects(a.geom, ST_Centroid(b.geom))
