-- The newest entered value of every manual KPI observed on or before %(day)s.
SELECT DISTINCT ON (kpi_id) kpi_id, value, observed_on, source, note, entered_by, entered_at
FROM twin.kpi_manual_values
WHERE observed_on <= %(day)s
ORDER BY kpi_id, observed_on DESC, entered_at DESC, id DESC
