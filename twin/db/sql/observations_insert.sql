-- Store the staged readings once (a replay inserts nothing) and keep the newest value of each
-- datastream. Rows inserted now have result_time = now() (the transaction's start). Returns (stored, staged).
WITH inserted AS (
    INSERT INTO twin.observations
        (datastream_id, phenomenon_time, phenomenon_end, value, quality, detection_limit, source)
    SELECT datastream_id, phenomenon_time, phenomenon_end, value, quality, detection_limit,
           %(source)s
    FROM _stage_observations
    WHERE datastream_id IS NOT NULL
    ON CONFLICT (datastream_id, phenomenon_time) DO NOTHING
    RETURNING datastream_id, phenomenon_time, value, quality, detection_limit, result_time
), newest AS (
    SELECT DISTINCT ON (datastream_id) *
    FROM inserted
    ORDER BY datastream_id, phenomenon_time DESC
), latest AS (
    INSERT INTO twin.latest_observations AS l
        (datastream_id, phenomenon_time, value, quality, detection_limit, result_time)
    SELECT datastream_id, phenomenon_time, value, quality, detection_limit, result_time
    FROM newest
    ON CONFLICT (datastream_id) DO UPDATE SET
        phenomenon_time = EXCLUDED.phenomenon_time, value = EXCLUDED.value,
        quality = EXCLUDED.quality, detection_limit = EXCLUDED.detection_limit,
        result_time = EXCLUDED.result_time
    WHERE l.phenomenon_time < EXCLUDED.phenomenon_time
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM _stage_observations
                                        WHERE datastream_id IS NOT NULL)
