-- The newest threshold exceedances (twin.exceedances) whose period starts at or after
-- %(since)s, newest first, at most %(limit)s: when, which sensor and property, the value
-- (the hourly value, or the daily or 8-hour mean) and the threshold it is above; a sensor
-- without a name is named by its kind.
SELECT e.period_start,
       e.value,
       e.recorded_at,
       t.id                             AS threshold_id,
       t.kind,
       t.averaging,
       t.value                          AS threshold,
       t.unit,
       d.property,
       s.id                             AS sensor_id,
       coalesce(s.station_code, s.id)   AS external_id,
       coalesce(s.name, replace(s.kind, '_', ' ')) AS name,
       s.synthetic
FROM twin.exceedances e
JOIN twin.thresholds t ON t.id = e.threshold_id
JOIN twin.datastreams d ON d.id = e.datastream_id
JOIN register.sensor s ON s.id = d.sensor_id
WHERE e.period_start >= %(since)s::timestamptz
ORDER BY e.period_start DESC, s.id, t.id
LIMIT %(limit)s
