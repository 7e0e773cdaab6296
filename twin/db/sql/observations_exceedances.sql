-- Threshold exceedances of the readings a batch stored (times in microseconds since the Unix
-- epoch): hourly thresholds per value (the exceeding readings, found by the caller), 8-hour
-- thresholds on the running 8-hour mean ending at each reading, daily thresholds on the mean
-- of the calendar day (Europe/Ljubljana) of each (datastream, local date) the batch touched.
-- Returns how many exceedances were recorded or updated.
WITH hourly AS (
    SELECT h.datastream_id, h.threshold_id,
           timestamptz 'epoch' + h.us * interval '1 microsecond' AS period_start, h.value
    FROM unnest(%(h_streams)s::integer[], %(h_thresholds)s::text[], %(h_times)s::bigint[],
                %(h_values)s::double precision[]) AS h (datastream_id, threshold_id, us, value)
), new8 AS (
    SELECT e.datastream_id, e.threshold_id, e.limit_value,
           timestamptz 'epoch' + e.us * interval '1 microsecond' AS phenomenon_time
    FROM unnest(%(e_streams)s::integer[], %(e_thresholds)s::text[], %(e_times)s::bigint[],
                %(e_limits)s::double precision[]) AS e (datastream_id, threshold_id, us, limit_value)
), eight AS (
    SELECT n.datastream_id, n.threshold_id, n.phenomenon_time AS period_start, m.mean AS value
    FROM new8 n
    CROSS JOIN LATERAL (
        SELECT avg(o.value) AS mean FROM twin.observations o
        WHERE o.datastream_id = n.datastream_id
          AND o.phenomenon_time > n.phenomenon_time - interval '8 hours'
          AND o.phenomenon_time <= n.phenomenon_time
    ) m
    WHERE m.mean > n.limit_value
), days AS (
    SELECT DISTINCT d.datastream_id, d.threshold_id, d.limit_value,
           d.day::timestamp AT TIME ZONE 'Europe/Ljubljana' AS day
    FROM unnest(%(d_streams)s::integer[], %(d_thresholds)s::text[],
                %(d_limits)s::double precision[], %(d_days)s::date[])
         AS d (datastream_id, threshold_id, limit_value, day)
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
