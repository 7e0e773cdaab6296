-- GET /sensors/latest: the newest value of every datastream of a register sensor that is not
-- retired (optionally of one property), as one compact JSON array for the map: the sensor's
-- WGS84 position (5 decimals ≈ 1 m), the reading, whether it is stale (older than three
-- reporting intervals, one hour when the register gives none) and its threshold state as the
-- app's sensor map has it: the kind of the highest threshold of the property the value is
-- above ('alert', 'limit', 'information', 'target'), 'ok' under all, 'below_detection'
-- without a value, null for a property without thresholds. Daily and 8-hour thresholds are
-- compared with the newest value (a hint for the colour); twin.exceedances has the means.
SELECT coalesce(json_agg(json_build_object(
    'sensor', s.id, 'code', s.station_code, 'name', s.name, 'kind', s.kind,
    'synthetic', s.synthetic,
    'lon', round(ST_X(w)::numeric, 5), 'lat', round(ST_Y(w)::numeric, 5),
    'datastream', l.datastream_id, 'property', d.property, 'unit', d.unit,
    'time', l.phenomenon_time, 'value', l.value, 'quality', l.quality,
    'detection_limit', l.detection_limit,
    'stale', l.phenomenon_time
             < now() - 3 * make_interval(secs => coalesce(s.reporting_interval_s, 3600)),
    'threshold_state',
        CASE WHEN NOT EXISTS (SELECT 1 FROM twin.thresholds t WHERE t.property = d.property)
                 THEN NULL
             WHEN l.value IS NULL THEN 'below_detection'
             ELSE coalesce(x.kind, 'ok') END,
    'threshold_id', x.id, 'threshold_value', x.value)
    ORDER BY l.datastream_id), '[]')::text
FROM twin.latest_observations l
JOIN twin.datastreams d ON d.id = l.datastream_id
JOIN register.sensor s ON s.id = d.sensor_id
CROSS JOIN LATERAL ST_Transform(s.geom, 4326) AS w
LEFT JOIN LATERAL (
    SELECT t.kind, t.id, t.value
    FROM twin.thresholds t
    WHERE t.property = d.property AND l.value > t.value
    ORDER BY t.value DESC
    LIMIT 1
) x ON true
WHERE s.state <> 'retired' AND (%(property)s::text IS NULL OR d.property = %(property)s)
