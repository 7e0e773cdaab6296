-- Every (staged emitter, staged cell) pair where the emitter covers the cell (as in
-- coverage_cells_covered), for cells among %(cells)s only (all when NULL). Each cell looks up
-- the emitters whose reach holds it through their GiST index.
WITH c AS MATERIALIZED (
    SELECT * FROM cov_cells
    WHERE %(cells)s::bigint[] IS NULL OR cell_id IN (SELECT unnest(%(cells)s::bigint[]))
)
SELECT e.emitter, c.cell_id AS unit_id
FROM c
JOIN cov_emitters e ON e.reach && c.pt
CROSS JOIN LATERAL (
    SELECT sqrt((c.x - e.x) * (c.x - e.x) + (c.y - e.y) * (c.y - e.y)) AS d,
           atan2d(c.x - e.x, c.y - e.y) AS bearing
) p
WHERE p.d <= e.range_m
  AND (e.az IS NULL
       OR p.d <= e.near_m
       OR EXISTS (
           SELECT 1 FROM unnest(e.az) AS a(deg)
           WHERE abs((p.bearing - a.deg) - 360.0 * round((p.bearing - a.deg) / 360.0))
                 <= e.half_beam))
ORDER BY e.emitter, c.cell_id
