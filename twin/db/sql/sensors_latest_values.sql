-- The fast-changing part of the sensor map's frame: the newest reading of every datastream
-- (twin.latest_observations, kept by the ingest path), packed server-side into one bytea of
-- fixed-width big-endian records that twin.sensors.latest reads with numpy in one call:
-- datastream id (int4), phenomenon time (timestamptz: int8 microseconds since 2000-01-01
-- UTC), value and detection limit (float8, NaN for none) and the quality as a code (int2,
-- the order of twin.sensors.latest.QUALITIES; -1 for a value it does not know). Also the
-- server's now(), which decides what is stale.
SELECT string_agg(
           int4send(l.datastream_id)
           || timestamptz_send(l.phenomenon_time)
           || float8send(coalesce(l.value, 'NaN'::float8))
           || float8send(coalesce(l.detection_limit, 'NaN'::float8))
           || int2send((CASE l.quality WHEN 'ok' THEN 0
                                       WHEN 'below_detection' THEN 1
                                       WHEN 'suspect' THEN 2
                                       ELSE -1 END)::int2),
           ''::bytea) AS records,
       timestamptz_send(now()) AS now
FROM twin.latest_observations l
