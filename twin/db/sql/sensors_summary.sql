-- One row per sensor and observed property over [since, until): numeric values counted apart
-- from below-detection ones; first/last are the earliest and latest phenomenon times.
SELECT coalesce(s.station_code, d.sensor_id)              AS sensor,
       d.property,
       d.unit,
       count(o.value)                                     AS count,
       avg(o.value)                                       AS mean,
       min(o.value)                                       AS min,
       max(o.value)                                       AS max,
       min(o.phenomenon_time)                             AS first,
       max(o.phenomenon_time)                             AS last,
       count(*) FILTER (WHERE o.quality = 'below_detection') AS below_detection,
       (array_agg(o.value ORDER BY o.phenomenon_time) FILTER (WHERE o.value IS NOT NULL))[1]
                                                          AS first_value,
       (array_agg(o.value ORDER BY o.phenomenon_time DESC) FILTER (WHERE o.value IS NOT NULL))[1]
                                                          AS last_value
FROM twin.observations o
JOIN twin.datastreams d ON d.id = o.datastream_id
LEFT JOIN register.sensor s ON s.id = d.sensor_id
WHERE (%(since)s::timestamptz IS NULL OR o.phenomenon_time >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR o.phenomenon_time < %(until)s::timestamptz)
GROUP BY 1, 2, 3
ORDER BY 1, 2
