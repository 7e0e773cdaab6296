-- The readings of one sensor's datastreams in [since, until), for the sensor panel's charts.
-- One row per datastream and time bucket of %(bucket)s counted from %(since)s: the mean, min
-- and max of the numeric values, how many there are, how many readings were below the
-- detection limit and the highest such limit. A bucket holding one reading keeps that
-- reading's own time; a bucket of several is placed at its middle. The buckets are as wide
-- as the caller needs to keep a long range to a few hundred points per datastream.
SELECT d.property,
       d.unit,
       CASE WHEN count(*) = 1 THEN min(o.phenomenon_time)
            ELSE date_bin(%(bucket)s::interval, min(o.phenomenon_time), %(since)s::timestamptz)
                 + %(bucket)s::interval / 2
       END                                                   AS phenomenon_time,
       avg(o.value)                                          AS value,
       min(o.value)                                          AS min,
       max(o.value)                                          AS max,
       count(o.value)                                        AS count,
       count(*) FILTER (WHERE o.quality = 'below_detection') AS below_detection,
       max(o.detection_limit)                                AS detection_limit
FROM twin.datastreams d
JOIN twin.observations o ON o.datastream_id = d.id
WHERE d.sensor_id = %(sensor)s
  AND o.phenomenon_time >= %(since)s::timestamptz
  AND o.phenomenon_time < %(until)s::timestamptz
GROUP BY d.property, d.unit,
         date_bin(%(bucket)s::interval, o.phenomenon_time, %(since)s::timestamptz)
ORDER BY d.property, 3
