-- Threshold exceedances of the readings this transaction stored (result_time = now()):
-- hourly thresholds per value, 8-hour thresholds on the running 8-hour mean ending at the
-- reading, daily thresholds on the mean of the calendar day (Europe/Ljubljana). Returns how
-- many exceedances were recorded or updated.
WITH new AS (
    SELECT o.datastream_id, o.phenomenon_time, o.value, d.property
    FROM _stage_observations s
    JOIN twin.observations o
      ON o.datastream_id = s.datastream_id AND o.phenomenon_time = s.phenomenon_time
    JOIN twin.datastreams d ON d.id = o.datastream_id
    WHERE o.result_time = now() AND o.value IS NOT NULL
), hourly AS (
    SELECT n.datastream_id, t.id AS threshold_id, n.phenomenon_time AS period_start, n.value
    FROM new n JOIN twin.thresholds t ON t.property = n.property AND t.averaging = '1h'
    WHERE n.value > t.value
), eight AS (
    SELECT n.datastream_id, t.id AS threshold_id, n.phenomenon_time AS period_start, m.mean AS value
    FROM new n
    JOIN twin.thresholds t ON t.property = n.property AND t.averaging = '8h'
    CROSS JOIN LATERAL (
        SELECT avg(o.value) AS mean FROM twin.observations o
        WHERE o.datastream_id = n.datastream_id
          AND o.phenomenon_time > n.phenomenon_time - interval '8 hours'
          AND o.phenomenon_time <= n.phenomenon_time
    ) m
    WHERE m.mean > t.value
), days AS (
    SELECT DISTINCT n.datastream_id, t.id AS threshold_id, t.value AS limit_value,
           date_trunc('day', n.phenomenon_time AT TIME ZONE 'Europe/Ljubljana')
               AT TIME ZONE 'Europe/Ljubljana' AS day
    FROM new n JOIN twin.thresholds t ON t.property = n.property AND t.averaging = '24h'
), daily AS (
    SELECT d.datastream_id, d.threshold_id, d.day AS period_start, m.mean AS value
    FROM days d
    CROSS JOIN LATERAL (
        SELECT avg(o.value) AS mean FROM twin.observations o
        WHERE o.datastream_id = d.datastream_id
          AND o.phenomenon_time >= d.day AND o.phenomenon_time < d.day + interval '1 day'
    ) m
    WHERE m.mean > d.limit_value
), cleared AS (
    -- a day whose mean fell back under the limit is no longer an exceedance
    DELETE FROM twin.exceedances e USING days d
    WHERE e.datastream_id = d.datastream_id AND e.threshold_id = d.threshold_id
      AND e.period_start = d.day
      AND NOT EXISTS (SELECT 1 FROM daily x WHERE x.datastream_id = d.datastream_id
                      AND x.threshold_id = d.threshold_id AND x.period_start = d.day)
), recorded AS (
    INSERT INTO twin.exceedances AS e (datastream_id, threshold_id, period_start, value)
    SELECT * FROM hourly UNION ALL SELECT * FROM eight UNION ALL SELECT * FROM daily
    ON CONFLICT (datastream_id, threshold_id, period_start)
    DO UPDATE SET value = EXCLUDED.value, recorded_at = now()
    RETURNING 1
)
SELECT count(*) FROM recorded
