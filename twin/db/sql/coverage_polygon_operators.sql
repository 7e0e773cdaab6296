-- Operators that handed over real coverage polygons for any of %(technologies)s.
SELECT DISTINCT operator
FROM register.coverage_area
WHERE state = 'active' AND technology = ANY(%(technologies)s::text[])
ORDER BY operator
