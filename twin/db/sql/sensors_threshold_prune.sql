-- Thresholds removed from thresholds.toml go (with their recorded exceedances).
WITH gone AS (DELETE FROM twin.exceedances WHERE threshold_id <> ALL(%(ids)s))
DELETE FROM twin.thresholds WHERE id <> ALL(%(ids)s)
