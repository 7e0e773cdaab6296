-- What the sensor map draws, as one plain query (twin.sensors.latest reads the same frame in
-- two parts, faster; the benchmark builds its DISTINCT ON baseline from this one): the newest
-- value of every datastream of a register sensor that is not retired, read from
-- twin.latest_observations (kept by the ingest path; the observations are not read). Per
-- datastream: the sensor (id, name, kind, its external id: the station or device code, else
-- the register id; whether it is synthetic, and the register's source of it), its position in
-- D96/TM (e, n; the app converts to WGS84 for the map, see twin.sensors.latest), property and
-- unit, the reading, whether it is stale (older than three reporting intervals, one hour when
-- the register gives none), and its threshold state: the kind of the highest threshold of the
-- property the value is above ('alert', 'limit', 'information', 'target'), 'ok' under all of
-- them, 'below_detection' without a value, NULL for a property without thresholds. Daily and
-- 8-hour thresholds are compared with the newest value (a hint for the colour);
-- twin.exceedances has the proper means.
WITH ranges AS (
    -- each threshold covers the values above it up to the next higher one of its property;
    -- 'ok' covers everything up to the lowest
    SELECT t.property, t.kind AS state, t.value AS above,
           lead(t.value, 1, 'infinity') OVER (PARTITION BY t.property ORDER BY t.value, t.id)
               AS up_to
    FROM twin.thresholds t
    UNION ALL
    SELECT t.property, 'ok', '-infinity', min(t.value)
    FROM twin.thresholds t
    GROUP BY t.property
)
SELECT l.datastream_id,
       s.id                                              AS sensor_id,
       s.name,
       s.kind,
       coalesce(s.station_code, s.id)                    AS external_id,
       s.synthetic,
       s.source,
       ST_X(s.geom)                                      AS e,
       ST_Y(s.geom)                                      AS n,
       d.property,
       d.unit,
       l.phenomenon_time,
       l.value,
       l.quality,
       l.detection_limit,
       l.phenomenon_time < now() - 3 * make_interval(secs => coalesce(s.reporting_interval_s, 3600))
                                                         AS stale,
       CASE WHEN r.state IS NOT NULL THEN r.state
            WHEN l.value IS NULL AND d.property IN (SELECT property FROM twin.thresholds)
                THEN 'below_detection'
       END                                               AS threshold_state
FROM twin.latest_observations l
JOIN twin.datastreams d ON d.id = l.datastream_id
JOIN register.sensor s ON s.id = d.sensor_id
LEFT JOIN ranges r ON r.property = d.property AND l.value > r.above AND l.value <= r.up_to
WHERE s.state <> 'retired'
