-- Keep the newest value of each datastream: one row per datastream, the newest reading this
-- batch stored (times in microseconds since the Unix epoch); an older one changes nothing.
-- result_time = now(), the transaction's start, as on the stored observations.
INSERT INTO twin.latest_observations AS l
    (datastream_id, phenomenon_time, value, quality, detection_limit, result_time)
SELECT n.datastream_id, timestamptz 'epoch' + n.us * interval '1 microsecond', n.value,
       n.quality, n.detection_limit, now()
FROM unnest(%(streams)s::integer[], %(times)s::bigint[], %(values)s::double precision[],
            %(qualities)s::text[], %(limits)s::double precision[])
     AS n (datastream_id, us, value, quality, detection_limit)
ON CONFLICT (datastream_id) DO UPDATE SET
    phenomenon_time = EXCLUDED.phenomenon_time, value = EXCLUDED.value,
    quality = EXCLUDED.quality, detection_limit = EXCLUDED.detection_limit,
    result_time = EXCLUDED.result_time
WHERE l.phenomenon_time < EXCLUDED.phenomenon_time
