-- Every entered value of one manual KPI, newest first.
SELECT value, observed_on, source, note, entered_by, entered_at
FROM twin.kpi_manual_values
WHERE kpi_id = %(kpi_id)s
ORDER BY observed_on DESC, entered_at DESC, id DESC
