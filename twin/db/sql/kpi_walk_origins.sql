-- Template: the inhabited buildings within the straight-line distance of a stop (the
-- candidates, flagged in kpi_rows), placed in the scopes, each on its nearest walking-graph
-- edge: the edge, the fraction along it and the straight access leg from the building to it.
WITH placed AS ({placed})
SELECT p.id, p.weight, p.in_city, p.district_id, e.id AS edge,
       ST_LineLocatePoint(e.geom, p.pt) AS frac, ST_Distance(e.geom, p.pt) AS leg
FROM placed p
CROSS JOIN LATERAL (SELECT id, geom FROM kpi_walk_edges ORDER BY geom <-> p.pt LIMIT 1) e
WHERE p.flagged
