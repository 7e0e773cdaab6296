-- SensorThings Observations of one datastream in phenomenon-time order (the API fills in ASC
-- or DESC from a fixed list). A value below the detection limit has result null,
-- resultQuality below_detection and the limit in parameters.detectionLimit.
SELECT json_strip_nulls(json_build_object(
    'phenomenonTime', CASE WHEN o.phenomenon_end IS NULL THEN to_json(o.phenomenon_time)
                      ELSE to_json((to_json(o.phenomenon_time) #>> '{{}}') || '/'
                                   || (to_json(o.phenomenon_end) #>> '{{}}')) END,
    'result', o.value,
    'resultQuality', o.quality,
    'resultTime', o.result_time,
    'parameters', CASE WHEN o.detection_limit IS NOT NULL
                  THEN json_build_object('detectionLimit', o.detection_limit) END))
FROM twin.observations o
WHERE o.datastream_id = %(id)s
ORDER BY o.phenomenon_time {order}
LIMIT %(top)s OFFSET %(skip)s
