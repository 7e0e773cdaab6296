-- An entered value of a manual KPI, with the date it refers to, its source and who entered it.
INSERT INTO twin.kpi_manual_values (kpi_id, value, observed_on, source, note, entered_by)
VALUES (%(kpi_id)s, %(value)s, %(observed_on)s, %(source)s, %(note)s, %(entered_by)s)
RETURNING id, entered_at
