-- The KPI rows (kpi_rows) placed in the scopes. A row is in the city when its point touches
-- the municipality, and in exactly one district: the lowest id among the districts its point
-- touches, so that an asset lying exactly on a border counts once.
SELECT r.*, (c.id IS NOT NULL) AS in_city, h.district_id
FROM kpi_rows r
LEFT JOIN (
    SELECT k.id FROM kpi_rows k JOIN twin.municipality m ON ST_Intersects(m.geom, k.pt)
    GROUP BY k.id
) c ON c.id = r.id
LEFT JOIN (
    SELECT k.id, min(d.id) AS district_id
    FROM kpi_rows k JOIN twin.districts d ON ST_Intersects(d.geom, k.pt)
    GROUP BY k.id
) h ON h.id = r.id
