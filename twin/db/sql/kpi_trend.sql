-- The values of KPIs over the snapshots, oldest first (for trends): every KPI and scope, or
-- only %(kpi_id)s / %(scope)s when given.
SELECT s.id AS snapshot_id, s.taken_at, r.kpi_id, r.scope, r.value, r.numerator, r.denominator
FROM twin.kpi_results r
JOIN twin.kpi_snapshots s ON s.id = r.snapshot_id
WHERE (%(kpi_id)s::text IS NULL OR r.kpi_id = %(kpi_id)s)
  AND (%(scope)s::text IS NULL OR r.scope = %(scope)s)
ORDER BY s.taken_at, s.id, r.kpi_id, r.scope
