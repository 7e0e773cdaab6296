-- A new KPI snapshot; its results follow (kpi_result_insert.sql).
INSERT INTO twin.kpi_snapshots (taken_at, taken_by, reporting_window_hours, note)
VALUES (%(taken_at)s, %(taken_by)s, %(window)s, %(note)s)
RETURNING id
