-- Populated cells (staged in cov_cells) whose centroid a staged emitter covers: within its
-- range, and within the near field, or omni, or within half a beam width of a sector azimuth
-- (bearings in degrees clockwise from north). The same arithmetic as the geopandas path.
SELECT c.cell_id AS unit_id
FROM cov_cells c
WHERE EXISTS (
    SELECT 1
    FROM cov_emitters e
    CROSS JOIN LATERAL (
        SELECT sqrt((c.x - e.x) * (c.x - e.x) + (c.y - e.y) * (c.y - e.y)) AS d,
               atan2d(c.x - e.x, c.y - e.y) AS bearing
    ) p
    WHERE e.reach && c.pt
      AND p.d <= e.range_m
      AND (e.az IS NULL
           OR p.d <= e.near_m
           OR EXISTS (
               SELECT 1 FROM unnest(e.az) AS a(deg)
               WHERE abs((p.bearing - a.deg) - 360.0 * round((p.bearing - a.deg) / 360.0))
                     <= e.half_beam)))
ORDER BY c.cell_id
