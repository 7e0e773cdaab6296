-- Inhabitants as KPI rows: every active inhabited building at its point on surface (where
-- the walk starts), weighted by its population; flagged when a bus stop lies within
-- %(distance)s m in a straight line (the straight-line figure, and the candidates for the
-- walking one: a walk is never shorter than the straight line). Buildings outside the
-- bounding box of the scopes are not read.
SELECT b.id, b.name, p.pt AS geom, b.synthetic, b.population::double precision AS weight,
       EXISTS (SELECT 1 FROM twin.bus_stops s WHERE ST_DWithin(s.geom, p.pt, %(distance)s))
           AS flagged,
       false AS flagged_reporting
FROM register.building b
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(b.geom) AS pt OFFSET 0) p  -- computed once
WHERE b.state = 'active' AND b.population > 0 AND b.geom && {extent}
